# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Cash-desk shifts at a centre: a cashier opens a shift, takes cash and
card payments within it (allocated by rules.md §3), closes it with the
totals by channel and a printed report, and an accountant posts it as one
summarized general-ledger move per centre."""
import datetime as dt
from decimal import Decimal

from sql.aggregate import Count, Sum
from sql.operators import Equal

from trytond.i18n import gettext
from trytond.model import (
    Exclude, ModelSQL, ModelView, Workflow, fields)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.report import Report
from trytond.transaction import Transaction
from trytond.wizard import (
    Button, StateReport, StateTransition, StateView, Wizard)

from rkc.documents import cash_desk as documents
from rkc.engine.payment_lines import ADVANCE, METHODS, PENALTY

from .exceptions import CashDeskError
from .payment import DESK_CHANNELS, account_debts

ZERO = Decimal('0.00')


class Shift(Workflow, ModelSQL, ModelView):
    "Cash-desk shift"
    __name__ = 'rkc.cash_desk.shift'

    desk = fields.Many2One(
        'rkc.cash_desk', "Cash Desk", required=True, ondelete='RESTRICT',
        domain=[('active', '=', True)],
        states={'readonly': Eval('id', -1) >= 0},
        help="The window the cashier works at.")
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, readonly=True,
        ondelete='RESTRICT', help="The centre of the desk.")
    cashier = fields.Many2One(
        'res.user', "Cashier", required=True, readonly=True,
        ondelete='RESTRICT', help="Who opened the shift and takes its "
        "payments.")
    opened_at = fields.DateTime("Opened At", required=True, readonly=True)
    closed_at = fields.DateTime("Closed At", readonly=True)
    opening_cash = fields.Numeric(
        "Opening Cash", digits=(16, 2), required=True,
        domain=[('opening_cash', '>=', 0)],
        states={'readonly': Eval('id', -1) >= 0},
        help="The cash in the drawer when the shift opened.")
    cash_total = fields.Numeric(
        "Cash Taken", digits=(16, 2), readonly=True,
        help="Set when the shift closes.")
    card_total = fields.Numeric(
        "Card Payments", digits=(16, 2), readonly=True,
        help="Set when the shift closes.")
    payment_count = fields.Integer("Payments", readonly=True)
    closing_cash = fields.Numeric(
        "Closing Cash", digits=(16, 2), readonly=True,
        help="The cash that must be in the drawer at closing.")
    payments = fields.One2Many(
        'rkc.payment', 'shift', "Payments", readonly=True)
    postings = fields.One2Many(
        'rkc.ledger.posting', 'origin', "General Ledger", readonly=True)
    state = fields.Selection([
            ('open', "Open"),
            ('closed', "Closed"),
            ('posted', "Posted"),
            ], "State", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('desk_open', Exclude(t, (t.desk, Equal),
                    where=t.state == 'open'),
                'rkc_utilities.msg_cash_desk_shift_desk_open'),
            ('cashier_open', Exclude(t, (t.cashier, Equal),
                    where=t.state == 'open'),
                'rkc_utilities.msg_cash_desk_shift_cashier_open'),
            ]
        cls._order = [('opened_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('open', 'closed'), ('closed', 'posted')}
        cls._buttons.update({
                'close': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'post': {
                    'invisible': Eval('state') != 'closed',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'open'

    @staticmethod
    def default_cashier():
        return Transaction().user

    @staticmethod
    def default_opened_at():
        return dt.datetime.now()

    @staticmethod
    def default_opening_cash():
        return ZERO

    def get_rec_name(self, name):
        return (f'{self.desk.rec_name} {self.cashier.rec_name} '
            f'{self.opened_at:%d.%m.%Y %H:%M}')

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Desk = pool.get('rkc.cash_desk')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('desk'):
            values['centre'] = Desk(values['desk']).centre.id
        return values

    @classmethod
    def check_modification(cls, mode, shifts, values=None, external=False):
        super().check_modification(
            mode, shifts, values=values, external=external)
        if mode == 'delete' and any(s.state != 'open' or s.payments
                for s in shifts):
            raise CashDeskError(gettext(
                    'rkc_utilities.msg_cash_desk_shift_delete'))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, shifts):
        "Total the shift's payments by channel; no payment may follow."
        pool = Pool()
        Payment = pool.get('rkc.payment')
        payment = Payment.__table__()
        cursor = Transaction().connection.cursor()
        # The money is in the drawer: what was taken is credited.
        Payment.post([p for s in shifts for p in s.payments
                if p.state == 'received'])
        for shift in shifts:
            totals = dict.fromkeys(DESK_CHANNELS, ZERO)
            count = 0
            cursor.execute(*payment.select(
                    payment.channel, Sum(payment.amount), Count(payment.id),
                    where=(payment.shift == shift.id)
                    & (payment.state == 'posted'),
                    group_by=[payment.channel]))
            for channel, amount, number in cursor:
                totals[channel] = Decimal(str(amount)).quantize(ZERO)
                count += number
            shift.cash_total = totals['cash']
            shift.card_total = totals['card']
            shift.payment_count = count
            shift.closing_cash = shift.opening_cash + totals['cash']
            shift.closed_at = dt.datetime.now()
        cls.save(shifts)

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, shifts):
        """One general-ledger move per centre for the shift: cash (50) and
        card settlements (57) against settlements with consumers."""
        pool = Pool()
        Payment = pool.get('rkc.payment')
        Posting = pool.get('rkc.ledger.posting')
        for shift in shifts:
            desk = shift.desk
            if not desk.cash_account or not desk.card_account:
                raise CashDeskError(gettext(
                        'rkc_utilities.msg_cash_desk_no_account',
                        desk=desk.rec_name))
            parts = [
                (Payment.ledger_origins(
                        lambda t, c=channel, s=shift.id: (t.shift == s)
                        & (t.channel == c)), account)
                for channel, account in (
                    ('cash', desk.cash_account),
                    ('card', desk.card_account))]
            Posting.summarize(str(shift), shift.closed_at.date(),
                gettext('rkc_utilities.msg_cash_desk_shift_move',
                    shift=shift.rec_name),
                parts=parts)

    def report(self):
        "The shift report's figures (rkc.documents.cash_desk)."
        return documents.ShiftReport(
            self.centre.name, self.desk.name, self.cashier.rec_name,
            self.opened_at, self.closed_at, self.opening_cash,
            self.cash_total, self.card_total,
            tuple(documents.ShiftPayment(
                    p.id, p.accepted_at, p.account.number, p.channel,
                    p.amount)
                for p in sorted(self.payments,
                    key=lambda p: (p.accepted_at, p.id))
                if p.state == 'posted'))


class ShiftReport(Report):
    "The printed report of a closed shift."
    __name__ = 'rkc.cash_desk.shift.report'

    @classmethod
    def _execute(cls, records, header, data, action):
        shift = records[0]
        if shift.state == 'open':
            raise CashDeskError(gettext(
                    'rkc_utilities.msg_cash_desk_shift_still_open',
                    shift=shift.rec_name))
        return 'pdf', documents.shift_report(shift.report())


class SlipReport(Report):
    "The slip handed to the payer of a desk payment."
    __name__ = 'rkc.cash_desk.slip'

    @classmethod
    def _execute(cls, records, header, data, action):
        payment = records[0]
        if payment.channel not in DESK_CHANNELS \
                or payment.state != 'posted':
            raise CashDeskError(gettext(
                    'rkc_utilities.msg_cash_desk_not_slip',
                    payment=payment.rec_name))
        return 'pdf', documents.payment_slip(slip(payment))


def slip(payment):
    "The slip's figures of a posted desk payment."
    lines = sorted(payment.ledger_lines,
        key=lambda line: (line.period, line.part, line.service.name))
    shift = payment.shift
    return documents.Slip(
        shift.centre.name, shift.desk.name, shift.cashier.rec_name,
        payment.id, payment.accepted_at, payment.account.number,
        payment.account.payer.rec_name,
        payment.account.premise.rec_name, payment.channel, payment.amount,
        tuple(documents.SlipLine(
                line.period, line.service.name, -line.amount,
                penalty=line.method == METHODS[PENALTY],
                advance=line.method == METHODS[ADVANCE])
            for line in lines),
        payment.account.balance)


class TakePaymentStart(ModelView):
    "Find the account"
    __name__ = 'rkc.cash_desk.take_payment.start'

    account = fields.Many2One(
        'rkc.account', "Account", required=True,
        domain=[('state', '=', 'open')],
        help="Type the number, the address or the surname.")


class TakePaymentDue(ModelView):
    "What is due, and the payment"
    __name__ = 'rkc.cash_desk.take_payment.due'

    account = fields.Many2One('rkc.account', "Account", readonly=True)
    shift = fields.Many2One(
        'rkc.cash_desk.shift', "Shift", readonly=True)
    dues = fields.One2Many(
        'rkc.cash_desk.take_payment.due.line', None, "Due", readonly=True)
    total_due = fields.Numeric("Total Due", digits=(16, 2), readonly=True)
    balance = fields.Numeric("Balance", digits=(16, 2), readonly=True,
        help="Debt (positive) or advance (negative) in the subledger.")
    channel = fields.Selection([
            ('cash', "Cash"),
            ('card', "Card"),
            ], "Channel", required=True)
    amount = fields.Numeric(
        "Amount", digits=(16, 2), required=True,
        domain=[('amount', '>', 0)])
    period = fields.Date("Named Period",
        help="The month the payer pays for; empty: the oldest debt first.")
    payment = fields.Many2One('rkc.payment', "Payment", readonly=True)


class TakePaymentDueLine(ModelView):
    "A period's debt by service"
    __name__ = 'rkc.cash_desk.take_payment.due.line'

    period = fields.Date("Period", readonly=True)
    due_date = fields.Date("Due Date", readonly=True)
    service = fields.Char("Service", readonly=True)
    principal = fields.Numeric("Principal", digits=(16, 2), readonly=True)
    penalty = fields.Numeric("Penalty", digits=(16, 2), readonly=True)


class TakePayment(Wizard):
    """The desk operator's flow: find the account, see what is due by
    period and service, take cash or card, print the slip."""
    __name__ = 'rkc.cash_desk.take_payment'

    start = StateView('rkc.cash_desk.take_payment.start',
        'rkc_utilities.cash_desk_take_payment_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Next", 'due', 'tryton-forward', default=True),
            ])
    due = StateView('rkc.cash_desk.take_payment.due',
        'rkc_utilities.cash_desk_take_payment_due_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Take and Print", 'take', 'tryton-ok', default=True),
            ])
    take = StateTransition()
    print_ = StateReport('rkc.cash_desk.slip')

    def default_start(self, fields):
        if self.model and self.model.__name__ == 'rkc.account' \
                and self.record:
            return {'account': self.record.id}
        return {}

    def default_due(self, fields):
        pool = Pool()
        Payment = pool.get('rkc.payment')
        Service = pool.get('rkc.service')
        account = self.start.account
        shift = Payment._desk_shift(None)
        rows = []
        for debt in account_debts(account.id):
            for service, amount in sorted(debt.principal.items()):
                rows.append({
                        'period': debt.period, 'due_date': debt.due_date,
                        'service': Service(service).name,
                        'principal': amount, 'penalty': ZERO})
            if debt.penalty:
                rows.append({
                        'period': debt.period, 'due_date': debt.due_date,
                        'penalty': debt.penalty, 'principal': ZERO})
        total = sum((r['principal'] + r['penalty'] for r in rows), ZERO)
        return {
            'account': account.id, 'shift': shift, 'dues': rows,
            'total_due': total, 'balance': account.balance,
            'channel': 'cash', 'amount': total or None,
            }

    def transition_take(self):
        pool = Pool()
        Payment = pool.get('rkc.payment')
        payment, = Payment.create([{
                    'account': self.due.account.id,
                    'amount': self.due.amount,
                    'period': self.due.period,
                    'channel': self.due.channel,
                    'accepted_at': dt.datetime.now(),
                    'payer_name': self.due.account.payer.rec_name,
                    }])
        Payment.post([payment])
        self.due.payment = payment
        return 'print_'

    def do_print_(self, action):
        payment = self.due.payment.id
        return action, {'id': payment, 'ids': [payment],
            'model': 'rkc.payment'}

    def transition_print_(self):
        return 'end'

