# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The per-account subledger, its postings to the general ledger and the
turnover materialized when a period closes (DESIGN.md, "The ledger")."""
import datetime as dt
import logging
import operator
from decimal import Decimal

from sql import Literal, Null
from sql.aggregate import Max, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Round

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from rkc.bulk_insert import copy_data, copy_insert, copy_into
from rkc.engine.dated import add_months
from rkc.engine.money import read_money as _money
from rkc.engine.open_items import earliest_periods

from . import ledger_partition
from .billing_input import _date
from .common import BulkReferencesMixin, LeanIndexesMixin
from .exceptions import PostedError

logger = logging.getLogger(__name__)
# Months of the subledger given their partition ahead of their period.
PARTITIONS_AHEAD = 2
# How long opening a period waits for the default partition's lock.
PARTITION_LOCK_TIMEOUT = '5s'
KINDS = [
    ('charge', "Charge"),
    ('recalculation', "Recalculation"),
    ('payment', "Payment"),
    ('subsidy', "Subsidy"),
    ('penalty', "Penalty"),
    ('write_off', "Write-off"),
    ('instalment', "Instalment"),
    ]
# A line is posted once per document, service, period, kind and part.
CONFLICT = ('account', 'service', 'period', 'kind', 'origin', 'part')
# The columns LedgerLine.insert_rows writes of each row.
INSERTED_COLUMNS = [
    'account', 'centre', 'service', 'period', 'date', 'kind', 'amount',
    'volume', 'tariff', 'excess', 'method', 'basis', 'origin', 'part', 'move']
# A row's values in INSERTED_COLUMNS order, taken at C speed: a registry
# import copies half a million of them.
_inserted_values = operator.itemgetter(*INSERTED_COLUMNS)
ORIGINS = [
    'rkc.billing.run',
    'rkc.payment',
    'rkc.payment.registry.import',
    'rkc.penalty.run',
    'rkc.agreement',
    'rkc.recalculation',
    'rkc.cash_desk.shift',
    'rkc.payment.agent.day',
    'rkc.account.invoice',
    ]


class LedgerLine(
        BulkReferencesMixin, LeanIndexesMixin, ModelSQL, ModelView):
    __name__ = 'rkc.ledger.line'
    _bulk_references = ('centre', 'service', 'move', 'account')
    # Documents read their lines by origin (the index on origin and
    # centre), never search through them: the index for that search cost a
    # payment line a sixth of its insert.
    _unsearched_references = ('origin',)

    account = fields.Many2One(
        'rkc.account', "Account", required=True, readonly=True,
        ondelete='RESTRICT')
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, readonly=True,
        ondelete='RESTRICT',
        help="The centre the account belonged to when the line was posted.")
    service = fields.Many2One(
        'rkc.service', "Service", required=True, readonly=True,
        ondelete='RESTRICT')
    period = fields.Date(
        "Period", required=True, readonly=True,
        help="The first day of the month the amount belongs to.")
    date = fields.Date(
        "Date", required=True, readonly=True,
        help="The day the line was posted; its month is the period whose "
        "receipt shows it.")
    kind = fields.Selection(KINDS, "Kind", required=True, readonly=True)
    amount = fields.Numeric(
        "Amount", digits=(16, 2), required=True, readonly=True,
        help="Positive: owed by the consumer; negative: credited.")
    volume = fields.Numeric("Volume", digits=(16, 6), readonly=True)
    tariff = fields.Numeric("Tariff", digits=(16, 4), readonly=True)
    excess = fields.Numeric(
        "Raising Coefficient Excess", digits=(16, 2), readonly=True,
        help="The part of the amount due to the raising coefficient.")
    method = fields.Char("Method", readonly=True)
    basis = fields.Char("Basis", readonly=True,
        help="How the amount was calculated (JSON).")
    origin = fields.Reference(
        "Origin", selection='get_origins', required=True, readonly=True,
        help="The document the line comes from.")
    part = fields.Integer(
        "Part", required=True, readonly=True,
        help="Number of the line among those of one origin, account, "
        "service, period and kind (a month cut by a tariff change).")
    move = fields.Many2One(
        'account.move', "Move", readonly=True, ondelete='RESTRICT',
        help="The general-ledger move the line was summarized into.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # Exactly once: a job that runs twice inserts nothing the second
        # time.
        cls._sql_constraints += [
            ('line_unique', Unique(t, *(getattr(t, c) for c in CONFLICT)),
                'rkc_utilities.msg_ledger_line_unique'),
            ]
        # An account's lines are found through the unique key, which leads
        # with the account; a second index led by it (on the account and the
        # date) took a third of a payment line's insert on 35 months of
        # history, each account's entries on a page of their own, and no
        # query read faster for it.
        cls._sql_indexes.update({
                Index(t, (t.origin, Index.Equality()),
                    (t.centre, Index.Equality())),
                Index(t, (t.period, Index.Range()),
                    (t.kind, Index.Equality())),
                # A prepared move's lines, and a move's lines for the
                # accountant drilling down from the general ledger.
                Index(t, (t.move, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def __register__(cls, module):
        if backend.name == 'postgresql':
            cursor = Transaction().connection.cursor()
            ledger_partition.partition(
                cursor, cls._table, 'period', cls._opened_months(cursor))
        super().__register__(module)

    @staticmethod
    def _opened_months(cursor):
        "The months of the periods opened, if their table is there yet."
        Period = Pool().get('rkc.period')
        if not backend.TableHandler.table_exist(Period._table):
            return []
        period = Period.__table__()
        cursor.execute(*period.select(period.start_date))
        return [_date(start) for start, in cursor]

    @classmethod
    def _update_sql_indexes(cls, concurrently=False):
        # PostgreSQL builds the index of a partitioned table only in one
        # go, never concurrently.
        super()._update_sql_indexes(concurrently=False)

    @classmethod
    def open_months(cls, months):
        """Give the months of ``months`` and the PARTITIONS_AHEAD after
        each their partition of the subledger (PostgreSQL), moving their
        lines out of the default partition; made ahead, the partition of
        next month takes its advances. Left, with a warning, when the
        default partition stays locked for PARTITION_LOCK_TIMEOUT: opening
        a period does not wait on a long import, nor make the subledger's
        readers queue behind it."""
        if backend.name != 'postgresql':
            return
        opened = {add_months(m.replace(day=1), ahead) for m in months
            for ahead in range(PARTITIONS_AHEAD + 1)}
        if not ledger_partition.add_months_of(
                Transaction().connection.cursor(), cls._table, 'period',
                opened, lock_timeout=PARTITION_LOCK_TIMEOUT):
            logger.warning('subledger partitions of %s not made: the '
                'default partition is in use; its lines of those months '
                'stay there until "rkc partition-subledger"',
                ', '.join(f'{m:%Y-%m}' for m in sorted(opened)))

    @classmethod
    def split_default_partition(cls):
        """Give the months of the lines in the default partition their own
        partitions (PostgreSQL); the months split."""
        if backend.name != 'postgresql':
            return []
        return ledger_partition.split_default(
            Transaction().connection.cursor(), cls._table, 'period')

    @classmethod
    def _get_origins(cls):
        "The models of the documents a line may come from."
        return list(ORIGINS)

    @classmethod
    def get_origins(cls):
        return Pool().get('ir.model').reference_selection(cls._get_origins())

    @staticmethod
    def default_part():
        return 0

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(
            mode, lines, values=values, external=external)
        # Posted lines are never edited or deleted: corrections are new
        # lines. Only the summarizing move may be set, once.
        if mode == 'delete' or (mode == 'write' and (
                    set(values) - {'move'}
                    or any(line.move for line in lines))):
            raise PostedError(gettext(
                    'rkc_utilities.msg_ledger_line_immutable'))

    @classmethod
    def refresh_statistics(cls, month=None):
        """Let PostgreSQL's planner know the lines a bulk job just wrote
        in ``month``'s partition, or without a month the whole subledger's
        (every partition sampled, and the statistics of the partitioned
        table, which autovacuum never gathers). Autovacuum analyzes a
        table a while after it grew, if it runs at all; until then a query
        for a building's accounts may be planned as a scan of every line
        (measured at 100,000 accounts: receipts printed at 605 a second
        instead of 1,069, penalties in 138 s instead of 83)."""
        if backend.name != 'postgresql':
            return
        cursor = Transaction().connection.cursor()
        name = (ledger_partition.month_table(cursor, cls._table, month)
            if month else cls._table)
        cursor.execute(f'ANALYZE "{name}"')

    @classmethod
    def insert_rows(cls, rows, new_origins=False):
        """Insert plain rows (an iterable of dicts with the table's
        columns, ``move``
        optional: the prepared move of LedgerPosting.prepare) with one
        statement prepared once; rows already there (same unique key) are
        skipped. ``new_origins`` says the rows' origins were created in
        this transaction, so none of their lines can be there yet and
        PostgreSQL copies them straight in. Returns the number inserted."""
        table = cls.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        rows = list(rows)
        cls.changed(earliest_periods(rows))
        if backend.name == 'postgresql' and new_origins:
            return cls.copy_new_rows(cursor, transaction.user, rows)
        values = list(cls._row_values(rows, transaction.user))
        if not values:
            return 0
        if backend.name == 'postgresql':
            return copy_insert(cursor, cls._table, cls.copied_columns(),
                values, conflict=CONFLICT)
        sql, _ = tuple(table.insert(
                [getattr(table, c) for c in INSERTED_COLUMNS]
                + [table.create_uid],
                values=[[None] * (len(INSERTED_COLUMNS) + 1)]))
        sql += f' ON CONFLICT ({", ".join(CONFLICT)}) DO NOTHING'
        # One statement per row: a single statement with a placeholder per
        # value costs more to prepare than to run.
        cursor.executemany(sql, values)
        return cursor.rowcount

    @classmethod
    def copy_new_rows(cls, cursor, user, rows):
        """COPY rows of origins created in this transaction (see
        insert_rows) through ``cursor`` on PostgreSQL, as ``user``; the
        number of rows. Without the staging table and the conflict check a
        payment line costs a fifth less to insert."""
        return copy_into(cursor, cls._table, cls.copied_columns(),
            cls._row_values(rows, user))

    @classmethod
    def changed(cls, earliest):
        """Record that lines were written to the accounts from a period on
        ({account: period}): their folded open items are out of date from
        there (rkc.ledger.open_items). Every write of lines records it."""
        Pool().get('rkc.ledger.open_items.change').record(earliest)

    @classmethod
    def create(cls, vlist):
        lines = super().create(vlist)
        cls.changed(earliest_periods(
                {'account': line.account.id, 'period': line.period}
                for line in lines))
        return lines

    @staticmethod
    def copied_columns():
        "The columns of a row copied in: INSERTED_COLUMNS, create_uid."
        return INSERTED_COLUMNS + ['create_uid']

    @classmethod
    def copy_text(cls, cursor, text, earliest):
        """COPY lines of new origins made into text (rkc.copy_text.copy_text,
        copied_columns) by a process without the connection, with their
        earliest period by account (see changed)."""
        cls.changed(earliest)
        return copy_data(cursor, cls._table, cls.copied_columns(), text)

    @staticmethod
    def _row_values(rows, user):
        for row in rows:
            try:
                values = _inserted_values(row)
            except KeyError:  # a row that leaves out an optional column
                values = [row.get(c) for c in INSERTED_COLUMNS]
            yield (*values, user)

    @classmethod
    def balance(cls, centre=None, date=None, summarized=False):
        "The subledger balance of a centre (or all) up to a date."
        table = cls.__table__()
        where = Literal(True)
        if centre:
            where &= table.centre == centre
        if date:
            where &= table.date <= date
        if summarized:
            where &= table.move.in_(posted_moves())
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                Coalesce(Sum(table.amount), Decimal(0)), where=where))
        return _money(cursor.fetchone()[0])


def posted_moves():
    """The ids of posted moves, as a query: a line is summarized when its
    move is posted (a prepared move is a draft until its batch is done)."""
    Move = Pool().get('account.move')
    move = Move.__table__()
    return move.select(move.id, where=move.state == 'posted')


class Turnover(ModelSQL, ModelView):
    __name__ = 'rkc.turnover'

    account = fields.Many2One(
        'rkc.account', "Account", required=True, readonly=True,
        ondelete='CASCADE')
    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    service = fields.Many2One(
        'rkc.service', "Service", required=True, readonly=True)
    period = fields.Date("Period", required=True, readonly=True)
    opening = fields.Numeric("Opening", digits=(16, 2), readonly=True,
        help="Debt (positive) or advance (negative) at the start.")
    charged = fields.Numeric("Charged", digits=(16, 2), readonly=True)
    recalculated = fields.Numeric(
        "Recalculated", digits=(16, 2), readonly=True)
    subsidy = fields.Numeric("Subsidy", digits=(16, 2), readonly=True)
    paid = fields.Numeric("Paid", digits=(16, 2), readonly=True)
    penalty = fields.Numeric("Penalty", digits=(16, 2), readonly=True)
    other = fields.Numeric("Other", digits=(16, 2), readonly=True,
        help="Write-offs and instalment transfers.")
    closing = fields.Numeric("Closing", digits=(16, 2), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('turnover_unique', Unique(t, t.account, t.service, t.period),
                'rkc_utilities.msg_turnover_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.period, Index.Range()), (t.centre, Index.Equality())))
        cls._order = [
            ('period', 'DESC'), ('service', 'ASC'), ('id', 'ASC')]

    @classmethod
    def materialize(cls, period):
        """Write the period's turnover from the subledger in one statement:
        opening = the previous closing (or zero), movements by kind of the
        lines posted in the month."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        table = cls.__table__()
        previous = cls.__table__()
        cursor = Transaction().connection.cursor()
        start, end = period.start_date, period.end_date
        cursor.execute(*table.delete(where=table.period == start))

        def kind_sum(*kinds):
            return Coalesce(Sum(Case(
                        (line.kind.in_(kinds), line.amount),
                        else_=Decimal(0))), Decimal(0))
        movements = line.select(
            line.account, line.service, line.centre,
            kind_sum('charge').as_('charged'),
            kind_sum('recalculation').as_('recalculated'),
            kind_sum('subsidy').as_('subsidy'),
            kind_sum('payment').as_('paid'),
            kind_sum('penalty').as_('penalty'),
            kind_sum('write_off', 'instalment').as_('other'),
            Sum(line.amount).as_('total'),
            where=(line.date >= start) & (line.date <= end),
            group_by=[line.account, line.service, line.centre])
        openings = previous.select(
            previous.account, previous.service, previous.centre,
            previous.closing,
            where=previous.period == Literal(_previous_month(start)))
        # A full join: accounts with an opening balance and no movement
        # still get their row.
        cursor.execute(*table.insert(
                [table.account, table.service, table.centre, table.period,
                    table.opening, table.charged, table.recalculated,
                    table.subsidy, table.paid, table.penalty, table.other,
                    table.closing],
                movements.join(openings, type_='FULL',
                    condition=(movements.account == openings.account)
                    & (movements.service == openings.service)).select(
                    Coalesce(movements.account, openings.account),
                    Coalesce(movements.service, openings.service),
                    Coalesce(movements.centre, openings.centre),
                    Literal(start),
                    Coalesce(openings.closing, Decimal(0)),
                    Coalesce(movements.charged, Decimal(0)),
                    Coalesce(movements.recalculated, Decimal(0)),
                    Coalesce(movements.subsidy, Decimal(0)),
                    Coalesce(movements.paid, Decimal(0)),
                    Coalesce(movements.penalty, Decimal(0)),
                    Coalesce(movements.other, Decimal(0)),
                    Coalesce(openings.closing, Decimal(0))
                    + Coalesce(movements.total, Decimal(0)))))


