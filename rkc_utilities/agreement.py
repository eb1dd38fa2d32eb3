# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Debt restructuring agreements (rules.md §5): a snapshot of the debt by
period with its penalties, a down payment and a schedule of instalments.
While the agreement is honoured its debt accrues no penalty and the
account is not selected for legal action; on default the agreement
terminates and the frozen penalties return with the next penalty run; on
completion the penalties are written off, approved by a second person."""
import json
from decimal import Decimal

from sql.aggregate import Sum

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from rkc.engine import restructuring
from rkc.engine.errors import CalculationError

from .common import today
from .exceptions import AgreementError
from .flat_report import FlatReport
from .penalty import (
    ZERO, _money, account_penalties, penalty_service, posted_penalties)

STATES = [
    ('draft', "Draft"),
    ('active', "Active"),
    ('completed', "Completed"),
    ('defaulted', "Defaulted"),
    ]
# Agreements whose debt accrues no penalty and is not taken to court.
HONOURED = ('active', 'completed')


class Agreement(Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.agreement'

    _draft = {'readonly': Eval('state') != 'draft'}
    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='RESTRICT',
        states=_draft)
    date = fields.Date("Date", required=True, states=_draft,
        help="The day the agreement is signed; the debt is taken as of "
        "that day.")
    months = fields.Integer("Instalments", required=True, states=_draft,
        domain=[('months', '>', 0)],
        help="The number of monthly instalments (usually 6 to 24).")
    down_payment_share = fields.Numeric(
        "Down Payment Share", digits=(4, 2), required=True, states=_draft,
        help="The part of the debt paid first, e.g. 0.20 for 20 %.")
    first_due = fields.Date("First Instalment Due", required=True,
        states=_draft)
    annual_rate = fields.Numeric(
        "Interest, % per Year", digits=(6, 2), states=_draft,
        help="Interest on the declining balance (at most the key rate "
        "+ 3 %); empty for equal instalments without interest.")
    allowed_missed = fields.Integer(
        "Missed Instalments Allowed", required=True, states=_draft,
        help="The agreement terminates when more are missed.")
    terms = fields.Text("Terms", states=_draft)
    debts = fields.One2Many('rkc.agreement.debt', 'agreement', "Debt",
        readonly=True, help="The debt restructured, by period.")
    instalments = fields.One2Many(
        'rkc.agreement.instalment', 'agreement', "Schedule", readonly=True)
    debt = fields.Function(fields.Numeric("Debt", digits=(16, 2)),
        'get_total')
    penalty = fields.Function(fields.Numeric(
            "Frozen Penalties", digits=(16, 2)), 'get_total')
    down_payment = fields.Numeric(
        "Down Payment", digits=(16, 2), readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    written_off_by = fields.Many2One('res.user', "Written Off By",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'active'), ('active', 'completed'),
            ('active', 'defaulted')}
        cls._buttons.update({
                'compute': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'activate': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'write_off': {
                    'invisible': (Eval('state') != 'completed')
                    | Eval('written_off_by'),
                    'depends': ['state', 'written_off_by'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_date():
        return today()

    @staticmethod
    def default_months():
        return 12

    @staticmethod
    def default_down_payment_share():
        return Decimal('0.20')

    @staticmethod
    def default_allowed_missed():
        return 1

    def get_rec_name(self, name):
        return f'{self.account.rec_name} {self.date}'

    def get_total(self, name):
        field = 'principal' if name == 'debt' else 'penalty'
        return sum((getattr(d, field) for d in self.debts), ZERO)

    @classmethod
    def restructured_periods(cls, account_ids):
        "{account: {period}} of the debt under honoured agreements."
        result = {}
        for agreement in cls.search([
                    ('account', 'in', list(account_ids)),
                    ('state', 'in', HONOURED)]):
            result.setdefault(agreement.account.id, set()).update(
                d.period for d in agreement.debts)
        return result

    @classmethod
    @ModelView.button
    def compute(cls, agreements):
        "Snapshot the debt by period and draw up the schedule."
        pool = Pool()
        Debt = pool.get('rkc.agreement.debt')
        Instalment = pool.get('rkc.agreement.instalment')
        for agreement in agreements:
            Debt.delete(agreement.debts)
            Instalment.delete(agreement.instalments)
            account = agreement.account.id
            periods = account_penalties([account], agreement.date)[account]
            posted = posted_penalties([account])
            debts = [{
                    'agreement': agreement.id, 'period': p.period,
                    'principal': p.principal - sum(
                        (amount for _, amount in p.repayments), ZERO),
                    'penalty': posted.get((account, p.period), ZERO)}
                for p in periods]
            debts = [d for d in debts if d['principal'] > 0]
            total = sum((d['principal'] for d in debts), ZERO)
            try:
                schedule = restructuring.schedule(total, agreement.months,
                    agreement.first_due, agreement.down_payment_share,
                    agreement.annual_rate)
            except CalculationError as error:
                raise AgreementError(gettext(
                        'rkc_utilities.msg_agreement_schedule',
                        agreement=agreement.rec_name,
                        error=str(error))) from error
            Debt.create(debts)
            Instalment.create([{
                        'agreement': agreement.id, 'number': 0,
                        'due': agreement.date,
                        'principal': schedule.down_payment}] + [{
                        'agreement': agreement.id, 'number': number,
                        'due': i.due, 'principal': i.principal,
                        'interest': i.interest}
                    for number, i in enumerate(schedule.instalments, 1)])
            agreement.down_payment = schedule.down_payment
        cls.save(agreements)

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def activate(cls, agreements):
        for agreement in agreements:
            if not agreement.instalments:
                raise AgreementError(gettext(
                        'rkc_utilities.msg_agreement_no_schedule',
                        agreement=agreement.rec_name))
            others = cls.search([
                    ('account', '=', agreement.account.id),
                    ('state', '=', 'active'),
                    ('id', '!=', agreement.id)], limit=1)
            if others:
                raise AgreementError(gettext(
                        'rkc_utilities.msg_agreement_active',
                        account=agreement.account.rec_name))

    @classmethod
    @Workflow.transition('completed')
    def complete(cls, agreements):
        pass

    @classmethod
    @Workflow.transition('defaulted')
    def terminate(cls, agreements):
        "Default: all is due at once and the penalties accrue again."
        pass

    def paid_since_signed(self, day):
        "What the consumer paid on the restructured debt up to ``day``."
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(Sum(line.amount),
                where=(line.account == self.account.id)
                & (line.kind == 'payment')
                & (line.period.in_([d.period for d in self.debts]))
                & (line.date >= self.date) & (line.date <= day)))
        return -_money(cursor.fetchone()[0])

    @classmethod
    def monitor(cls, day=None):
        """Mark the instalments of active agreements paid (the payments
        cover them in order) or missed (due and not covered); complete
        the fully paid agreements, terminate those missing too many."""
        pool = Pool()
        Instalment = pool.get('rkc.agreement.instalment')
        day = day or today()
        completed, defaulted = [], []
        for agreement in cls.search([('state', '=', 'active')]):
            left = agreement.paid_since_signed(day)
            missed = 0
            for instalment in sorted(agreement.instalments,
                    key=lambda i: i.number):
                if left >= instalment.amount:
                    left -= instalment.amount
                    state = 'paid'
                else:
                    left = ZERO
                    state = 'missed' if instalment.due < day else 'pending'
                missed += state == 'missed'
                if instalment.state != state:
                    Instalment.write([instalment], {'state': state})
            if all(i.state == 'paid' for i in agreement.instalments):
                completed.append(agreement)
            elif missed > agreement.allowed_missed:
                defaulted.append(agreement)
        cls.complete(completed)
        cls.terminate(defaulted)

    @classmethod
    @ModelView.button
    def write_off(cls, agreements):
        """Write off the frozen penalties of completed agreements; another
        user than the one who drew the agreement up must approve it."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        Account = pool.get('account.account')
        user = Transaction().user
        for agreement in agreements:
            if agreement.create_uid.id == user:
                raise AgreementError(gettext(
                        'rkc_utilities.msg_agreement_second_person',
                        agreement=agreement.rec_name))
            account = agreement.account
            rows = [{
                    'account': account.id, 'centre': account.centre.id,
                    'service': penalty_service(), 'period': d.period,
                    'date': today(), 'kind': 'write_off',
                    'amount': -d.penalty, 'volume': None, 'tariff': None,
                    'excess': None, 'method': 'agreement',
                    'basis': json.dumps({'agreement': agreement.id}),
                    'origin': str(agreement), 'part': 0}
                for d in agreement.debts if d.penalty]
            Line.insert_rows(rows)
            # Bad-debt expense (91.02), not a reversal of the revenue.
            expense, = Account.search([('code', '=', '91.02')], limit=1)
            Posting.summarize(str(agreement), today(),
                gettext('rkc_utilities.msg_agreement_move_description',
                    agreement=agreement.rec_name),
                counter_account=expense)
            agreement.written_off_by = user
        cls.save(agreements)


