# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Billing runs: a period's charges for a scope, previewed then posted by
chunk jobs (one building each) into the subledger, then summarized into the
general ledger with one move per centre.

Organisations' charges are left out of that summary: a job of their own
then invoices them (a Tryton invoice each, whose move carries them into the
general ledger). An invoice costs Tryton's ORM about a third of a second
here, as much as billing a thousand households, so the households' run does
not wait for it; the run is done once the invoices are."""
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

from sql import Column
from sql.aggregate import Count, Sum
from sql.functions import CurrentTimestamp

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from rkc import queue
from rkc.engine import billing as engine
from rkc.engine.money import round_money

from .billing_input import ReferenceData, load_chunk
from .common import (
    JobFailureMixin, close_when_chunks_done, locked_in_state,
    queue_call_after_commit)
from .exceptions import BillingError

RUN_STATES = [
    ('draft', "Draft"),
    ('previewing', "Previewing"),
    ('previewed', "Previewed"),
    ('posting', "Posting"),
    ('invoicing', "Invoicing Organisations"),
    ('done', "Done"),
    ]
SCOPES = [
    ('all', "All Centres"),
    ('centre', "Centre"),
    ('building', "Building"),
    ]
OUTLIER_FACTOR = Decimal(3)


def _json_default(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class BillingRun(JobFailureMixin, Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.billing.run'

    period = fields.Many2One(
        'rkc.period', "Period", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    scope = fields.Selection(SCOPES, "Scope", required=True,
        states={'readonly': Eval('state') != 'draft'})
    centre = fields.Many2One('rkc.centre', "Centre",
        states={
            'required': Eval('scope') == 'centre',
            'invisible': Eval('scope') != 'centre',
            'readonly': Eval('state') != 'draft',
            })
    building = fields.Many2One('rkc.building', "Building",
        states={
            'required': Eval('scope') == 'building',
            'invisible': Eval('scope') != 'building',
            'readonly': Eval('state') != 'draft',
            })
    state = fields.Selection(RUN_STATES, "State", readonly=True,
        required=True)
    chunks = fields.One2Many(
        'rkc.billing.run.chunk', 'run', "Chunks", readonly=True)
    progress = fields.Function(fields.Float(
            "Progress", digits=(1, 2),
            help="Share of the chunks done in the current phase."),
        'get_progress')
    totals = fields.One2Many(
        'rkc.billing.run.total', 'run', "Totals", readonly=True)
    errors = fields.One2Many(
        'rkc.billing.run.error', 'run', "Errors", readonly=True,
        help="Accounts that could not be billed and why.")
    outliers = fields.One2Many(
        'rkc.billing.run.outlier', 'run', "Outliers", readonly=True,
        help="Bills to look at before posting.")
    postings = fields.One2Many(
        'rkc.ledger.posting', 'origin', "General Ledger", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'previewing'), ('previewing', 'previewed'),
            ('previewed', 'previewing'), ('draft', 'posting'),
            ('previewed', 'posting'), ('posting', 'invoicing'),
            ('invoicing', 'done'),
            }
        cls._buttons.update({
                'preview': {
                    'invisible': ~Eval('state').in_(['draft', 'previewed']),
                    'depends': ['state'],
                    },
                'post': {
                    'invisible': ~Eval('state').in_(['draft', 'previewed']),
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': ~Eval('state').in_(
                        ['previewing', 'posting', 'invoicing']),
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_scope():
        return 'all'

    def get_rec_name(self, name):
        scope = (self.centre.rec_name if self.centre
            else self.building.rec_name if self.building else '')
        return ' '.join(filter(None, [self.period.name, scope]))

    @classmethod
    def get_progress(cls, runs, name):
        "Counted in the database: a run of 500,000 accounts has many chunks."
        pool = Pool()
        Chunk = pool.get('rkc.billing.run.chunk')
        chunk = Chunk.__table__()
        cursor = Transaction().connection.cursor()
        progress = {r.id: 0.0 for r in runs}
        phases = {r.id: 'previewed' if r.state == 'previewing' else 'posted'
            for r in runs}
        cursor.execute(*chunk.select(
                chunk.run, chunk.state, Count(chunk.id),
                where=chunk.run.in_(list(phases)),
                group_by=[chunk.run, chunk.state]))
        totals, done = defaultdict(int), defaultdict(int)
        for run_id, state, count in cursor:
            totals[run_id] += count
            if state == phases[run_id]:
                done[run_id] += count
        for run_id, total in totals.items():
            progress[run_id] = done[run_id] / total
        return progress

    def buildings(self):
        pool = Pool()
        Building = pool.get('rkc.building')
        if self.scope == 'building':
            return [self.building.id]
        domain = []
        if self.scope == 'centre':
            domain.append(('centre', '=', self.centre.id))
        return [b.id for b in Building.search(domain, order=[('id', 'ASC')])]

    @classmethod
    def check_overlap(cls, runs):
        "A period is billed once: refuse a run whose scope was billed."
        for run in runs:
            run.period.check_open()
            if run.period.state != 'open':
                raise BillingError(gettext(
                        'rkc_utilities.msg_billing_period_billed',
                        period=run.period.name))
            others = cls.search([
                    ('id', '!=', run.id),
                    ('period', '=', run.period.id),
                    ('state', 'in', ['posting', 'done']),
                    ])
            mine = set(run.buildings())
            for other in others:
                if mine & set(other.buildings()):
                    raise BillingError(gettext(
                            'rkc_utilities.msg_billing_scope_billed',
                            run=other.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('previewing')
    def preview(cls, runs):
        cls._start(runs, 'preview')

    @classmethod
    @ModelView.button
    @Workflow.transition('posting')
    def post(cls, runs):
        cls.check_overlap(runs)
        cls._start(runs, 'post')

    @classmethod
    @ModelView.button
    def resume(cls, runs):
        "Queue again the chunks a killed or failed job left unfinished."
        transaction = Transaction()
        for run in runs:
            if run.state == 'invoicing':
                queue_call_after_commit([run], 'invoice_organisations')
                continue
            phase = 'preview' if run.state == 'previewing' else 'post'
            done = 'previewed' if phase == 'preview' else 'posted'
            transaction.atexit(_enqueue_chunks, transaction.database.name,
                transaction.user,
                {'company': transaction.context.get('company')}, phase,
                [c.id for c in run.chunks if c.state != done])
            # A worker killed after its chunk but before the finish job.
            queue_call_after_commit([run], 'finish_if_done', phase)

    @classmethod
    def finish_if_done(cls, run_id, phase):
        """Close the phase if its last chunk is done and nobody closed it
        yet; the run is locked only then."""
        done_state = 'previewed' if phase == 'preview' else 'posted'
        close_when_chunks_done(cls(run_id),
            Pool().get('rkc.billing.run.chunk'),
            [('run', '=', run_id), ('state', '!=', done_state)],
            'previewing' if phase == 'preview' else 'posting',
            lambda run: cls.finish(run, phase))

    @classmethod
    def finish(cls, run, phase):
        """The last chunk of a phase is done: close the phase; a posted
        run goes on to the invoicing job, which posts it into the general
        ledger."""
        pool = Pool()
        if phase == 'preview':
            cls.write([run], {'state': 'previewed'})
            return
        pool.get('rkc.ledger.line').refresh_statistics(
            run.period.start_date)
        cls.write([run], {'state': 'invoicing'})
        queue_call_after_commit([run], 'invoice_organisations')

    def prepare_moves(self, centres):
        """{centre: the draft move of the run's lines of the centre}: the
        chunks write their households' lines into them, so that posting
        the run updates none of its lines."""
        return Pool().get('rkc.ledger.posting').prepare(
            str(self), centres, self.period.end_date,
            gettext('rkc_utilities.msg_billing_move_description',
                run=self.rec_name))

    def summarize(self):
        """Post the run's lines into the general ledger: its prepared
        moves, with the organisations' lines no invoice took."""
        Posting = Pool().get('rkc.ledger.posting')
        origin = str(self)
        Posting.adopt_unsummarized(origin,
            self.prepare_moves(Posting.unsummarized_centres(origin)))
        Posting.post_prepared(origin)

    @classmethod
    def invoice_organisations(cls, run_id):
        """Invoice the organisations a posted run billed, summarize what no
        invoice took (an organisation invoiced for the period already, one
        with nothing to pay), and mark the run done. Idempotent."""
        pool = Pool()
        Period = pool.get('rkc.period')
        AccountInvoice = pool.get('rkc.account.invoice')
        run = cls(run_id)
        if not locked_in_state(run, 'invoicing'):
            return
        AccountInvoice.invoice_run(run)
        run.summarize()
        cls.write([run], {'state': 'done'})
        if run.scope == 'all':
            Period.write([run.period], {'state': 'billed'})

    @classmethod
    def _start(cls, runs, phase):
        pool = Pool()
        Chunk = pool.get('rkc.billing.run.chunk')
        transaction = Transaction()
        for run in runs:
            if not run.chunks:
                Chunk.create([{'run': run.id, 'building': b}
                        for b in run.buildings()])
            if phase == 'post':
                run.prepare_moves(
                    [c.id for c in pool.get('rkc.centre').search([])])
        chunks = [c.id for r in cls.browse(runs) for c in r.chunks]
        database = transaction.database.name
        user = transaction.user
        context = {'company': transaction.context.get('company')}
        # The jobs start once the run and its chunks are committed.
        transaction.atexit(_enqueue_chunks, database, user, context, phase,
            chunks)


def _enqueue_chunks(database, user, context, phase, chunk_ids):
    queue.enqueue_all('rkc.jobs.process_chunk', [
            (database, user, context, phase, chunk_id)
            for chunk_id in chunk_ids])


class BillingChunk(ModelSQL, ModelView):
    __name__ = 'rkc.billing.run.chunk'

    run = fields.Many2One(
        'rkc.billing.run', "Run", required=True, ondelete='CASCADE')
    building = fields.Many2One(
        'rkc.building', "Building", required=True, ondelete='RESTRICT')
    state = fields.Selection([
            ('pending', "Pending"),
            ('previewed', "Previewed"),
            ('posted', "Posted"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True)
    accounts = fields.Integer("Accounts", readonly=True)
    failure = fields.Text("Failure", readonly=True,
        help="Why the last attempt failed; the chunk is retried.")
    lines = fields.Integer("Lines", readonly=True)

    @staticmethod
    def default_state():
        return 'pending'

    def process(self, phase):
        """Bill the building's accounts: ``preview`` computes totals and
        outliers, ``post`` writes the subledger lines. Idempotent: a chunk
        done in its phase is skipped; its own rows are replaced."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Total = pool.get('rkc.billing.run.total')
        Error = pool.get('rkc.billing.run.error')
        Outlier = pool.get('rkc.billing.run.outlier')
        Account = pool.get('rkc.account')
        done_state = 'previewed' if phase == 'preview' else 'posted'
        # Serialize with another worker on the same chunk.
        self.__class__.lock([self])
        chunk = self.__class__(self.id)
        if chunk.state == done_state:
            return
        run = chunk.run
        period = run.period.start_date
        if phase == 'post':
            run.period.check_open()
        origin = str(run)
        reference = ReferenceData()
        accounts = load_chunk(period, [chunk.building.id], reference)
        # Charges are accrued in the month they are for.
        posted_on = run.period.end_date
        rows, errors, totals = [], [], defaultdict(
            lambda: [Decimal(0), Decimal(0), 0])
        for account in accounts:
            services, service_ids = account.services
            bill = engine.bill_account(period, account.input, services)
            if bill.errors:
                errors.extend({
                        'run': run.id, 'chunk': chunk.id, 'phase': phase,
                        'account': account.id,
                        'service': service_ids.get(e.service),
                        'message': e.message} for e in bill.errors)
                continue
            parts = defaultdict(int)
            for line in bill.lines:
                service_id = service_ids[line.service]
                key = (service_id, line.kind)
                rows.append({
                        'account': account.id, 'centre': account.centre,
                        'service': service_id, 'period': line.period,
                        'date': posted_on, 'kind': line.kind,
                        'amount': line.amount, 'volume': line.volume,
                        'tariff': line.tariff, 'excess': line.excess,
                        'method': line.method,
                        'basis': json.dumps(line.basis,
                            default=_json_default, ensure_ascii=False),
                        'origin': origin, 'part': parts[key]})
                parts[key] += 1
                total = totals[(account.centre, service_id)]
                total[0] += line.amount
                total[1] += line.volume or 0
                total[2] += 1
        outliers = Outlier.detect(run, chunk, phase, rows)
        if phase == 'post':
            # An organisation's lines wait for its invoice, whose move
            # summarizes them.
            organisations = {a.id for a in Account.search([
                        ('premise.building', '=', chunk.building.id),
                        ('organisation', '=', True)])}
            moves = run.prepare_moves({row['centre'] for row in rows})
            for row in rows:
                if row['account'] not in organisations:
                    row['move'] = moves[row['centre']]
            Line.insert_rows(rows)
        Total.replace(chunk, phase, [{
                    'run': run.id, 'chunk': chunk.id, 'phase': phase,
                    'centre': centre, 'service': service,
                    'amount': amount, 'volume': volume, 'lines': count}
                for (centre, service), (amount, volume, count)
                in totals.items()])
        Error.replace(chunk, phase, errors)
        Outlier.replace(chunk, phase, outliers)
        # Plain SQL like the results above: the ORM's create and write cost
        # more than the chunk's own billing.
        table = self.__table__()
        transaction = Transaction()
        transaction.connection.cursor().execute(*table.update(
                [table.state, table.failure, table.accounts, table.lines,
                    table.write_uid, table.write_date],
                [done_state, None, len(accounts), len(rows),
                    transaction.user, CurrentTimestamp()],
                where=table.id == chunk.id))
        queue_call_after_commit([run], 'finish_if_done', phase)


class ChunkResultMixin:
    "A result a chunk writes in one phase and replaces when it reruns."
    __slots__ = ()
    run = fields.Many2One(
        'rkc.billing.run', "Run", required=True, ondelete='CASCADE')
    chunk = fields.Many2One(
        'rkc.billing.run.chunk', "Chunk", ondelete='CASCADE')
    phase = fields.Selection([
            ('preview', "Preview"),
            ('post', "Posted"),
            ], "Phase", readonly=True)

    @classmethod
    def replace(cls, chunk, phase, rows):
        """Write the chunk's results of the phase (dicts of column values),
        replacing those of an earlier attempt, in two statements."""
        table = cls.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        cursor.execute(*table.delete(
                where=(table.chunk == chunk.id) & (table.phase == phase)))
        if not rows:
            return
        columns = list(rows[0])
        cursor.execute(*table.insert(
                [Column(table, c) for c in columns]
                + [table.create_uid, table.create_date],
                values=[[row[c] for c in columns]
                    + [transaction.user, CurrentTimestamp()]
                    for row in rows]))


class BillingTotal(ChunkResultMixin, ModelSQL, ModelView):
    __name__ = 'rkc.billing.run.total'

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    service = fields.Many2One('rkc.service', "Service", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    volume = fields.Numeric("Volume", digits=(16, 6), readonly=True)
    lines = fields.Integer("Lines", readonly=True)


class BillingErrorLine(ChunkResultMixin, ModelSQL, ModelView):
    __name__ = 'rkc.billing.run.error'

    account = fields.Many2One('rkc.account', "Account", readonly=True)
    service = fields.Many2One('rkc.service', "Service", readonly=True)
    message = fields.Text("Message", readonly=True)


class BillingOutlier(ChunkResultMixin, ModelSQL, ModelView):
    __name__ = 'rkc.billing.run.outlier'

    account = fields.Many2One('rkc.account', "Account", readonly=True)
    service = fields.Many2One('rkc.service', "Service", readonly=True)
    reason = fields.Selection([
            ('tripled', "More than 3× last month"),
            ('zero_metered', "Zero on an active meter"),
            ('estimated', "Estimated consumption"),
            ], "Reason", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    previous_amount = fields.Numeric(
        "Last Month", digits=(16, 2), readonly=True)

    @classmethod
    def detect(cls, run, chunk, phase, rows):
        """Bills to look at: above 3× the account's last month, zero on a
        meter, or estimated."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        amounts = defaultdict(Decimal)
        outliers = []
        for row in rows:
            amounts[(row['account'], row['service'])] += row['amount']
            if row['method'] == 'average':
                outliers.append((row['account'], row['service'],
                        'estimated', row['amount'], None))
        if not amounts:
            return []
        previous_period = (run.period.start_date - dt.timedelta(days=1)
            ).replace(day=1)
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(
                line.account, line.service, Sum(line.amount),
                where=SQL_OPERATORS['in'](
                    line.account, list({a for a, _ in amounts}))
                & (line.period == previous_period)
                & (line.kind == 'charge'),
                group_by=[line.account, line.service]))
        previous = {(a, s): round_money(Decimal(str(v)))
            for a, s, v in cursor}
        for (account, service), amount in amounts.items():
            last = previous.get((account, service))
            if last and last > 0 and amount > OUTLIER_FACTOR * last:
                outliers.append(
                    (account, service, 'tripled', amount, last))
        for row in rows:
            if row['method'] == 'metered' and not row['amount'] \
                    and row['kind'] == 'charge':
                outliers.append((row['account'], row['service'],
                        'zero_metered', row['amount'], None))
        return [{'run': run.id, 'chunk': chunk.id, 'phase': phase,
                'account': a, 'service': s, 'reason': r, 'amount': amount,
                'previous_amount': last}
            for a, s, r, amount, last in outliers]
