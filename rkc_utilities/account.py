# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta


class Move(metaclass=PoolMeta):
    __name__ = 'account.move'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'rkc.billing.run', 'rkc.penalty.run', 'rkc.recalculation',
            'rkc.payment', 'rkc.payment.registry.import', 'rkc.agreement',
            'rkc.cash_desk.shift', 'rkc.payment.agent.day']
