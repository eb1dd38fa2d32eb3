# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Penalties (rules.md §3) from the subledger: the debts of each account by
period and its payments with their dates go through the penalty engine;
the monthly penalty run posts, per account and debt period, what the
penalty grew by since the last run (chunk jobs, one building each); the
desk's calculator shows the bands for any account and date."""
import json
from collections import defaultdict
from decimal import Decimal

from sql.aggregate import Sum

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from rkc.engine import penalty as engine
from rkc.engine.money import read_money as _money
from rkc.setup import PENALTY_SERVICE

from .billing_input import _date
from .common import (
    JobFailureMixin, close_when_chunks_done, queue_after_commit,
    queue_call_after_commit, today)

ZERO = Decimal('0.00')
# What the consumer owes for a period, besides payments and penalties.
DEBT_KINDS = ('charge', 'recalculation', 'subsidy', 'write_off',
    'instalment')


def penalty_service():
    "The id of the service that carries penalties."
    Service = Pool().get('rkc.service')
    service, = Service.search(
        [('code', '=', PENALTY_SERVICE['code'])], limit=1)
    return service.id


def debt_history(account_ids, as_of, excluded=None):
    """Per account, the engine's inputs on ``as_of`` from the subledger:
    ({period: {'debt': principal}}, [Payment]). ``excluded`` maps an
    account to periods left out (restructured under an agreement): their
    debt and the payments naming them."""
    pool = Pool()
    Line = pool.get('rkc.ledger.line')
    line = Line.__table__()
    excluded = excluded or {}
    penalty = penalty_service()
    cursor = Transaction().connection.cursor()
    where = (line.account.in_(list(account_ids))
        & (line.service != penalty) & (line.period <= as_of))
    debts = defaultdict(dict)
    cursor.execute(*line.select(
            line.account, line.period, Sum(line.amount),
            where=where & line.kind.in_(DEBT_KINDS),
            group_by=[line.account, line.period]))
    for account, period, amount in cursor:
        period, amount = _date(period), _money(amount)
        if amount > 0 and period not in excluded.get(account, ()):
            debts[account][period] = {'debt': amount}
    payments = defaultdict(list)
    cursor.execute(*line.select(
            line.account, line.date, line.period, Sum(line.amount),
            where=where & (line.kind == 'payment') & (line.date <= as_of),
            group_by=[line.account, line.date, line.period],
            order_by=[line.date]))
    for account, day, period, amount in cursor:
        period, amount = _date(period), -_money(amount)
        if amount <= 0 or period in excluded.get(account, ()):
            continue
        named = period if period in debts[account] else None
        payments[account].append(
            engine.Payment(_date(day), amount, named))
    return {account: (debts[account], payments[account])
        for account in account_ids}


def posted_penalties(account_ids, except_origin=None):
    "The penalties posted so far: {(account, debt period): amount}."
    pool = Pool()
    Line = pool.get('rkc.ledger.line')
    line = Line.__table__()
    where = (line.account.in_(list(account_ids))
        & (line.service == penalty_service())
        & (line.kind == 'penalty'))
    if except_origin:
        where &= line.origin != except_origin
    cursor = Transaction().connection.cursor()
    cursor.execute(*line.select(
            line.account, line.period, Sum(line.amount), where=where,
            group_by=[line.account, line.period]))
    return {(account, _date(period)): _money(amount)
        for account, period, amount in cursor}


def account_penalties(account_ids, as_of):
    """{account: [PeriodPenalty]} on ``as_of``, oldest period first,
    without the debt restructured under an honoured agreement."""
    if not account_ids:
        return {}
    Agreement = Pool().get('rkc.agreement')
    excluded = Agreement.restructured_periods(account_ids)
    result = {}
    for account, (debts, payments) in debt_history(
            account_ids, as_of, excluded).items():
        result[account] = engine.penalties(debts, payments, as_of)[0] \
            if debts else []
    return result


