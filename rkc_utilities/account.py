# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import Pool, PoolMeta


class Move(metaclass=PoolMeta):
    __name__ = 'account.move'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'rkc.billing.run', 'rkc.penalty.run', 'rkc.recalculation',
            'rkc.payment', 'rkc.payment.registry.import', 'rkc.agreement',
            'rkc.cash_desk.shift', 'rkc.payment.agent.day']

    @classmethod
    def get_origin(cls):
        return Pool().get('ir.model').reference_selection(cls._get_origin())


class MoveLine(metaclass=PoolMeta):
    __name__ = 'account.move.line'

    @classmethod
    def get_origin(cls):
        return Pool().get('ir.model').reference_selection(cls._get_origin())
