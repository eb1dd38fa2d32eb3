# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Company-wide settings of the utility billing."
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'rkc.configuration'

    settlement_account = fields.Many2One(
        'account.account', "Settlements with Consumers",
        help="The control account the subledger is summarized into (62).")
    billing_journal = fields.Many2One(
        'account.journal', "Billing Journal",
        help="The journal of the billing runs' summary moves.")
