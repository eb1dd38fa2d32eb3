# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Housing subsidies at the social-service desk (rules.md §4, Decree 761):
dated regional parameters, the application with its family and incomes,
eligibility checks, the decision with every reason, a six-month term
recalculated when the family or income changes, monthly crediting into
the subledger against the social-protection budget (76.01), the monthly
register for the social-protection body and the time to decision."""
import io
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Avg, Count, Max, Sum
from sql.conditionals import Case

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.report import Report
from trytond.transaction import Transaction

from rkc.documents import subsidy_decision
from rkc.engine import subsidy as engine
from rkc.engine.allocation import pro_rata
from rkc.engine.calendar import ONE_DAY, next_period, period_of
from rkc.engine.dated import add_months
from rkc.engine.errors import CalculationError
from rkc.engine.money import round_money
from rkc.payments.export import write_csv

from .common import DatedMixin, today
from .exceptions import SubsidyError

GROUPS = [
    ('working', "Working Age"),
    ('pensioner', "Pensioner"),
    ('child', "Child"),
    ]
STATES = [
    ('draft', "Draft"),
    ('checked', "Checked"),
    ('approved', "Approved"),
    ('refused', "Refused"),
    ]
# The documents of Decree 761 п. 8 the desk collects.
DOCUMENTS = ('doc_passports', 'doc_registration', 'doc_ownership',
    'doc_incomes', 'doc_no_debt')
CHARGED_KINDS = ('charge', 'recalculation')
# Stages of a legal case in which a court has confirmed the debt.
COURT_CONFIRMED = {'order', 'bailiffs'}
# States of a restructuring agreement that is being honoured.
AGREEMENT_HONOURED = {'active', 'completed'}
COURT_DEBT_YEARS = 3
ORIGIN = 'rkc.subsidy.crediting'


def _money(value):
    "A sum read from SQL (SQLite returns floats) as Decimal kopecks."
    return round_money(Decimal(str(value or 0)))


def charges_by_service(account_ids, period):
    """{account: {service: amount}} charged (with recalculations) for the
    month starting on ``period``."""
    Line = Pool().get('rkc.ledger.line')
    line = Line.__table__()
    cursor = Transaction().connection.cursor()
    result = defaultdict(dict)
    if not account_ids:
        return result
    cursor.execute(*line.select(
            line.account, line.service, Sum(line.amount),
            where=line.account.in_(list(account_ids))
            & (line.period == period)
            & line.kind.in_(CHARGED_KINDS),
            group_by=[line.account, line.service]))
    for account, service, amount in cursor:
        result[account][service] = _money(amount)
    return result


class Configuration(metaclass=PoolMeta):
    __name__ = 'rkc.configuration'

    subsidy_account = fields.Many2One(
        'account.account', "Settlements with Social Protection",
        help="The account credited subsidies are receivable on (76.01).")


class LedgerLine(metaclass=PoolMeta):
    __name__ = 'rkc.ledger.line'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + [ORIGIN]


class Move(metaclass=PoolMeta):
    __name__ = 'account.move'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [ORIGIN]


class Parameters(DatedMixin, ModelSQL, ModelView):
    "The regional parameters of the subsidy, dated."
    __name__ = 'rkc.subsidy.parameters'
    _dated_scope = ('region',)

    region = fields.Char("Region", required=True)
    standard_cost_1 = fields.Numeric(
        "Standard Cost, Single", digits=(16, 2), required=True,
        domain=[('standard_cost_1', '>=', 0)],
        help="Regional standard cost of housing and utilities per person "
        "for a person living alone.")
    standard_cost_2 = fields.Numeric(
        "Standard Cost, Family of Two", digits=(16, 2), required=True,
        domain=[('standard_cost_2', '>=', 0)])
    standard_cost_3 = fields.Numeric(
        "Standard Cost, Family of Three or More", digits=(16, 2),
        required=True, domain=[('standard_cost_3', '>=', 0)])
    max_share = fields.Numeric(
        "Maximum Share of Income", digits=(4, 4), required=True,
        domain=[('max_share', '>', 0), ('max_share', '<=', Decimal('0.22'))],
        help="МДД: the share of the family's income it pays itself "
        "(at most 22 %).")
    minimum_working = fields.Numeric(
        "Subsistence Minimum, Working Age", digits=(16, 2), required=True)
    minimum_pensioner = fields.Numeric(
        "Subsistence Minimum, Pensioner", digits=(16, 2), required=True)
    minimum_child = fields.Numeric(
        "Subsistence Minimum, Child", digits=(16, 2), required=True)
    term_months = fields.Integer(
        "Term in Months", required=True, domain=[('term_months', '>', 0)])
    cutoff_day = fields.Integer(
        "Application Cut-Off Day", required=True,
        domain=[('cutoff_day', '>=', 1), ('cutoff_day', '<=', 28)],
        help="Applications up to this day of a month are granted from the "
        "first of that month, later ones from the next month.")
    income_months = fields.Integer(
        "Income Window in Months", required=True,
        domain=[('income_months', '>', 0)],
        help="The months before the application whose incomes are "
        "averaged.")
    direct_payment = fields.Boolean(
        "Direct Payment",
        help="The region pays subsidies to the recipients itself: they "
        "are listed in the register but not credited to the accounts.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('region', 'ASC'))

    @staticmethod
    def default_max_share():
        return Decimal('0.22')

    @staticmethod
    def default_term_months():
        return 6

    @staticmethod
    def default_cutoff_day():
        return 15

    @staticmethod
    def default_income_months():
        return 6

    def get_rec_name(self, name):
        return f'{self.region} {super().get_rec_name(name)}'

    @classmethod
    def for_region(cls, region, date):
        "The parameters of the region on the date, or None."
        for parameters in cls.search([('region', '=', region),
                    ('valid_from', '<=', date)]):
            if parameters.covers(date):
                return parameters

    @property
    def standard_costs(self):
        return {1: self.standard_cost_1, 2: self.standard_cost_2,
            3: self.standard_cost_3}

    @property
    def subsistence_minimums(self):
        return {group: getattr(self, f'minimum_{group}')
            for group, _ in GROUPS}

    def term_start(self, applied_on):
        "The first day of the term of an application made that day."
        month = period_of(applied_on)
        return month if applied_on.day <= self.cutoff_day \
            else next_period(month)


class Application(Workflow, ModelSQL, ModelView):
    "An application for a housing subsidy."
    __name__ = 'rkc.subsidy.application'

    _editable = {'readonly': ~Eval('state').in_(['draft', 'checked'])}
    _family = {'readonly': Eval('state').in_(['refused'])}

    applicant = fields.Many2One('party.party', "Applicant", required=True,
        ondelete='RESTRICT', states=_editable)
    account = fields.Many2One('rkc.account', "Account", required=True,
        ondelete='RESTRICT', states=_editable,
        help="The personal account the subsidy is credited to.")
    premise = fields.Function(fields.Many2One('rkc.premise', "Premise"),
        'on_change_with_premise')
    region = fields.Char("Region", required=True, states=_editable)
    applied_on = fields.Date("Applied On", required=True, states=_editable)
    previous = fields.Many2One('rkc.subsidy.application', "Renews",
        readonly=True, ondelete='RESTRICT',
        help="The application whose term this one continues.")
    members = fields.One2Many('rkc.subsidy.member', 'application',
        "Family", states=_family,
        help="Everyone registered with the applicant, the applicant "
        "included, with their incomes over the window.")
    doc_passports = fields.Boolean("Passports", states=_editable)
    doc_registration = fields.Boolean("Registration Certificate",
        states=_editable)
    doc_ownership = fields.Boolean("Title or Tenancy Deed",
        states=_editable)
    doc_incomes = fields.Boolean("Income Certificates", states=_editable)
    doc_no_debt = fields.Boolean("No-Debt Certificate", states=_editable)
    actual_charges = fields.Numeric("Actual Monthly Charges",
        digits=(16, 2), readonly=True,
        help="The account's charges of its last billed month.")
    income = fields.Numeric("Average Monthly Income", digits=(16, 2),
        readonly=True)
    standard_cost = fields.Numeric("Family Standard Cost", digits=(16, 2),
        readonly=True)
    family_minimum = fields.Numeric("Family Subsistence Minimum",
        digits=(16, 2), readonly=True)
    correction_coefficient = fields.Numeric("Correction Coefficient",
        digits=(6, 4), readonly=True)
    monthly = fields.Numeric("Monthly Subsidy", digits=(16, 2),
        readonly=True)
    reasons = fields.Text("Reasons for Refusal", readonly=True)
    notes = fields.Text("Check Notes", readonly=True)
    change_date = fields.Date("Change Date",
        states={'invisible': Eval('state') != 'approved'},
        help="The day the family or its income changed; the rest of the "
        "term is recalculated from it.")
    term_start = fields.Date("Term Start", readonly=True)
    term_end = fields.Date("Term End", readonly=True)
    months = fields.One2Many('rkc.subsidy.month', 'application', "Schedule",
        readonly=True)
    decided_on = fields.Date("Decided On", readonly=True)
    decided_by = fields.Many2One('res.user', "Decided By", readonly=True)
    days_to_decision = fields.Integer("Days to Decision", readonly=True)
    decision_period = fields.Date("Decision Month", readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    del _editable, _family

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('applied_on', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'checked'), ('checked', 'checked'),
            ('checked', 'draft'), ('refused', 'draft'),
            ('draft', 'approved'), ('checked', 'approved'),
            ('draft', 'refused'), ('checked', 'refused'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': ~Eval('state').in_(['checked', 'refused']),
                    'depends': ['state'],
                    },
                'check': {
                    'invisible': ~Eval('state').in_(['draft', 'checked']),
                    'depends': ['state'],
                    },
                'decide': {
                    'invisible': ~Eval('state').in_(['draft', 'checked']),
                    'depends': ['state'],
                    },
                'recalculate': {
                    'invisible': Eval('state') != 'approved',
                    'readonly': ~Eval('change_date'),
                    'depends': ['state', 'change_date'],
                    },
                'renew': {
                    'invisible': Eval('state') != 'approved',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_applied_on():
        return today()

    @fields.depends('account')
    def on_change_with_premise(self, name=None):
        return self.account.premise if self.account else None

    @fields.depends('account', 'applicant')
    def on_change_account(self):
        if self.account and not self.applicant:
            self.applicant = self.account.payer

    def get_rec_name(self, name):
        return (f'{self.id} {self.applicant.rec_name} '
            f'{self.applied_on:%d.%m.%Y}')

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('applicant.rec_name',) + tuple(clause[1:])]

    @classmethod
    def copy(cls, applications, default=None):
        default = default.copy() if default else {}
        for name in ('months', 'reasons', 'notes', 'monthly', 'term_start',
                'term_end', 'decided_on', 'decided_by', 'days_to_decision',
                'decision_period', 'change_date'):
            default.setdefault(name, None)
        return super().copy(applications, default=default)

    @property
    def parameters(self):
        Parameters = Pool().get('rkc.subsidy.parameters')
        parameters = Parameters.for_region(self.region, self.applied_on)
        if not parameters:
            raise SubsidyError(gettext(
                    'rkc_utilities.msg_subsidy_no_parameters',
                    region=self.region, date=self.applied_on))
        return parameters

    def compute(self, parameters):
        """The engine's subsidy of the family as entered; sets the figures
        shown on the form."""
        if not self.members:
            raise SubsidyError(gettext(
                    'rkc_utilities.msg_subsidy_no_members',
                    application=self.rec_name))
        groups = [m.group for m in self.members]
        # Д is kept exact: only the subsidy is rounded (once).
        income = sum((m.income for m in self.members), Decimal(0)) \
            / parameters.income_months
        try:
            subsidy = engine.monthly_subsidy(groups, income,
                engine.standard_cost_for(len(groups),
                    parameters.standard_costs),
                parameters.max_share, parameters.subsistence_minimums,
                self.actual_charges)
        except CalculationError as error:
            raise SubsidyError(gettext(
                    'rkc_utilities.msg_subsidy_impossible',
                    application=self.rec_name, error=error)) from error
        self.income = round_money(income)
        self.standard_cost = round_money(subsidy.family_standard_cost)
        self.family_minimum = round_money(subsidy.family_minimum)
        self.correction_coefficient = subsidy.correction_coefficient
        self.monthly = subsidy.monthly
        return income, subsidy

    def evaluate(self):
        """Compute the subsidy and state every reason to refuse it and
        every check that could not be made."""
        parameters = self.parameters
        self.actual_charges = self.last_charges()
        income, subsidy = self.compute(parameters)
        reasons, notes = [], []
        strings = self.fields_get(list(DOCUMENTS))
        missing = [strings[name]['string']
            for name in DOCUMENTS if not getattr(self, name)]
        if missing:
            reasons.append(gettext('rkc_utilities.msg_subsidy_documents',
                    documents=', '.join(missing)))
        premise = self.account.premise
        if not premise.residents_on(self.applied_on):
            reasons.append(gettext(
                    'rkc_utilities.msg_subsidy_not_registered',
                    premise=premise.rec_name, date=self.applied_on))
        share = round_money(parameters.max_share * income)
        if self.actual_charges <= share:
            reasons.append(gettext(
                    'rkc_utilities.msg_subsidy_within_share',
                    charges=self.actual_charges, share=share,
                    percent=(parameters.max_share * 100).normalize()))
        elif not subsidy.monthly:
            reasons.append(gettext('rkc_utilities.msg_subsidy_zero',
                    amount=round_money(subsidy.formula_amount)))
        start = self.first_day(parameters)
        for other in self.search([
                    ('account', '=', self.account.id),
                    ('state', '=', 'approved'),
                    ('term_end', '>=', start),
                    ('id', '!=', self.id),
                    ]):
            reasons.append(gettext('rkc_utilities.msg_subsidy_term_overlap',
                    application=other.rec_name, start=other.term_start,
                    end=other.term_end))
        debt, note = self.court_debt()
        reasons.extend(debt)
        notes.extend(note)
        self.reasons = '\n'.join(reasons) or None
        self.notes = '\n'.join(notes) or None

    def first_day(self, parameters):
        "The first day of the term: a renewal continues its predecessor."
        start = parameters.term_start(self.applied_on)
        if self.previous and self.previous.term_end:
            start = max(start, self.previous.term_end + ONE_DAY)
        return start

    def last_charges(self):
        "The account's charges of its last month billed by the application."
        Line = Pool().get('rkc.ledger.line')
        lines = Line.search([
                ('account', '=', self.account.id),
                ('kind', 'in', CHARGED_KINDS),
                ('period', '<=', self.applied_on),
                ], order=[('period', 'DESC')], limit=1)
        if not lines:
            return Decimal('0.00')
        period = lines[0].period
        return sum(charges_by_service([self.account.id], period)
            [self.account.id].values(), Decimal('0.00'))

    def court_debt(self):
        """(reasons, notes) of the debt condition: a debt confirmed by a
        court within three years refuses the subsidy unless a repayment
        agreement is honoured. Checked only where legal cases are kept."""
        pool = Pool()
        try:
            Case = pool.get('rkc.legal.case')
        except KeyError:
            return [], [gettext('rkc_utilities.msg_subsidy_debt_unchecked')]
        since = add_months(self.applied_on, -12 * COURT_DEBT_YEARS)
        cases = Case.search([
                ('account', '=', self.account.id),
                ('stage', 'in', list(COURT_CONFIRMED)),
                ('order_date', '>=', since),
                ])
        if not cases:
            return [], []
        try:
            Agreement = pool.get('rkc.agreement')
        except KeyError:
            Agreement = None
        if Agreement and Agreement.search([
                    ('account', '=', self.account.id),
                    ('state', 'in', list(AGREEMENT_HONOURED)),
                    ], limit=1):
            return [], [gettext('rkc_utilities.msg_subsidy_debt_agreement')]
        return [gettext('rkc_utilities.msg_subsidy_court_debt',
                cases=', '.join(c.rec_name for c in cases))], []

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, applications):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('checked')
    def check(cls, applications):
        for application in applications:
            application.evaluate()
        cls.save(applications)

    @classmethod
    @ModelView.button
    def decide(cls, applications):
        "Approve the eligible applications, refuse the others."
        for application in applications:
            application.evaluate()
        cls.save(applications)
        cls.approve([a for a in applications if not a.reasons])
        cls.refuse([a for a in applications if a.reasons])

    @classmethod
    @Workflow.transition('approved')
    def approve(cls, applications):
        Month = Pool().get('rkc.subsidy.month')
        for application in applications:
            parameters = application.parameters
            start = application.first_day(parameters)
            application.term_start = start
            application.term_end = add_months(
                start, parameters.term_months) - ONE_DAY
            Month.create([{
                        'application': application.id, 'period': month,
                        'amount': amount}
                    for month, amount in engine.term_schedule(
                        application.monthly, start,
                        parameters.term_months)])
        cls._decided(applications)

    @classmethod
    @Workflow.transition('refused')
    def refuse(cls, applications):
        cls._decided(applications)

    @classmethod
    def _decided(cls, applications):
        day = today()
        for application in applications:
            application.decided_on = day
            application.decided_by = Transaction().user
            application.days_to_decision = (
                day - application.applied_on).days
            application.decision_period = period_of(day)
        cls.save(applications)

    @classmethod
    @ModelView.button
    def recalculate(cls, applications):
        """The family or its income changed on the change date: the
        subsidy is recalculated and the months of the term from that day
        on are paid at the new amount, days before it at the old one."""
        Month = Pool().get('rkc.subsidy.month')
        for application in applications:
            change = application.change_date
            if not (application.term_start <= change
                    <= application.term_end):
                raise SubsidyError(gettext(
                        'rkc_utilities.msg_subsidy_change_outside',
                        application=application.rec_name, date=change))
            old = application.monthly
            application.compute(application.parameters)
            to_save = []
            for month in application.months:
                if month.period < period_of(change):
                    continue
                if month.crediting:
                    raise SubsidyError(gettext(
                            'rkc_utilities.msg_subsidy_change_credited',
                            application=application.rec_name,
                            period=month.period))
                # Days before the change keep the old amount.
                month.amount = (
                    engine.prorated(old, month.period,
                        application.term_start, change - ONE_DAY)
                    + engine.prorated(application.monthly, month.period,
                        change, application.term_end))
                to_save.append(month)
            Month.save(to_save)
        cls.save(applications)

    @classmethod
    @ModelView.button_action('rkc_utilities.act_subsidy_application_form')
    def renew(cls, applications):
        "A draft continuing each term with the same family, to update."
        renewals = cls.copy(applications, default={
                'applied_on': today(), 'state': 'draft'})
        for renewal, application in zip(renewals, applications,
                strict=True):
            renewal.previous = application
        cls.save(renewals)
        return {'res_id': [r.id for r in renewals]}

    def decision(self):
        "The printed decision's content."
        return subsidy_decision.Decision(
            issuer=self.account.centre.rec_name,
            number=str(self.id),
            date=self.decided_on or today(),
            applicant=self.applicant.rec_name,
            address=self.account.premise.rec_name,
            account_number=self.account.number,
            applied_on=self.applied_on,
            members=tuple(subsidy_decision.Member(m.name, m.group,
                    m.average) for m in self.members),
            income=self.income or Decimal(0),
            standard_cost=self.standard_cost or Decimal(0),
            actual_charges=self.actual_charges or Decimal(0),
            monthly=self.monthly or Decimal(0),
            granted=self.state == 'approved',
            term_start=self.term_start, term_end=self.term_end,
            schedule=tuple((m.period, m.amount) for m in self.months),
            reasons=tuple((self.reasons or '').splitlines()))


class Member(ModelSQL, ModelView):
    "A member of the applicant's family and their income."
    __name__ = 'rkc.subsidy.member'

    application = fields.Many2One('rkc.subsidy.application', "Application",
        required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    group = fields.Selection(GROUPS, "Group", required=True,
        help="Sets the member's subsistence minimum.")
    income = fields.Numeric("Income over the Window", digits=(16, 2),
        required=True, domain=[('income', '>=', 0)],
        help="Every income of the member over the months before the "
        "application (salaries, pensions, benefits, alimony).")
    average = fields.Function(fields.Numeric("Average Monthly Income",
            digits=(16, 2)), 'get_average')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @staticmethod
    def default_group():
        return 'working'

    @staticmethod
    def default_income():
        return Decimal(0)

    def get_average(self, name):
        Parameters = Pool().get('rkc.subsidy.parameters')
        application = self.application
        parameters = Parameters.for_region(
            application.region, application.applied_on)
        months = parameters.income_months if parameters else 1
        return round_money((self.income or 0) / months)


class Month(ModelSQL, ModelView):
    "The subsidy of one month of a term."
    __name__ = 'rkc.subsidy.month'

    application = fields.Many2One('rkc.subsidy.application', "Application",
        required=True, ondelete='CASCADE')
    period = fields.Date("Period", required=True,
        help="The first day of the month.")
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        help="The month's subsidy, prorated by days in a partial month.")
    credited = fields.Numeric("Credited", digits=(16, 2), readonly=True,
        help="The amount credited to the account: capped at the month's "
        "charges.")
    crediting = fields.Many2One('rkc.subsidy.crediting', "Crediting",
        readonly=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('period', 'ASC'), ('id', 'ASC')]


class Crediting(Workflow, ModelSQL, ModelView):
    "The approved subsidies of a month credited to the accounts."
    __name__ = 'rkc.subsidy.crediting'

    period = fields.Many2One('rkc.period', "Period", required=True,
        ondelete='RESTRICT', states={'readonly': Eval('state') != 'draft'})
    months = fields.One2Many('rkc.subsidy.month', 'crediting', "Subsidies",
        readonly=True)
    total = fields.Numeric("Credited", digits=(16, 2), readonly=True)
    pending = fields.Integer("Pending", readonly=True,
        help="Subsidies of accounts not yet billed for the month: a later "
        "crediting takes them.")
    postings = fields.One2Many(
        'rkc.ledger.posting', 'origin', "General Ledger", readonly=True)
    register = fields.Function(fields.Binary("Register",
            filename='register_name'), 'get_register')
    register_name = fields.Function(fields.Char("Register File Name"),
        'get_register_name')
    state = fields.Selection([
            ('draft', "Draft"),
            ('done', "Done"),
            ], "State", readonly=True, required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {('draft', 'done')}
        cls._buttons.update({
                'credit': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    def get_rec_name(self, name):
        return self.period.rec_name

    def due(self):
        "The approved months of the period, by region's payment mode."
        Month = Pool().get('rkc.subsidy.month')
        return Month.search([
                ('period', '=', self.period.start_date),
                ('application.state', '=', 'approved'),
                ('amount', '>', 0),
                ])

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def credit(cls, creditings):
        """Subsidy lines (credits, capped at the month's charges and split
        over its services in proportion to them) for the months not yet
        credited; one general-ledger summary per centre against 76.01."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        Month = pool.get('rkc.subsidy.month')
        receivable = pool.get('rkc.configuration')(1).subsidy_account
        if not receivable:
            raise SubsidyError(gettext(
                    'rkc_utilities.msg_subsidy_no_account'))
        for crediting in creditings:
            period = crediting.period
            period.check_open()
            date = min(max(today(), period.start_date), period.end_date)
            origin = str(crediting)
            months = [m for m in crediting.due() if m.credited is None
                and not m.application.parameters.direct_payment]
            charges = charges_by_service(
                {m.application.account.id for m in months},
                period.start_date)
            rows, credited, pending = [], [], 0
            for month in months:
                account = month.application.account
                by_service = charges[account.id]
                if not by_service:
                    pending += 1
                    continue
                services = sorted(by_service)
                total = sum(by_service.values())
                amount = min(month.amount, max(total, Decimal(0)))
                weights = [max(by_service[s], Decimal(0)) for s in services]
                for service, part in zip(services, pro_rata(amount, weights),
                        strict=True):
                    if part:
                        rows.append({
                                'account': account.id,
                                'centre': account.centre.id,
                                'service': service,
                                'period': period.start_date,
                                'date': date, 'kind': 'subsidy',
                                'amount': -part, 'volume': None,
                                'tariff': None, 'excess': None,
                                'method': 'subsidy', 'basis': None,
                                'origin': origin, 'part': 0})
                month.credited = amount
                month.crediting = crediting
                credited.append(month)
            Line.insert_rows(rows)
            Month.save(credited)
            Posting.summarize(origin, date, gettext(
                    'rkc_utilities.msg_subsidy_move_description',
                    period=period.rec_name), counter_account=receivable)
            crediting.total = sum((m.credited for m in credited), Decimal(0))
            crediting.pending = pending
        cls.save(creditings)

    def register_rows(self):
        "The register for the social-protection body: one row a recipient."
        for number, month in enumerate(self.due(), 1):
            application = month.application
            direct = application.parameters.direct_payment
            yield [number, application.applicant.rec_name,
                application.account.number,
                application.account.premise.rec_name,
                f'{month.period:%m.%Y}',
                f'{application.term_start:%d.%m.%Y}',
                f'{application.term_end:%d.%m.%Y}',
                _decimal_comma(month.amount),
                _decimal_comma(month.credited),
                gettext('rkc_utilities.msg_subsidy_register_direct'
                    if direct else
                    'rkc_utilities.msg_subsidy_register_to_account')]

    def get_register(self, name):
        stream = io.StringIO()
        write_csv(stream, self.register_rows(), header=[gettext(
                    'rkc_utilities.msg_subsidy_register_' + column)
                for column in ('number', 'recipient', 'account',
                    'address', 'period', 'term_start', 'term_end',
                    'amount', 'credited', 'payment')])
        # Windows-1251 for the spreadsheets of the social-protection body.
        return stream.getvalue().encode('cp1251', errors='replace')

    def get_register_name(self, name):
        return f'subsidy-register-{self.period.start_date:%Y-%m}.csv'