class PenaltyRun(JobFailureMixin, Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.penalty.run'

    period = fields.Many2One(
        'rkc.period', "Period", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'},
        help="The penalties are calculated on its last day and shown on "
        "its receipt.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('running', "Running"),
            ('done', "Done"),
            ], "State", readonly=True, required=True)
    chunks = fields.One2Many(
        'rkc.penalty.run.chunk', 'run', "Chunks", readonly=True)
    amount = fields.Function(fields.Numeric(
            "Amount", digits=(16, 2),
            help="The penalties posted by the run."), 'get_amount')
    postings = fields.One2Many(
        'rkc.ledger.posting', 'origin', "General Ledger", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('period_unique', Unique(t, t.period),
                'rkc_utilities.msg_penalty_run_unique'),
            ]
        cls._order = [('id', 'DESC')]
        cls._transitions |= {('draft', 'running'), ('running', 'done')}
        cls._buttons.update({
                'run': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') != 'running',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    def get_rec_name(self, name):
        return self.period.name

    def get_amount(self, name):
        Line = Pool().get('rkc.ledger.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(
                Sum(line.amount), where=line.origin == str(self)))
        return _money(cursor.fetchone()[0])

    @classmethod
    @ModelView.button
    @Workflow.transition('running')
    def run(cls, runs):
        pool = Pool()
        Building = pool.get('rkc.building')
        Chunk = pool.get('rkc.penalty.run.chunk')
        buildings = [b.id for b in Building.search([])]
        for run in runs:
            run.period.check_open()
            Chunk.create([{'run': run.id, 'building': b}
                    for b in buildings])
        queue_after_commit('rkc.debt_jobs.penalty_chunk',
            [c for r in cls.browse(runs) for c in r.chunks])

    @classmethod
    @ModelView.button
    def resume(cls, runs):
        "Queue again the chunks a killed or failed job left unfinished."
        queue_after_commit('rkc.debt_jobs.penalty_chunk',
            [c for r in runs for c in r.chunks if c.state != 'done'])
        # A worker killed after its chunk but before the closing job.
        queue_call_after_commit(runs, 'finish_if_done')

    @classmethod
    def finish_if_done(cls, run_id):
        """Close the run if its last chunk is done and nobody closed it
        yet; the run is locked only then."""
        close_when_chunks_done(cls(run_id),
            Pool().get('rkc.penalty.run.chunk'),
            [('run', '=', run_id), ('state', '!=', 'done')], 'running',
            cls.finish)

    @classmethod
    def finish(cls, run):
        "The last chunk is done: summarize into the general ledger."
        Posting = Pool().get('rkc.ledger.posting')
        Posting.summarize(str(run), run.period.end_date,
            gettext('rkc_utilities.msg_penalty_move_description',
                period=run.period.name))
        cls.write([run], {'state': 'done'})


class PenaltyChunk(ModelSQL, ModelView):
    __name__ = 'rkc.penalty.run.chunk'

    run = fields.Many2One(
        'rkc.penalty.run', "Run", required=True, ondelete='CASCADE')
    building = fields.Many2One(
        'rkc.building', "Building", required=True, ondelete='RESTRICT')
    state = fields.Selection([
            ('pending', "Pending"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True)
    accounts = fields.Integer("Accounts", readonly=True)
    lines = fields.Integer("Lines", readonly=True)
    failure = fields.Text("Failure", readonly=True,
        help="Why the last attempt failed; the chunk is retried.")

    @staticmethod
    def default_state():
        return 'pending'

    def process(self):
        """Post the building's penalty lines: per account and debt period,
        the penalty on the period's last day less what earlier runs
        posted. Idempotent: a done chunk is skipped."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Account = pool.get('rkc.account')
        self.__class__.lock([self])
        chunk = self.__class__(self.id)
        if chunk.state == 'done':
            return
        run = chunk.run
        run.period.check_open()
        as_of = run.period.end_date
        origin = str(run)
        accounts = {a.id: a.centre.id for a in Account.search([
                    ('premise.building', '=', chunk.building.id)])}
        service = penalty_service()
        posted = posted_penalties(accounts, except_origin=origin)
        rows = []
        for account, periods in account_penalties(accounts, as_of).items():
            for result in periods:
                before = posted.get((account, result.period), ZERO)
                if result.penalty == before:
                    continue
                rows.append({
                        'account': account, 'centre': accounts[account],
                        'service': service, 'period': result.period,
                        'date': as_of, 'kind': 'penalty',
                        'amount': result.penalty - before,
                        'volume': None, 'tariff': None, 'excess': None,
                        'method': 'penalty',
                        'basis': json.dumps({
                                'as_of': as_of.isoformat(),
                                'penalty': str(result.penalty),
                                'posted': str(before)}),
                        'origin': origin, 'part': 0})
        Line.insert_rows(rows)
        chunk.state = 'done'
        chunk.failure = None
        chunk.accounts = len(accounts)
        chunk.lines = len(rows)
        chunk.save()
        # Closing the run is a job of its own: locking the run here would
        # make Tryton restart this transaction holding that lock from its
        # start, and the other workers' chunks would wait for (or fail on)
        # it meanwhile.
        queue_call_after_commit([run], 'finish_if_done')


class CalculatorStart(ModelView):
    __name__ = 'rkc.penalty.calculator.start'

    account = fields.Many2One('rkc.account', "Account", required=True)
    date = fields.Date("Calculation Date", required=True,
        help="The day the penalty is calculated on (for a claim: the "
        "claim date).")

    @staticmethod
    def default_date():
        return today()


class CalculatorResult(ModelView):
    __name__ = 'rkc.penalty.calculator.result'

    account = fields.Many2One('rkc.account', "Account", readonly=True)
    date = fields.Date("Calculation Date", readonly=True)
    total = fields.Numeric("Penalty", digits=(16, 2), readonly=True)
    bands = fields.One2Many(
        'rkc.penalty.calculator.band', None, "Bands", readonly=True)


class CalculatorBand(ModelView):
    "A row of the debt and penalty table."
    __name__ = 'rkc.penalty.calculator.band'

    period = fields.Date("Period", readonly=True)
    due_date = fields.Date("Due Date", readonly=True)
    start = fields.Date("From", readonly=True)
    end = fields.Date("To", readonly=True)
    days = fields.Integer("Days", readonly=True)
    fraction = fields.Char("Fraction", readonly=True)
    rate = fields.Numeric("Rate, %", digits=(16, 2), readonly=True)
    base = fields.Numeric("Debt", digits=(16, 2), readonly=True)
    moratorium = fields.Boolean("Moratorium", readonly=True)
    amount = fields.Numeric("Penalty", digits=(16, 2), readonly=True)


def band_rows(periods):
    "The rows of the debt and penalty table, as plain dicts."
    return [{
            'period': result.period, 'due_date': result.due_date,
            'start': band.start, 'end': band.end, 'days': band.days,
            'fraction': f'1/{band.denominator}', 'rate': band.rate,
            'base': band.base, 'moratorium': band.moratorium,
            'amount': band.amount}
        for result in periods for band in result.bands]


class Calculator(Wizard):
    "The penalty of an account on any date, band by band."
    __name__ = 'rkc.penalty.calculator'

    start = StateView('rkc.penalty.calculator.start',
        'rkc_utilities.penalty_calculator_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Calculate", 'calculate', 'tryton-ok', default=True),
            ])
    calculate = StateTransition()
    result = StateView('rkc.penalty.calculator.result',
        'rkc_utilities.penalty_calculator_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        if self.model and self.model.__name__ == 'rkc.account' \
                and self.record:
            return {'account': self.record.id}
        return {}

    def transition_calculate(self):
        return 'result'

    def default_result(self, fields):
        account, day = self.start.account.id, self.start.date
        periods = account_penalties([account], day)[account]
        return {
            'account': account, 'date': day,
            'total': sum((p.penalty for p in periods), ZERO),
            'bands': band_rows(periods),
            }
