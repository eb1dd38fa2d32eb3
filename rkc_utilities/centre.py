# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Billing and customer-service centres (РКЦ) and their cash desks."
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.transaction import Transaction


class Centre(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'rkc.centre'

    name = fields.Char("Name", required=True, translate=True,
        help="The centre's name as consumers know it.")
    code = fields.Integer(
        "Code", required=True,
        domain=[('code', '>=', 1), ('code', '<=', 99)],
        help="Two-digit code that starts the numbers of the centre's "
        "personal accounts.")
    company = fields.Many2One(
        'company.company', "Company", required=True,
        help="The company the centre bills for.")
    address = fields.Char("Address", help="Where visitors come.")
    phone = fields.Char("Phone", help="The centre's public phone number.")
    opening_hours = fields.Char(
        "Opening Hours", help="E.g. Mon–Fri 8:00–19:00, Sat 9:00–15:00.")
    capacity = fields.Integer(
        "Monthly Capacity",
        help="Visitors per month the centre is designed to serve.")
    cash_desks = fields.One2Many(
        'rkc.cash_desk', 'centre', "Cash Desks",
        help="The windows where payments are taken.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'rkc_utilities.msg_centre_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_capacity():
        return 50000

    def next_account_number(self):
        """The next free account number of the centre; call with the centre
        locked so that concurrent openings get different numbers."""
        pool = Pool()
        Account = pool.get('rkc.account')
        from rkc.engine.account_number import account_number
        account = Account.__table__()
        cursor = Transaction().connection.cursor()
        prefix = f'{self.code:02d}'
        cursor.execute(*account.select(
                account.number,
                where=account.number.like(prefix + '%'),
                order_by=[account.number.desc],
                limit=1))
        row = cursor.fetchone()
        sequence = int(row[0][2:9]) + 1 if row else 1
        return account_number(self.code, sequence)


class CashDesk(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'rkc.cash_desk'

    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, ondelete='CASCADE',
        help="The centre the desk belongs to.")
    name = fields.Char("Name", required=True,
        help="The window's name or number as shown to visitors.")
    cash_account = fields.Many2One(
        'account.account', "Cash Account", ondelete='RESTRICT',
        help="Where the desk's cash is (50); needed to post its shifts.")
    card_account = fields.Many2One(
        'account.account', "Card Settlements Account", ondelete='RESTRICT',
        help="Where card payments are until the acquiring bank transfers "
        "them (57).")

    @staticmethod
    def default_cash_account():
        return _account_by_code('50')

    @staticmethod
    def default_card_account():
        return _account_by_code('57')


def _account_by_code(code):
    Account = Pool().get('account.account')
    accounts = Account.search([('code', '=', code)], limit=1)
    return accounts[0].id if accounts else None
