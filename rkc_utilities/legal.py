# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Legal cases against debtors (rules.md §6): the selection of debtors,
the stages of a case from the pre-court claim to the bailiffs with their
deadlines, and the documents the lawyers print from templates they edit:
the pre-court claim and the application for a court order with its debt
and penalty table and the state duty, and the notice of restriction of a
utility service for debt (Decree 354 section XI)."""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sql.aggregate import Min, Sum

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from rkc.engine.dated import add_months
from rkc.engine.duty import state_duty
from rkc.engine.payment_lines import period_debts
from rkc.engine.regulations import default_regulations
from rkc.notify import texts
from rkc.notify.quiet import utc_now

from .billing_input import _date
from .common import today
from .exceptions import LegalError
from .flat_report import FlatReport, day, money
from .notification import CHANNEL_SETTINGS, _checked, local_time
from .payment import _ledgers
from .penalty import ZERO, _money, account_penalties, band_rows

STAGES = [
    ('claim', "Pre-court Claim"),
    ('application', "Court Order Application"),
    ('order', "Court Order Issued"),
    ('bailiffs', "Sent to Bailiffs"),
    ('lawsuit', "Lawsuit after Objection"),
    ('paid', "Closed: Paid"),
    ('written_off', "Closed: Written Off"),
    ('cancelled', "Cancelled"),
    ]
CLOSED = ('paid', 'written_off', 'cancelled')
# Days the debtor is given to answer the claim, and to object to an order
# (Civil Procedure Code art. 128), before the next step.
CLAIM_DAYS = 30
OBJECTION_DAYS = 10
# The identifiers a court order names the debtor by (party identifier
# types), as written in the documents.
IDENTIFIERS = {
    'ru_snils': 'СНИЛС',
    'ru_vat': 'ИНН',
    'ru_passport': 'паспорт',
    }
# Decree 354 п.117-119: restriction may follow when the overdue debt on a
# service exceeds this many months of its charge, this many days after the
# notice is delivered.
RESTRICTION_MONTHS = 2
RESTRICTION_DAYS = 20
# The channels a notice is sent by, the one with delivery reports first:
# the delivery is the proof the restriction needs.
RESTRICTION_CHANNELS = ('sms', 'email')


class Case(Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.legal.case'
    _transition_state = 'stage'

    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('stage') != 'claim'})
    court_district = fields.Function(fields.Char(
            "Magistrate Court District",
            help="From the building of the debtor's premise."),
        'get_court_district')
    stage = fields.Selection(STAGES, "Stage", required=True, readonly=True)
    deadline = fields.Date("Deadline", readonly=True,
        help="When the next step is due.")
    claim_sent_on = fields.Date("Claim Sent On",
        states={'readonly': Eval('stage') != 'claim'})
    filed_on = fields.Date("Filed On",
        states={'readonly': ~Eval('stage').in_(['claim', 'application'])},
        help="The filing date of the application: the penalty is "
        "calculated on it and the state duty scale is the one in force.")
    principal = fields.Numeric("Debt", digits=(16, 2), readonly=True)
    penalty = fields.Numeric("Penalty", digits=(16, 2), readonly=True)
    duty = fields.Numeric("State Duty", digits=(16, 2), readonly=True)
    claim = fields.Function(fields.Numeric("Claim", digits=(16, 2)),
        'get_claim')
    order_number = fields.Char("Order Number",
        states={'readonly': Eval('stage') != 'order'})
    order_date = fields.Date("Order Date",
        states={'readonly': Eval('stage') != 'order'})
    closed_on = fields.Date("Closed On", readonly=True)
    restriction_notice_on = fields.Date("Restriction Notice Sent On",
        readonly=True,
        help="When the notice of the coming restriction of a utility "
        "service was sent.")
    restriction_delivery = fields.Many2One('rkc.notification.message',
        "Restriction Notice Message", readonly=True, ondelete='RESTRICT',
        help="The e-mail or SMS that carried the notice: its delivery "
        "status is the proof of delivery.")
    restriction_deadline = fields.Function(fields.Date(
            "Restriction From",
            help="20 days after the notice was delivered (after it was "
            "sent while no delivery is reported): the service may be "
            "restricted from then on if the debt is not paid."),
        'get_restriction_deadline')
    notes = fields.Text("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('deadline', 'ASC NULLS LAST'), ('id', 'DESC')]
        cls._transitions |= {
            ('claim', 'application'), ('application', 'order'),
            ('order', 'bailiffs'), ('order', 'lawsuit'),
            ('lawsuit', 'bailiffs'), ('bailiffs', 'paid'),
            ('bailiffs', 'written_off'),
            }
        cls._transitions |= {(stage, 'cancelled')
            for stage, _ in STAGES if stage not in CLOSED}
        cls._transitions |= {(stage, 'paid')
            for stage, _ in STAGES if stage not in CLOSED}
        open_ = ~Eval('stage').in_(list(CLOSED))
        cls._buttons.update({
                'apply': {'invisible': Eval('stage') != 'claim',
                    'depends': ['stage']},
                'issue': {'invisible': Eval('stage') != 'application',
                    'depends': ['stage']},
                'enforce': {
                    'invisible': ~Eval('stage').in_(['order', 'lawsuit']),
                    'depends': ['stage']},
                'object': {'invisible': Eval('stage') != 'order',
                    'depends': ['stage']},
                'close_paid': {'invisible': ~open_, 'depends': ['stage']},
                'write_off': {'invisible': Eval('stage') != 'bailiffs',
                    'depends': ['stage']},
                'cancel': {'invisible': ~open_, 'depends': ['stage']},
                'send_restriction': {'invisible': ~open_,
                    'depends': ['stage']},
                })

    @staticmethod
    def default_stage():
        return 'claim'

    @staticmethod
    def default_claim_sent_on():
        return today()

    @classmethod
    def default_deadline(cls):
        return today() + dt.timedelta(days=CLAIM_DAYS)

    def get_rec_name(self, name):
        return f'{self.account.rec_name} ({self.id})'

    def get_court_district(self, name):
        return self.account.premise.building.court_district

    def get_claim(self, name):
        return (self.principal or ZERO) + (self.penalty or ZERO)

    def get_restriction_deadline(self, name):
        if not self.restriction_notice_on:
            return None
        start = self.restriction_notice_on
        message = self.restriction_delivery
        if message and message.delivered_at:
            start = local_time(message.delivered_at).date()
        return start + dt.timedelta(days=RESTRICTION_DAYS)

    @property
    def calculation_date(self):
        "The claim date: the penalty is calculated up to it."
        return self.filed_on or today()

    def penalties(self):
        "The engine's penalties of the account on the claim date."
        return account_penalties(
            [self.account.id], self.calculation_date)[self.account.id]

    def table(self):
        """The debt and penalty table: per period charged, paid (dates),
        balance, due date and the bands of the penalty."""
        return [{
                'period': p.period, 'due_date': p.due_date,
                'charged': p.principal,
                'paid': '; '.join(f'{money(a)} ({day(d)})'
                    for d, a in p.repayments),
                'balance': p.principal - sum(
                    (a for _, a in p.repayments), ZERO),
                'penalty': p.penalty,
                'bands': band_rows([p])}
            for p in self.penalties()]

    def totals(self):
        "(debt, penalty) on the claim date."
        rows = self.table()
        return (sum((r['balance'] for r in rows), ZERO),
            sum((r['penalty'] for r in rows), ZERO))

    def debtor_identifiers(self):
        "The debtor's identifiers known, as 'ИНН 1234…' (rules.md §6)."
        return [f'{IDENTIFIERS[i.type]} {i.code}'
            for i in self.account.payer.identifiers
            if i.type in IDENTIFIERS]

    def restriction_debts(self, on_date):
        """The overdue debt on ``on_date`` of each restrictable service
        whose debt exceeds two months of its latest charge: {service id:
        [(period, due date, debt)]}, oldest period first."""
        Service = Pool().get('rkc.service')
        account = self.account.id
        ledger = _ledgers([account])[account]
        if not ledger.charged:
            return {}
        latest = ledger.charged[max(ledger.charged)]
        owed = defaultdict(list)
        for debt in period_debts(ledger, default_regulations()):
            if debt.due_date < on_date:
                for service, amount in debt.principal.items():
                    owed[service].append(
                        (debt.period, debt.due_date, amount))
        return {service.id: owed[service.id]
            for service in Service.browse(sorted(owed))
            if service.restrictable
            and latest.get(service.id, ZERO) > 0
            and sum((a for _, _, a in owed[service.id]), ZERO)
            > RESTRICTION_MONTHS * latest[service.id]}

    def restriction_table(self):
        """The rows of the printed notice: period, due date, service and
        debt of the services it names."""
        Service = Pool().get('rkc.service')
        return [{'period': period, 'due_date': due, 'service': service.name,
                'debt': debt}
            for service_id, rows in self.restriction_debts(
                self.restriction_notice_on or today()).items()
            for service in [Service(service_id)]
            for period, due, debt in rows]

    def restriction_message(self, debt, deadline):
        """A queued message carrying the restriction notice on the first
        channel of RESTRICTION_CHANNELS the notices' campaign uses and the
        account can be reached by; None when there is none."""
        pool = Pool()
        Campaign = pool.get('rkc.notification.campaign')
        Run = pool.get('rkc.notification.run')
        Message = pool.get('rkc.notification.message')
        ModelData = pool.get('ir.model.data')
        campaign = Campaign(ModelData.get_id(
                'rkc_utilities', 'notification_campaign_restriction'))
        for channel in RESTRICTION_CHANNELS:
            if channel not in campaign.channels():
                continue
            recipient, reason = Message.address(self.account, channel)
            if not reason:
                break
        else:
            return None
        _checked(CHANNEL_SETTINGS[channel]())
        subject, text, _ = campaign.templates()
        centre = self.account.centre
        values = texts.values(self.account.number, centre.name,
            centre.phone, amount=debt, due_date=deadline)
        runs = Run.search([('campaign', '=', campaign.id),
                ('occasion', '=', self.restriction_notice_on)])
        run, = runs or Run.create([{'campaign': campaign.id,
                    'occasion': self.restriction_notice_on}])
        message, = Message.create([{'run': run.id,
                    'account': self.account.id, 'channel': channel,
                    'recipient': recipient,
                    'subject': (texts.render(subject, values)
                        if channel == 'email' else None),
                    'text': texts.render(text, values),
                    'state': 'queued', 'next_attempt': utc_now()}])
        return message

    @classmethod
    @ModelView.button
    def send_restriction(cls, cases):
        """Send the notice of the coming restriction by e-mail or SMS:
        refused without a debt above the threshold, under an honoured
        agreement or without a channel to the debtor."""
        pool = Pool()
        Agreement = pool.get('rkc.agreement')
        Run = pool.get('rkc.notification.run')
        on_date = today()
        runs = []
        for case in cases:
            debts = case.restriction_debts(on_date)
            if not debts:
                raise LegalError(gettext(
                        'rkc_utilities.msg_legal_restriction_below',
                        case=case.rec_name, months=RESTRICTION_MONTHS))
            if Agreement.search([('account', '=', case.account.id),
                        ('state', '=', 'active')], limit=1):
                raise LegalError(gettext(
                        'rkc_utilities.msg_legal_restriction_agreement',
                        case=case.rec_name))
            case.restriction_notice_on = on_date
            debt = sum((a for rows in debts.values() for _, _, a in rows),
                ZERO)
            deadline = on_date + dt.timedelta(days=RESTRICTION_DAYS)
            # Messages are made by the system only; the button's groups
            # decide who may send a notice.
            with without_check_access():
                message = case.restriction_message(debt, deadline)
            if message is None:
                raise LegalError(gettext(
                        'rkc_utilities.msg_legal_restriction_no_channel',
                        case=case.rec_name))
            case.restriction_delivery = message
            runs.append(message.run)
        cls.save(cases)
        with without_check_access():
            Run.send(runs)

    @classmethod
    @ModelView.button
    @Workflow.transition('application')
    def apply(cls, cases):
        "File the application: the claim and duty on the filing date."
        for case in cases:
            case.filed_on = case.filed_on or today()
            case.principal, case.penalty = case.totals()
            claim = case.principal + case.penalty
            if not claim:
                raise LegalError(gettext(
                        'rkc_utilities.msg_legal_nothing_owed',
                        case=case.rec_name))
            case.duty = state_duty(claim, case.filed_on)
            case.deadline = None
        cls.save(cases)

    @classmethod
    @ModelView.button
    @Workflow.transition('order')
    def issue(cls, cases):
        for case in cases:
            case.order_date = case.order_date or today()
            case.deadline = case.order_date + dt.timedelta(
                days=OBJECTION_DAYS)
        cls.save(cases)

    @classmethod
    @ModelView.button
    @Workflow.transition('lawsuit')
    def object(cls, cases):
        "The debtor objected: the order is cancelled, a lawsuit follows."
        cls.write(cases, {'deadline': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('bailiffs')
    def enforce(cls, cases):
        cls.write(cases, {'deadline': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('paid')
    def close_paid(cls, cases):
        cls.write(cases, {'closed_on': today(), 'deadline': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('written_off')
    def write_off(cls, cases):
        cls.write(cases, {'closed_on': today(), 'deadline': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, cases):
        cls.write(cases, {'closed_on': today(), 'deadline': None})

    @classmethod
    def debtors(cls, threshold, months, on_date):
        """Accounts owing more than ``threshold`` since a period older
        than ``months`` months, without an honoured agreement on that
        debt or an open case."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Agreement = pool.get('rkc.agreement')
        line = Line.__table__()
        oldest = add_months(on_date.replace(day=1), -months)
        cursor = Transaction().connection.cursor()
        # Penalties are not counted: the threshold is on the debt itself.
        cursor.execute(*line.select(
                line.account, Sum(line.amount), Min(line.period),
                where=(line.date <= on_date) & (line.kind != 'penalty'),
                group_by=[line.account]))
        candidates = [account for account, balance, first in cursor
            if _money(balance) > threshold and _date(first) < oldest]
        busy = {c.account.id for c in cls.search([
                    ('account', 'in', candidates),
                    ('stage', 'not in', CLOSED)])}
        busy |= {a.account.id for a in Agreement.search([
                    ('account', 'in', candidates),
                    ('state', '=', 'active')])}
        selected = []
        for account, periods in account_penalties(
                [a for a in candidates if a not in busy], on_date).items():
            owed = [p for p in periods
                if p.principal > sum((a for _, a in p.repayments), ZERO)]
            if owed and owed[0].period < oldest and sum(
                    (p.principal - sum((a for _, a in p.repayments), ZERO)
                        for p in owed), ZERO) > threshold:
                selected.append(account)
        return selected


