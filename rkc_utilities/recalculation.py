# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Recalculations (rules.md §2): a record per event or correction, previewed
per period and service (billed, should be, delta), approved, then posted as
recalculation lines into the current open period of the subledger. The
original charges are never changed; a posted recalculation is reversed by a
counter-recalculation."""
import dataclasses
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

from sql.aggregate import Sum
from sql.conditionals import Case

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from rkc import queue
from rkc.bulk_insert import copy_into
from rkc.engine import billing as engine
from rkc.engine import calendar
from rkc.engine import recalculation as rules
from rkc.engine.errors import CalculationError
from rkc.engine.money import read_money as _money

from .billing_input import ReferenceData, load_chunk
from .exceptions import RecalculationError

STATES = [
    ('draft', "Draft"),
    ('previewing', "Previewing"),
    ('previewed', "Previewed"),
    ('approved', "Approved"),
    ('posted', "Posted"),
    ]
SCOPES = [
    ('account', "Account"),
    ('building', "Building"),
    ('all', "All Buildings"),
    ]
REASONS = [
    ('temporary_absence', "Temporary Absence"),
    ('interruption', "Interruption"),
    ('temperature', "Hot Water Temperature"),
    ('corrected_reading', "Corrected Reading"),
    ('tariff_change', "Tariff Change"),
    ('manual', "Manual Correction"),
    ]
# The inputs each reason needs and the documents that support it.
INPUTS = {
    'temporary_absence': ('departure', 'return_date'),
    'interruption': ('events',),
    'temperature': ('events',),
    'corrected_reading': ('corrected_reading',),
    'tariff_change': (),
    'manual': ('manual_amount',),
    }
DOCUMENTS = {
    'temporary_absence': ('application', 'documents'),
    'interruption': ('act',),
    'temperature': ('act',),
    'corrected_reading': ('act',),
    'tariff_change': ('documents',),
    'manual': ('documents',),
    }
# Reasons re-running the billing engine rather than a §2 formula.
REBILLED = {'corrected_reading', 'tariff_change'}
# Reasons that concern one service only.
SINGLE_SERVICE = {'corrected_reading', 'manual', 'temperature'}
# Reasons a dispatcher may register for a whole building or more.
WIDE = {'interruption', 'temperature', 'tariff_change'}
BILLED_KINDS = ('charge', 'recalculation')


def _json_default(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _periods(first, last):
    return list(calendar.periods(first, calendar.period_range(last)[1]
        - calendar.ONE_DAY))


class Configuration(metaclass=PoolMeta):
    __name__ = 'rkc.configuration'

    recalculation_approval_amount = fields.Numeric(
        "Recalculation Second Approval Above", digits=(16, 2),
        help="A recalculation whose lines add up (in absolute value) to "
        "more than this amount must be approved by a user other than the "
        "one who prepared it.")


class Recalculation(Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.recalculation'

    _states = {'readonly': Eval('state') != 'draft'}

    scope = fields.Selection(SCOPES, "Scope", required=True,
        states=_states)
    account = fields.Many2One('rkc.account', "Account",
        ondelete='RESTRICT',
        states={
            'required': Eval('scope') == 'account',
            'invisible': Eval('scope') != 'account',
            'readonly': Eval('state') != 'draft',
            })
    building = fields.Many2One('rkc.building', "Building",
        ondelete='RESTRICT',
        states={
            'required': Eval('scope') == 'building',
            'invisible': Eval('scope') != 'building',
            'readonly': Eval('state') != 'draft',
            })
    services = fields.Many2Many(
        'rkc.recalculation-rkc.service', 'recalculation', 'service',
        "Services", states=_states)
    reason = fields.Selection(REASONS, "Reason", required=True,
        states=_states)
    period_from = fields.Date("From Period", required=True,
        states=_states,
        help="The first month the recalculation concerns.")
    period_to = fields.Date("To Period", required=True,
        domain=[If(Bool(Eval('period_from')) & Bool(Eval('period_to')),
                ('period_to', '>=', Eval('period_from')), ())],
        states=_states,
        help="The last month the recalculation concerns.")
    departure = fields.Date("Departure",
        states={
            'required': Eval('reason') == 'temporary_absence',
            'invisible': Eval('reason') != 'temporary_absence',
            'readonly': Eval('state') != 'draft',
            })
    return_date = fields.Date("Return",
        states={
            'required': Eval('reason') == 'temporary_absence',
            'invisible': Eval('reason') != 'temporary_absence',
            'readonly': Eval('state') != 'draft',
            })
    applied_on = fields.Date("Applied On",
        states={
            'invisible': Eval('reason') != 'temporary_absence',
            'readonly': Eval('state') != 'draft',
            },
        help="The day the consumer applied: at most 30 days after return.")
    events = fields.One2Many('rkc.recalculation.event', 'recalculation',
        "Events",
        states={
            'invisible': ~Eval('reason').in_(['interruption', 'temperature']),
            'readonly': Eval('state') != 'draft',
            },
        help="Interruptions or hours of hot water below the standard "
        "temperature, each on its day.")
    corrected_reading = fields.Numeric("Corrected Reading", digits=(16, 3),
        states={
            'required': Eval('reason') == 'corrected_reading',
            'invisible': Eval('reason') != 'corrected_reading',
            'readonly': Eval('state') != 'draft',
            },
        help="The meter's reading at the end of the last period concerned, "
        "as established by the check (п.61).")
    manual_amount = fields.Numeric("Manual Amount", digits=(16, 2),
        states={
            'required': Eval('reason') == 'manual',
            'invisible': Eval('reason') != 'manual',
            'readonly': Eval('state') != 'draft',
            },
        help="Positive: owed by the consumer; negative: credited.")
    application = fields.Boolean("Application Received",
        states=_states, help="The consumer's written application.")
    documents = fields.Boolean("Supporting Documents",
        states=_states,
        help="Tickets, certificates, the tariff decision… attached.")
    act = fields.Boolean("Act",
        states=_states,
        help="The act of the interruption, of the temperature measurement "
        "or of the meter check.")
    description = fields.Text("Description")
    counters = fields.Many2One('rkc.recalculation', "Counters",
        readonly=True, ondelete='RESTRICT',
        help="The posted recalculation this one reverses.")
    lines = fields.One2Many('rkc.recalculation.line', 'recalculation',
        "Lines", readonly=True)
    total = fields.Function(fields.Numeric("Total", digits=(16, 2)),
        'get_total')
    pending_buildings = fields.Integer("Pending Buildings", readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    prepared_by = fields.Many2One('res.user', "Prepared By", readonly=True)
    prepared_at = fields.DateTime("Prepared At", readonly=True)
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    approved_at = fields.DateTime("Approved At", readonly=True)
    posted_by = fields.Many2One('res.user', "Posted By", readonly=True)
    posted_at = fields.DateTime("Posted At", readonly=True)
    postings = fields.One2Many(
        'rkc.ledger.posting', 'origin', "General Ledger", readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'previewing'), ('draft', 'previewed'),
            ('previewing', 'previewed'), ('previewed', 'draft'),
            ('previewed', 'approved'), ('approved', 'draft'),
            ('approved', 'posted'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': ~Eval('state').in_(
                        ['previewed', 'approved']),
                    'depends': ['state'],
                    },
                'preview': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'approve': {
                    'invisible': Eval('state') != 'previewed',
                    'depends': ['state'],
                    },
                'post': {
                    'invisible': Eval('state') != 'approved',
                    'depends': ['state'],
                    },
                'counter': {
                    'invisible': Eval('state') != 'posted',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_scope():
        return 'account'

    def get_rec_name(self, name):
        target = (self.account or self.building)
        return ' '.join(filter(None, [
                    str(self.id), target.rec_name if target else '',
                    f'{self.period_from:%Y-%m}' if self.period_from
                    else '']))

    def get_total(self, name):
        return sum((line.delta for line in self.lines), Decimal(0))

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        # Never deleted once previewed: a posted one is reversed by a
        # counter-recalculation, which keeps the trail.
        if mode == 'delete' and any(r.state != 'draft' for r in records):
            raise RecalculationError(gettext(
                    'rkc_utilities.msg_recalculation_delete'))

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default else {}
        for name in ('lines', 'prepared_by', 'prepared_at', 'approved_by',
                'approved_at', 'posted_by', 'posted_at', 'counters'):
            default.setdefault(name, None)
        return super().copy(records, default=default)

    def check_inputs(self):
        "Refuse a recalculation that lacks what its reason needs."
        for name in INPUTS[self.reason]:
            if not getattr(self, name):
                raise RecalculationError(gettext(
                        'rkc_utilities.msg_recalculation_input',
                        recalculation=self.rec_name,
                        field=self.__class__._fields[name].string))
        if not self.services and not self.counters:
            raise RecalculationError(gettext(
                    'rkc_utilities.msg_recalculation_input',
                    recalculation=self.rec_name,
                    field=self.__class__.services.string))
        if self.reason in SINGLE_SERVICE and len(self.services) > 1:
            raise RecalculationError(gettext(
                    'rkc_utilities.msg_recalculation_one_service',
                    recalculation=self.rec_name))
        if self.scope != 'account' and self.reason not in WIDE:
            raise RecalculationError(gettext(
                    'rkc_utilities.msg_recalculation_wide',
                    recalculation=self.rec_name))

    def check_documents(self):
        if not all(getattr(self, name) for name in DOCUMENTS[self.reason]):
            raise RecalculationError(gettext(
                    'rkc_utilities.msg_recalculation_documents',
                    recalculation=self.rec_name))

    def buildings(self):
        pool = Pool()
        Building = pool.get('rkc.building')
        if self.scope == 'account':
            return [self.account.premise.building.id]
        if self.scope == 'building':
            return [self.building.id]
        return [b.id for b in Building.search([], order=[('id', 'ASC')])]

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, records):
        pool = Pool()
        Line = pool.get('rkc.recalculation.line')
        Line.delete([line for r in records for line in r.lines])
        cls.write(records, {
                'prepared_by': None, 'prepared_at': None,
                'approved_by': None, 'approved_at': None})

    @classmethod
    @ModelView.button
    def preview(cls, records):
        """Compute the lines: an account's at once, a building's or more in
        one job per building."""
        transaction = Transaction()
        for record in records:
            record.check_inputs()
            if record.reason == 'temporary_absence':
                first, last = record.absent_periods()
                record.period_from, record.period_to = first, last
                record.save()
        now_done, jobs = [], []
        for record in records:
            if record.scope == 'account' or record.counters:
                record.compute(record.buildings()[0])
                now_done.append(record)
            else:
                buildings = record.buildings()
                record.pending_buildings = len(buildings)
                record.save()
                jobs.extend((transaction.database.name, transaction.user,
                        {'company': transaction.context.get('company')},
                        record.id, building) for building in buildings)
        cls.write(records, {
                'prepared_by': transaction.user,
                'prepared_at': dt.datetime.now()})
        cls.previewing([r for r in records if r not in now_done])
        cls.previewed(now_done)
        if jobs:
            # The jobs start once the record is committed.
            transaction.atexit(queue.enqueue_all,
                'rkc.jobs.preview_recalculation', jobs)

    @classmethod
    @Workflow.transition('previewing')
    def previewing(cls, records):
        pass

    @classmethod
    @Workflow.transition('previewed')
    def previewed(cls, records):
        pass

    def compute_building(self, building):
        "The job of one building: its lines, then close the preview."
        self.__class__.lock([self])
        record = self.__class__(self.id)
        if record.state != 'previewing':
            return
        record.compute(building)
        record.pending_buildings -= 1
        record.save()
        if record.pending_buildings <= 0:
            self.__class__.previewed([record])

    def compute(self, building):
        "Replace the lines of the building's accounts by new ones."
        pool = Pool()
        Line = pool.get('rkc.recalculation.line')
        if self.counters:
            rows = [{
                    'account': line.account.id, 'centre': line.centre.id,
                    'service': line.service.id, 'period': line.period,
                    'billed': line.should_be, 'should_be': line.billed,
                    'delta': -line.delta,
                    'volume': (-line.volume if line.volume is not None
                        else None),
                    'explanation': gettext(
                        'rkc_utilities.msg_recalculation_explain_counter',
                        recalculation=self.counters.rec_name),
                    'basis': json.dumps({'code': 'counter',
                            'counters': self.counters.id}),
                    } for line in self.counters.lines]
        else:
            rows = Preview(self, building).rows()
        Line.replace(self, building, rows)

    def absent_periods(self):
        try:
            absences = rules.absent_days(
                self.departure, self.return_date, self.applied_on)
        except CalculationError as error:
            raise RecalculationError(gettext(
                    'rkc_utilities.msg_recalculation_impossible',
                    recalculation=self.rec_name, error=error)) from error
        return absences[0][0], absences[-1][0]

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, records):
        pool = Pool()
        Configuration = pool.get('rkc.configuration')
        threshold = Configuration(1).recalculation_approval_amount
        user = Transaction().user
        for record in records:
            record.check_documents()
            amount = sum(
                (abs(line.delta) for line in record.lines), Decimal(0))
            # Two persons above the threshold: the one who prepared it may
            # not approve it too.
            if (threshold is not None and amount > threshold
                    and record.prepared_by
                    and record.prepared_by.id == user):
                raise RecalculationError(gettext(
                        'rkc_utilities.msg_recalculation_second_approval',
                        recalculation=record.rec_name, amount=amount,
                        threshold=threshold,
                        user=record.prepared_by.rec_name))
        cls.write(records, {
                'approved_by': user, 'approved_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, records):
        """Write the lines into the current open period, each referring to
        the month it concerns, and summarize them into the general
        ledger."""
        pool = Pool()
        Period = pool.get('rkc.period')
        LedgerLine = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        if not records:
            # Nothing to post does not open the current period.
            return
        today = dt.date.today()
        period = Period.current(today)
        period.check_open()
        date = min(max(today, period.start_date), period.end_date)
        for record in records:
            origin = str(record)
            LedgerLine.insert_rows([{
                        'account': line.account.id, 'centre': line.centre.id,
                        'service': line.service.id, 'period': line.period,
                        'date': date, 'kind': 'recalculation',
                        'amount': line.delta, 'volume': line.volume,
                        'tariff': None, 'excess': None,
                        'method': record.reason, 'basis': line.basis,
                        'origin': origin, 'part': 0}
                    for line in record.lines if line.delta])
            Posting.summarize(origin, date, gettext(
                    'rkc_utilities.msg_recalculation_move_description',
                    recalculation=record.rec_name))
        cls.write(records, {
                'posted_by': Transaction().user,
                'posted_at': dt.datetime.now()})

    @classmethod
    @ModelView.button_action('rkc_utilities.act_recalculation_form')
    def counter(cls, records):
        "A draft reversing each posted recalculation, line by line."
        counters = cls.copy(records)
        for counter, record in zip(counters, records, strict=True):
            counter.counters = record
        cls.save(counters)
        return {'res_id': [c.id for c in counters]}


class RecalculationService(ModelSQL):
    __name__ = 'rkc.recalculation-rkc.service'

    recalculation = fields.Many2One('rkc.recalculation', "Recalculation",
        required=True, ondelete='CASCADE')
    service = fields.Many2One('rkc.service', "Service", required=True,
        ondelete='RESTRICT')


class RecalculationEvent(ModelSQL, ModelView):
    "An interruption, or hours of hot water below the standard temperature."
    __name__ = 'rkc.recalculation.event'

    recalculation = fields.Many2One('rkc.recalculation', "Recalculation",
        required=True, ondelete='CASCADE')
    date = fields.Date("Date", required=True,
        help="Its month is the period the event reduces.")
    hours = fields.Numeric("Hours", digits=(16, 2), required=True,
        domain=[('hours', '>=', 0)])
    accident = fields.Boolean("Accident on a Dead-End Main",
        help="An interruption allowed up to 24 hours at a time.")
    room_temperature = fields.Numeric("Room Temperature", digits=(4, 1),
        help="For heating: the single-interruption limit depends on it.")
    temperature = fields.Numeric("Water Temperature", digits=(4, 1),
        help="For hot water below the standard: the measured °C.")
    night = fields.Boolean("Night",
        help="At night the allowed deviation is 5 °C instead of 3 °C.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'ASC'), ('id', 'ASC')]


class RecalculationLine(ModelSQL, ModelView):
    "What was billed for a period and service, what should have been."
    __name__ = 'rkc.recalculation.line'

    recalculation = fields.Many2One('rkc.recalculation', "Recalculation",
        required=True, ondelete='CASCADE', readonly=True)
    account = fields.Many2One('rkc.account', "Account", required=True,
        readonly=True, ondelete='RESTRICT')
    centre = fields.Many2One('rkc.centre', "Centre", required=True,
        readonly=True, ondelete='RESTRICT')
    service = fields.Many2One('rkc.service', "Service", required=True,
        readonly=True, ondelete='RESTRICT')
    period = fields.Date("Period", required=True, readonly=True)
    billed = fields.Numeric("Billed", digits=(16, 2), readonly=True,
        help="The charges and recalculations already posted for the "
        "period.")
    should_be = fields.Numeric("Should Be", digits=(16, 2), readonly=True)
    delta = fields.Numeric("Delta", digits=(16, 2), readonly=True)
    volume = fields.Numeric("Volume Delta", digits=(16, 6), readonly=True)
    explanation = fields.Char("Explanation", readonly=True)
    basis = fields.Char("Basis", readonly=True,
        help="How the delta was calculated (JSON).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('account', 'ASC'), ('period', 'ASC'),
            ('service', 'ASC'), ('id', 'ASC')]

    @classmethod
    def replace(cls, recalculation, building, rows):
        """Replace the lines of the building's accounts by ``rows`` in two
        statements: a building has thousands of lines."""
        pool = Pool()
        Account = pool.get('rkc.account')
        Premise = pool.get('rkc.premise')
        table = cls.__table__()
        account, premise = Account.__table__(), Premise.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=(
                    table.recalculation == recalculation.id)
                & table.account.in_(account.join(premise,
                        condition=account.premise == premise.id).select(
                        account.id, where=premise.building == building))))
        if not rows:
            return
        columns = ['account', 'centre', 'service', 'period', 'billed',
            'should_be', 'delta', 'volume', 'explanation', 'basis']
        user, now = Transaction().user, dt.datetime.now()
        values = ([row[c] for c in columns] + [recalculation.id, user, now]
            for row in rows)
        stored = columns + ['recalculation', 'create_uid', 'create_date']
        if backend.name == 'postgresql':
            copy_into(cursor, cls._table, stored, values)
            return
        # Batches under SQLite's limit of 32,766 parameters.
        for batch in grouped_slice(values, 2000):
            cursor.execute(*table.insert(
                    [getattr(table, c) for c in stored], values=list(batch)))


class Preview:
    """The lines of one recalculation for the accounts of one building:
    what each period and service was billed, what it should have been."""

    def __init__(self, recalculation, building):
        self.record = recalculation
        self.building = building
        self.reference = ReferenceData()
        self.service_ids = [s.id for s in recalculation.services]
        self.periods = _periods(
            recalculation.period_from, recalculation.period_to)
        self.accounts = self._accounts()
        self.billed, self.charged, self.run_billed = self._billed()

    def _accounts(self):
        "Accounts concerned: id → centre."
        pool = Pool()
        Account = pool.get('rkc.account')
        if self.record.scope == 'account':
            account = self.record.account
            return {account.id: account.centre.id}
        return {a.id: a.centre.id for a in Account.search([
                    ('premise.building', '=', self.building),
                    ], order=[('id', 'ASC')])}

    def _billed(self):
        """Per (account, service, period): the sum of the lines posted, of
        the charges alone, and whether a billing run charged it."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        zero = Decimal(0)
        cursor = Transaction().connection.cursor()
        billed, charged, run_billed = {}, {}, set()
        if not self.accounts:
            return billed, charged, run_billed
        cursor.execute(*line.select(
                line.account, line.service, line.period, Sum(line.amount),
                Sum(Case((line.kind == 'charge', line.amount), else_=zero)),
                Sum(Case((line.origin.like('rkc.billing.run,%'), 1),
                        else_=0)),
                where=line.account.in_(list(self.accounts))
                & line.service.in_(self.service_ids)
                & (line.period >= self.periods[0])
                & (line.period <= self.periods[-1])
                & line.kind.in_(BILLED_KINDS),
                group_by=[line.account, line.service, line.period]))
        for account, service, period, total, charge, runs in cursor:
            if isinstance(period, str):
                period = dt.date.fromisoformat(period[:10])
            key = (account, service, period)
            billed[key] = _money(total)
            charged[key] = _money(charge)
            if runs:
                run_billed.add((account, period))
        return billed, charged, run_billed

    def rows(self):
        "The line values, with the billed amount of every key."
        reason = self.record.reason
        if reason in REBILLED:
            deltas = self._rebilled()
        else:
            deltas = getattr(self, '_' + reason)()
        rows = []
        for (account, service, period), delta in sorted(deltas.items()):
            billed = self.billed.get((account, service, period), Decimal(0))
            amount = delta.amount
            rows.append({
                    'account': account, 'centre': self.accounts[account],
                    'service': service, 'period': period,
                    'billed': billed, 'should_be': billed + amount,
                    'delta': amount, 'volume': delta.volume,
                    'explanation': _explain(reason, delta.basis,
                        self.record),
                    'basis': json.dumps(dict(delta.basis, reason=reason),
                        default=_json_default, ensure_ascii=False),
                    })
        return rows

    def _keys(self):
        """(account, service, period) a billing run charged: a period not
        billed yet is the billing run's, never a recalculation's."""
        for account in self.accounts:
            for period in self.periods:
                if (account, period) not in self.run_billed:
                    if self.record.scope == 'account':
                        raise RecalculationError(gettext(
                                'rkc_utilities.msg_recalculation_not_billed',
                                account=self.record.account.rec_name,
                                period=f'{period:%Y-%m}'))
                    continue
                for service in self.service_ids:
                    if (account, service, period) in self.billed:
                        yield account, service, period

    def _impossible(self, error):
        return RecalculationError(gettext(
                'rkc_utilities.msg_recalculation_impossible',
                recalculation=self.record.rec_name, error=error))

    def _code(self, service):
        return self.reference.services[service][0]

    def _rebilled(self):
        """Re-run the billing engine for each period with today's inputs:
        the tariffs valid each day, the corrected reading."""
        keys = defaultdict(set)
        for account, service, period in self._keys():
            keys[period].add((account, service))
        deltas = {}
        for period in self.periods:
            if not keys[period]:
                continue
            chunk = load_chunk(period, [self.building], self.reference,
                rebill=True, account_ids={a for a, _ in keys[period]})
            for account in chunk:
                services, service_ids = account.services
                if (self.record.reason == 'corrected_reading'
                        and period == self.periods[-1]):
                    services = [self._corrected(s, service_ids)
                        for s in services]
                bill = engine.bill_account(period, account.input, services)
                if bill.errors:
                    raise self._impossible('; '.join(
                            f'{e.service}: {e.message}'
                            for e in bill.errors))
                amounts = defaultdict(Decimal)
                volumes = defaultdict(Decimal)
                for line in bill.lines:
                    service = service_ids[line.service]
                    amounts[service] += line.amount
                    if line.kind == 'charge':
                        volumes[service] += line.volume or 0
                for service in self.service_ids:
                    key = (account.id, service, period)
                    if (account.id, service) not in keys[period]:
                        continue
                    amount = amounts[service] - self.billed[key]
                    deltas[key] = rules.Delta(period, amount, basis={
                            'code': self.record.reason,
                            'should_be': amounts[service],
                            'volume': volumes[service]})
        return deltas

    def _corrected(self, service, service_ids):
        "The service with its meter's current reading corrected."
        if service_ids.get(service.code) not in self.service_ids:
            return service
        if service.meter is None or len(service.meter.zones) != 1:
            raise self._impossible(gettext(
                    'rkc_utilities.msg_recalculation_no_meter'))
        zone, = service.meter.zones
        zone = dataclasses.replace(
            zone, current=self.record.corrected_reading)
        return dataclasses.replace(service, meter=dataclasses.replace(
                service.meter, zones=(zone,)))

    def _temporary_absence(self):
        record = self.record
        absences = rules.absent_days(
            record.departure, record.return_date, record.applied_on)
        account = record.account
        methods = self._charge_methods()
        deltas = {}
        for service in record.services:
            # Billed by norm is what was billed, not the service's method:
            # a metered service is billed by norm where no meter is.
            if not all(rules.absence_applies(method,
                        account.premise.meter_installable,
                        method.startswith('heating'))
                    for method in methods[service.id] or ['']):
                raise RecalculationError(gettext(
                        'rkc_utilities.msg_recalculation_absence_service',
                        service=service.rec_name))
            keys = {k[2]: k for k in self._keys() if k[1] == service.id}
            per_person = {}
            for period in keys:
                persons = account.premise.residents_on(period)
                if persons:
                    per_person[period] = self.charged[keys[period]] / persons
            for delta in rules.temporary_absence(
                    [(p, d) for p, d in absences if p in per_person],
                    per_person):
                deltas[keys[delta.period]] = delta
        return deltas

    def _charge_methods(self):
        "The billing methods of the charges of each service concerned."
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(line.service, line.method,
                where=line.account.in_(list(self.accounts))
                & line.service.in_(self.service_ids)
                & (line.period >= self.periods[0])
                & (line.period <= self.periods[-1])
                & (line.kind == 'charge'),
                group_by=[line.service, line.method]))
        methods = defaultdict(list)
        for service, method in cursor:
            methods[service].append(method or '')
        return methods

    def _events_by_period(self):
        events = defaultdict(list)
        for event in self.record.events:
            events[calendar.period_of(event.date)].append(event)
        return events

    def _interruption(self):
        events = self._events_by_period()
        deltas = {}
        for key in self._keys():
            _, service, period = key
            if not events[period]:
                continue
            deltas[key] = self._rule(rules.interruption, period,
                self._code(service), self.charged[key], [
                    rules.Interruption(
                        e.hours, bool(e.accident), e.room_temperature)
                    for e in events[period]])
        return deltas

    def _temperature(self):
        events = self._events_by_period()
        deltas = {}
        for key in self._keys():
            _, _, period = key
            if not events[period]:
                continue
            deltas[key] = self._rule(rules.hot_water_temperature, period,
                self.charged[key], [
                    rules.TemperatureDeviation(
                        e.hours, e.temperature, bool(e.night))
                    for e in events[period]])
        return deltas

    def _rule(self, rule, *args):
        try:
            return rule(*args)
        except CalculationError as error:
            raise self._impossible(error) from error

    def _manual(self):
        period = self.periods[0]
        deltas = {}
        for key in self._keys():
            if key[2] == period:
                deltas[key] = rules.Delta(period, self.record.manual_amount,
                    basis={'code': 'manual'})
        return deltas


def _explain(reason, basis, record):
    "The line's explanation in the user's language."
    if reason == 'temporary_absence':
        return gettext('rkc_utilities.msg_recalculation_explain_absence',
            days=basis['days'], days_in_month=basis['days_in_month'])
    if reason == 'interruption':
        return gettext(
            'rkc_utilities.msg_recalculation_explain_interruption',
            hours=basis['excess_hours'])
    if reason == 'temperature':
        return gettext(
            'rkc_utilities.msg_recalculation_explain_temperature',
            hours=basis['step_hours'])
    if reason == 'corrected_reading':
        return gettext(
            'rkc_utilities.msg_recalculation_explain_corrected_reading',
            reading=record.corrected_reading)
    if reason == 'tariff_change':
        return gettext(
            'rkc_utilities.msg_recalculation_explain_tariff_change')
    return gettext('rkc_utilities.msg_recalculation_explain_manual')