class AgreementDebt(ModelSQL, ModelView):
    "The debt of one period restructured by an agreement."
    __name__ = 'rkc.agreement.debt'

    agreement = fields.Many2One(
        'rkc.agreement', "Agreement", required=True, ondelete='CASCADE')
    period = fields.Date("Period", required=True, readonly=True)
    principal = fields.Numeric(
        "Debt", digits=(16, 2), required=True, readonly=True)
    penalty = fields.Numeric(
        "Penalties", digits=(16, 2), required=True, readonly=True,
        help="Posted before the agreement: frozen while it is honoured.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('period', 'ASC'), ('id', 'ASC')]


class AgreementInstalment(ModelSQL, ModelView):
    __name__ = 'rkc.agreement.instalment'

    agreement = fields.Many2One(
        'rkc.agreement', "Agreement", required=True, ondelete='CASCADE')
    number = fields.Integer("Number", readonly=True,
        help="0 is the down payment.")
    due = fields.Date("Due", required=True, readonly=True)
    principal = fields.Numeric(
        "Principal", digits=(16, 2), required=True, readonly=True)
    interest = fields.Numeric("Interest", digits=(16, 2), readonly=True)
    amount = fields.Function(fields.Numeric("Amount", digits=(16, 2)),
        'get_amount')
    state = fields.Selection([
            ('pending', "Pending"),
            ('paid', "Paid"),
            ('missed', "Missed"),
            ], "State", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('number', 'ASC'), ('id', 'ASC')]

    @staticmethod
    def default_state():
        return 'pending'

    @staticmethod
    def default_interest():
        return ZERO

    def get_amount(self, name):
        return self.principal + (self.interest or ZERO)


class AgreementReport(FlatReport):
    "The agreement to sign, from the lawyers' template agreement.fodt."
    __name__ = 'rkc.agreement'


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('rkc.agreement|monitor', "Monitor Restructuring Agreements"))