def _previous_month(start):
    return (start - dt.timedelta(days=1)).replace(day=1)


class LedgerPosting(ModelSQL, ModelView):
    "One general-ledger move summarizing a batch of lines of one centre."
    __name__ = 'rkc.ledger.posting'

    origin = fields.Reference(
        "Origin", selection='get_origins', required=True, readonly=True)
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, readonly=True)
    move = fields.Many2One(
        'account.move', "Move", required=True, readonly=True,
        ondelete='RESTRICT')
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('origin_centre_unique', Unique(t, t.origin, t.centre),
                'rkc_utilities.msg_posting_unique'),
            ]

    @classmethod
    def get_origins(cls):
        return Pool().get('rkc.ledger.line').get_origins()

    @classmethod
    def summarize(cls, origin, date, description, counter_account=None,
            line_origins=None, parts=None, skip_accounts=None):
        """Post one move per centre for the lines of ``origin`` not yet
        summarized: per service, settlements with consumers against the
        service's revenue account, or against ``counter_account`` (cash,
        bank, agents) for money received; sides swap for a net credit.
        ``line_origins`` (a query of origins) takes the lines of several
        documents of one batch, e.g. the payments of a registry file.
        ``parts``, a list of (line_origins, counter_account), puts batches
        with different counter accounts in the same move (a cash-desk
        shift's cash and card payments). ``skip_accounts`` (a query of
        account ids) leaves those accounts' lines for a later summary."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Service = pool.get('rkc.service')
        Move = pool.get('account.move')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        if parts is None:
            parts = [(line_origins, counter_account)]
        batches = []
        by_centre = {}
        for part_origins, part_counter in parts:
            of_part = (line.origin == origin if part_origins is None
                else line.origin.in_(part_origins))
            if skip_accounts is not None:
                of_part &= ~line.account.in_(skip_accounts)
            batches.append(of_part)
            cursor.execute(*line.select(
                    line.centre, line.service, Sum(line.amount),
                    where=of_part & (line.move == Null),
                    group_by=[line.centre, line.service],
                    order_by=[line.centre, line.service]))
            for centre, service, amount in cursor:
                by_centre.setdefault(centre, []).append(
                    (Service(service), _money(amount), part_counter))
        of_batch = batches[0]
        for of_part in batches[1:]:
            of_batch |= of_part
        for centre, amounts in by_centre.items():
            move = Move(**cls._move_values(origin, date, description))
            if cls._post(move, centre, amounts, origin=origin):
                cursor.execute(*line.update(
                        [line.move], [move.id],
                        where=of_batch & (line.centre == centre)
                        & (line.move == Null)))

    @classmethod
    def prepare(cls, origin, centres, date, description):
        """The draft move of each of the ``centres`` for ``origin`` (made
        when missing): {centre: move id}. A bulk job writes its subledger
        lines with their move already set, so posting its batch (see
        post_prepared) reads them by move and updates none of them. An
        empty draft move takes no lock of the journal period."""
        Move = Pool().get('account.move')
        prepared = {p.centre.id: p.move.id for p in cls.search([
                    ('origin', '=', origin),
                    ('centre', 'in', list(centres)),
                    ])}
        missing = sorted(set(centres) - set(prepared))
        if missing:
            moves = Move.create([cls._move_values(origin, date, description)
                    for _ in missing])
            cls.create([{'origin': origin, 'centre': centre,
                        'move': move.id, 'amount': None}
                    for centre, move in zip(missing, moves, strict=True)])
            prepared.update(
                (c, m.id) for c, m in zip(missing, moves, strict=True))
        return prepared

    @staticmethod
    def unsummarized_centres(origin):
        "The centres of the lines of ``origin`` that are in no move."
        Line = Pool().get('rkc.ledger.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(line.centre,
                where=(line.origin == origin) & (line.move == Null),
                group_by=[line.centre]))
        return [centre for centre, in cursor]

    @staticmethod
    def adopt_unsummarized(origin, moves):
        """Put the lines of ``origin`` that are in no move into the draft
        move of their centre, ``moves`` {centre: move id} (see prepare and
        unsummarized_centres)."""
        Line = Pool().get('rkc.ledger.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        for centre, move in moves.items():
            cursor.execute(*line.update([line.move], [move],
                    where=(line.origin == origin) & (line.centre == centre)
                    & (line.move == Null)))

    @classmethod
    def post_prepared(cls, origin, counter_account=None):
        """Post the draft moves prepared for ``origin`` with the lines
        written into them, dated on the latest line's day: per service,
        settlements against revenue or ``counter_account``. A move no
        line went into is deleted. Posting again posts nothing."""
        Move = Pool().get('account.move')
        for posting in cls.search([
                    ('origin', '=', origin), ('move.state', '=', 'draft')]):
            move = posting.move
            # The period is as a rule the one the move was prepared in:
            # locked before the lines are summed, a restart sums nothing.
            cls._lock_posting(move)
            amounts, latest = cls._prepared_amounts(move, counter_account)
            if latest:
                move.date = latest
                move.period = cls._period(latest)
            if not cls._post(move, posting.centre.id, amounts,
                    posting=posting):
                cls.delete([posting])
                Move.delete([move])

    @staticmethod
    def _prepared_amounts(move, counter_account):
        """[(service, amount, counter account)] of the lines written into
        the prepared ``move``, and the latest line's date."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Service = pool.get('rkc.service')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(
                line.service, Sum(line.amount), Max(line.date),
                where=line.move == move.id,
                group_by=[line.service], order_by=[line.service]))
        rows = cursor.fetchall()
        amounts = [(Service(s), _money(a), counter_account)
            for s, a, _ in rows]
        return amounts, max((_date(d) for _, _, d in rows), default=None)

    @classmethod
    def _move_values(cls, origin, date, description):
        config = Pool().get('rkc.configuration')(1)
        return {
            'journal': config.billing_journal.id,
            'period': cls._period(date).id, 'date': date,
            'origin': origin, 'description': description,
            }

    @staticmethod
    def _period(date):
        Period = Pool().get('account.period')
        return Period.find(Transaction().context.get('company'), date=date)

    @staticmethod
    def _lock_posting(move):
        """Take the locks that giving ``move`` lines and posting it take:
        the journal period (when it is still to be created) and a strict
        move sequence. Tryton takes a lock by restarting the transaction
        with it; taken here, before the move is built, a restart redoes
        little instead of building and checking the move again."""
        JournalPeriod = Pool().get('account.journal.period')
        if not JournalPeriod.search([
                    ('journal', '=', move.journal.id),
                    ('period', '=', move.period.id),
                    ], limit=1):
            JournalPeriod.lock()
        sequence = move.period.move_sequence_used
        if sequence.__name__ == 'ir.sequence.strict':
            sequence.lock()

    @classmethod
    def _post(cls, move, centre, amounts, origin=None, posting=None):
        """Give ``move`` a line per service and side for ``amounts``
        [(service, amount, counter account or None)], post it and record
        its posting (``posting``, or a new one for ``origin``). False when
        the amounts are all zero: nothing is posted."""
        Configuration = Pool().get('rkc.configuration')
        settlement = Configuration(1).settlement_account
        cls._lock_posting(move)
        move_lines = []
        total = Decimal(0)
        for service, amount, part_counter in amounts:
            if not amount:
                continue
            counter = part_counter or service.product.account_revenue_used
            debit, credit = (amount, 0) if amount > 0 else (0, -amount)
            move_lines.append({
                    'account': settlement.id,
                    'debit': debit, 'credit': credit,
                    'description': service.name})
            move_lines.append({
                    'account': counter.id,
                    'debit': credit, 'credit': debit,
                    'description': service.name})
            total += amount
        if not move_lines:
            return False
        move.lines = move_lines
        move.save()
        move.post()
        if posting:
            posting.amount = total
            posting.save()
        else:
            cls.create([{'origin': origin, 'centre': centre,
                        'move': move.id, 'amount': total}])
        return True

    @classmethod
    def control_balance(cls, centre=None, date=None):
        """The balance of the settlements account carried by the moves of
        the postings (of a centre, up to a date)."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        Move = pool.get('account.move')
        Configuration = pool.get('rkc.configuration')
        config = Configuration(1)
        posting = cls.__table__()
        move_line = MoveLine.__table__()
        move = Move.__table__()
        where = (move_line.account == config.settlement_account.id)
        if centre:
            where &= posting.centre == centre
        if date:
            where &= move.date <= date
        cursor = Transaction().connection.cursor()
        cursor.execute(*posting.join(
                move, condition=move.id == posting.move).join(
                move_line, condition=move_line.move == move.id).select(
                Coalesce(Sum(move_line.debit - move_line.credit),
                    Decimal(0)),
                where=where))
        return _money(cursor.fetchone()[0])


class Reconciliation(ModelSQL, ModelView):
    """Subledger against the general ledger, per centre: the invariant that
    the summarized subledger equals the settlements control account."""
    __name__ = 'rkc.ledger.reconciliation'

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    subledger = fields.Numeric(
        "Subledger", digits=(16, 2), readonly=True,
        help="Lines summarized into the general ledger.")
    pending = fields.Numeric(
        "Not Yet Summarized", digits=(16, 2), readonly=True,
        help="Lines of batches whose summary move is still to post.")
    general_ledger = fields.Numeric(
        "General Ledger", digits=(16, 2), readonly=True,
        help="Balance of the settlements account carried by the centre's "
        "summary moves.")
    difference = fields.Numeric(
        "Difference", digits=(16, 2), readonly=True,
        help="Must be zero.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('centre', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        MoveLine = pool.get('account.move.line')
        Configuration = pool.get('rkc.configuration')
        Centre = pool.get('rkc.centre')
        settlement = Configuration(1).settlement_account
        line = Line.__table__()
        posting = Posting.__table__()
        move_line = MoveLine.__table__()
        centre = Centre.__table__()
        zero = Decimal(0)
        summarized = line.move.in_(posted_moves())
        lines = line.select(
            line.centre,
            Sum(Case((summarized, line.amount), else_=zero)).as_(
                'summarized'),
            Sum(Case((summarized, zero), else_=line.amount)).as_(
                'pending'),
            group_by=[line.centre])
        ledger = posting.join(
            move_line, condition=move_line.move == posting.move).select(
            posting.centre,
            Sum(move_line.debit - move_line.credit).as_('balance'),
            where=move_line.account == (settlement.id if settlement else -1),
            group_by=[posting.centre])
        # Round: SQLite sums money as floats.
        summarized = Round(Coalesce(lines.summarized, zero), 2)
        balance = Round(Coalesce(ledger.balance, zero), 2)
        return centre.join(lines, 'LEFT',
            condition=lines.centre == centre.id).join(ledger, 'LEFT',
            condition=ledger.centre == centre.id).select(
            centre.id.as_('id'), centre.id.as_('centre'),
            summarized.as_('subledger'),
            Round(Coalesce(lines.pending, zero), 2).as_('pending'),
            balance.as_('general_ledger'),
            Round(summarized - balance, 2).as_('difference'))