class SelectStart(ModelView):
    __name__ = 'rkc.legal.select.start'

    threshold = fields.Numeric("Debt Above", digits=(16, 2), required=True)
    months = fields.Integer("Older Than, Months", required=True)
    date = fields.Date("On", required=True)

    @staticmethod
    def default_threshold():
        return Decimal('10000.00')

    @staticmethod
    def default_months():
        return 3

    @staticmethod
    def default_date():
        return today()


class Select(Wizard):
    "Open a pre-court claim against each debtor selected."
    __name__ = 'rkc.legal.select'

    start = StateView('rkc.legal.select.start',
        'rkc_utilities.legal_select_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Open Cases", 'open_', 'tryton-ok', default=True),
            ])
    open_ = StateTransition()

    def transition_open_(self):
        Case = Pool().get('rkc.legal.case')
        accounts = Case.debtors(
            self.start.threshold, self.start.months, self.start.date)
        Case.create([{'account': a, 'claim_sent_on': self.start.date,
                    'deadline': self.start.date + dt.timedelta(
                        days=CLAIM_DAYS)}
                for a in accounts])
        return 'end'


class ClaimReport(FlatReport):
    "The pre-court claim letter (legal_claim.fodt)."
    __name__ = 'rkc.legal.claim'


class ApplicationReport(FlatReport):
    """The application for a court order with the debt and penalty table
    (legal_application.fodt)."""
    __name__ = 'rkc.legal.application'


class RestrictionReport(FlatReport):
    """The notice of the coming restriction of a utility service with the
    debt by period (legal_restriction.fodt)."""
    __name__ = 'rkc.legal.restriction'