def _decimal_comma(amount):
    return '' if amount is None else str(amount).replace('.', ',')


class DecisionTime(ModelSQL, ModelView):
    "The time from application to decision, per month of decision."
    __name__ = 'rkc.subsidy.decision_time'

    period = fields.Date("Month")
    applications = fields.Integer("Decisions")
    approved = fields.Integer("Approved")
    refused = fields.Integer("Refused")
    average_days = fields.Numeric("Average Days", digits=(16, 1))
    max_days = fields.Integer("Longest, Days")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('period', 'DESC'), ('id', 'DESC')]

    @classmethod
    def table_query(cls):
        Application = Pool().get('rkc.subsidy.application')
        application = Application.__table__()
        approved = Case((application.state == 'approved', 1), else_=0)
        return application.select(
            Max(application.id).as_('id'),
            application.decision_period.as_('period'),
            Count(application.id).as_('applications'),
            Sum(approved).as_('approved'),
            (Count(application.id) - Sum(approved)).as_('refused'),
            Avg(application.days_to_decision).as_('average_days'),
            Max(application.days_to_decision).as_('max_days'),
            where=application.decision_period != Null,
            group_by=[application.decision_period])


class DecisionReport(Report):
    "The printed decision on an application."
    __name__ = 'rkc.subsidy.decision'

    @classmethod
    def _execute(cls, records, header, data, action):
        application = records[0]
        if application.state not in {'approved', 'refused'}:
            raise SubsidyError(gettext(
                    'rkc_utilities.msg_subsidy_undecided',
                    application=application.rec_name))
        return 'pdf', subsidy_decision.render(application.decision())
