"""The database side of a registry import (rules.md §8), in the caller's
Tryton transaction.

The file is hashed, then read once, streaming, while its payments are
written in batches (COPY on PostgreSQL); a bad line or a trailer mismatch
quarantines it: what was written is undone to a savepoint, so nothing is
credited, and the import keeps the list of problems. Exactly
once comes from unique keys, not from checks: the import record is unique
by agent and file SHA-256, a payment by agent and operation (branch,
number, date); both are inserted with ON CONFLICT DO NOTHING, so a second
worker importing the same file waits for the first one's commit and then
finds it there.
"""
import contextlib
import datetime as dt
import hashlib
import itertools
import queue
import sys
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from sql import Conflict, Null
from sql.functions import CurrentTimestamp

from rkc.bulk_insert import copy_new, execute_returning
from rkc.payments.registry import LineError, RegistryChanged, RegistryReader

BATCH = 2000
SHORT_BATCH = 250  # the first and the last (see _batches)
ZERO = Decimal('0.00')
MAX_ERRORS_KEPT = 200


@dataclass
class ImportResult:
    id: int
    state: str  # accepted, quarantined or duplicate
    records: int = 0
    amount: Decimal = Decimal('0.00')
    credited: int = 0
    duplicates: int = 0
    suspended: int = 0
    readings: int = 0
    errors: list = field(default_factory=list)


def import_registry(path, agent_code, format_name=None):
    """Import the registry file at ``path`` from the agent ``agent_code``
    (its own format unless ``format_name`` is given)."""
    from trytond.i18n import gettext
    from trytond.pool import Pool

    from rkc_utilities.exceptions import PaymentError
    pool = Pool()
    Agent = pool.get('rkc.payment.agent')
    Format = pool.get('rkc.payment.registry.format')
    agents = Agent.search([('code', '=', agent_code)], limit=1)
    if not agents:
        raise PaymentError(gettext(
                'rkc_utilities.msg_agent_unknown', agent=agent_code))
    agent, = agents
    if format_name:
        record = Format.named(format_name)
    elif agent.format:
        record = agent.format
    else:
        raise PaymentError(gettext(
                'rkc_utilities.msg_agent_no_format', agent=agent.code))
    layout = record.layout()
    with open(path, 'rb') as stream:
        sha256, size = _fingerprint(stream)
        import_id = _insert_import(agent, record, path, sha256, size)
        if import_id is None:
            return _duplicate_file(agent, sha256)
        stream.seek(0)
        reader = RegistryReader(stream, layout, max_errors=MAX_ERRORS_KEPT)
        result = ImportResult(import_id, 'accepted')
        # One pass: the lines are credited as they are read and all of it
        # is undone if the file turns out bad, which is rare; reading a
        # good file twice cost a twentieth of its import.
        with _savepoint() as undo:
            _credit(agent, import_id, _read_ahead(
                    _clean_records(reader), BATCH, short=SHORT_BATCH),
                result)
            summary = reader.summary
            if summary.sha256 != sha256:
                raise RegistryChanged(
                    f'the file read has SHA-256 {summary.sha256}, the one '
                    f'registered {sha256}')
            if not summary.accepted:
                undo()
                result = ImportResult(import_id, 'quarantined')
    result.records, result.amount = summary.records, summary.amount
    result.errors = [f'{e.line}: {e.message}' if e.line else e.message
        for e in summary.errors] + result.errors
    RegistryImport = pool.get('rkc.payment.registry.import')
    RegistryImport.write([RegistryImport(import_id)], {
            'state': result.state, 'records': summary.records,
            'amount': summary.amount, 'commission': summary.commission,
            'credited': result.credited, 'duplicates': result.duplicates,
            'suspended': result.suspended, 'readings': result.readings,
            'errors': '\n'.join(result.errors) or None})
    return result


def _fingerprint(stream):
    "SHA-256 (hex) and size of the file, read in blocks."
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(1 << 20):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


@contextlib.contextmanager
def _savepoint():
    """Run the block in a savepoint of the transaction; it receives a
    function that undoes what the block wrote so far (with the tasks it
    queued)."""
    from trytond.transaction import Transaction
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    tasks = transaction.tasks
    mark = len(tasks)
    cursor.execute('SAVEPOINT registry_lines')

    def undo():
        cursor.execute('ROLLBACK TO SAVEPOINT registry_lines')
        del tasks[mark:]
        transaction.cache.clear()
    yield undo
    cursor.execute('RELEASE SAVEPOINT registry_lines')


def _clean_records(reader):
    """The reader's records up to its first bad line; the rest of the file
    is only read through, so that its summary lists every problem."""
    items = iter(reader)
    for item in items:
        if isinstance(item, LineError):
            for _ in items:
                pass
            return
        yield item


def _batches(records, size, short=None):
    """Lists of ``size`` records; with ``short``, the first and the last
    list have at most ``short``: the import's pipeline fills on a short
    batch (the database starts on it while the next lines are parsed) and
    drains on one (once the file is read, only a short batch is left to
    allocate and copy). The end is seen ``short`` records ahead."""
    iterator = iter(records)
    if short is None:
        while batch := list(itertools.islice(iterator, size)):
            yield batch
        return
    if first := list(itertools.islice(iterator, short)):
        yield first
    buffer = []
    while True:
        buffer.extend(itertools.islice(iterator, size + short - len(buffer)))
        if len(buffer) < size + short:  # the file ended
            break
        yield buffer[:size]
        buffer = buffer[size:]
    if len(buffer) > short:
        yield buffer[:-short]
        buffer = buffer[-short:]
    if buffer:
        yield buffer


def _read_ahead(records, size, short=None, ahead=2):
    """The lists of _batches(records, size, short), read by a thread of
    their own up to ``ahead`` lists before they are written: parsing the
    next lines runs while the database works on the last ones (the thread
    holds the interpreter only while it parses), and memory stays
    bounded. What the reading raises is raised here, in order."""
    batches = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def read():
        try:
            made = _batches(records, size, short)
            while not stop.is_set() and (
                    batch := next(made, None)) is not None:
                batches.put(batch)
            batches.put(None)
        except BaseException as error:  # handed over to the writer
            batches.put(error)
    reader = threading.Thread(target=read, name='registry-reader',
        daemon=True)
    reader.start()
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        stop.set()
        # Unblock a reader waiting for room, then let it end.
        while reader.is_alive():
            try:
                batches.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()


def _insert_import(agent, record, path, sha256, size):
    """The import's id, or None when the agent sent this file before. It
    is registered before its lines are read (a second worker importing
    the same file waits here for the first one's commit); the totals are
    written when the file has been read."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    RegistryImport = Pool().get('rkc.payment.registry.import')
    table = RegistryImport.__table__()
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    name = str(path).rsplit('/', 1)[-1]
    execute_returning(cursor, table.insert(
            [table.agent, table.format, table.filename, table.sha256,
                table.size, table.state, table.records, table.amount,
                table.commission, table.credited, table.duplicates,
                table.suspended, table.readings, table.create_uid,
                table.create_date],
            [[agent.id, record.id, name, sha256, size, 'accepted', 0,
                    ZERO, ZERO, 0, 0, 0, 0, transaction.user,
                    CurrentTimestamp()]],
            on_conflict=Conflict(table, indexed_columns=[
                    table.agent, table.sha256]),
            returning=[table.id]))
    row = cursor.fetchone()
    return row[0] if row else None


def _duplicate_file(agent, sha256):
    from trytond.pool import Pool
    RegistryImport = Pool().get('rkc.payment.registry.import')
    earlier, = RegistryImport.search([
            ('agent', '=', agent.id), ('sha256', '=', sha256)])
    return ImportResult(earlier.id, 'duplicate', earlier.records,
        earlier.amount, errors=[
            f'the file was imported on {earlier.create_date:%Y-%m-%d %H:%M} '
            f'as import {earlier.id} ({earlier.state}); nothing changed'])


def _credit(agent, import_id, batches, result):
    """Credit the batches of payment lines. On PostgreSQL a second process
    allocates a batch into subledger lines while this one writes the
    next batch's payments and copies the lines of the one before."""
    from trytond import backend
    from trytond.pool import Pool

    from rkc.engine.payment_lines import (
        AdvanceWithoutService, subledger_rows)
    from rkc.engine.regulations import default_regulations
    from rkc_utilities.payment import no_service_error
    regulations = default_regulations()
    moves = {}
    try:
        if backend.name == 'postgresql':
            _credit_beside_allocation(
                agent, import_id, batches, result, moves, regulations)
            return
        Line = Pool().get('rkc.ledger.line')
        for batch in batches:
            inserted, sums = _write_batch(
                agent, import_id, batch, result, moves)
            Line.insert_rows(subledger_rows(
                    inserted, sums, regulations, moves), new_origins=True)
    except AdvanceWithoutService as error:
        raise no_service_error(error) from None


def _credit_beside_allocation(
        agent, import_id, batches, result, moves, regulations):
    "_credit with the allocation in an AllocationProcess."
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    from rkc.engine.open_items import unrecorded
    from rkc.payments.allocator import AllocationProcess
    Line = Pool().get('rkc.ledger.line')
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    recorded = {}

    def copy(lines):
        text, earliest = lines
        Line.copy_text(cursor, text, unrecorded(earliest, recorded))
    with AllocationProcess(
            regulations, Line.copied_columns(), transaction.user) as process:
        allocating = False
        for batch in batches:
            inserted, sums = _write_batch(
                agent, import_id, batch, result, moves)
            if allocating:
                lines = process.result()
            process.submit(inserted, sums, moves)
            # The process allocates this batch while the last one's lines
            # are copied and the next batch is written.
            if allocating:
                copy(lines)
            allocating = True
        if allocating:
            copy(process.result())


def _write_batch(agent, import_id, batch, result, moves):
    """Write a batch of payment lines: known open accounts get payments,
    the others go to the suspense list; operations imported before are
    counted as duplicates. Returns the payments to allocate (Allocated)
    and the LedgerSums of their accounts; the prepared moves of their
    centres are added to ``moves``."""
    from trytond.pool import Pool

    from rkc.engine.payment_lines import Allocated
    from rkc_utilities.payment import operation_key, read_ledger_sums
    Suspense = Pool().get('rkc.payment.suspense')
    accounts = _accounts({p.account for p in batch})
    keys = {id(p): operation_key(p.branch, p.operation_id,
            p.accepted_at.date()) for p in batch}
    suspended_before = _existing_keys(Suspense, agent, keys.values())
    credit, suspend = [], []
    for payment in batch:
        found = accounts.get(payment.account)
        if keys[id(payment)] in suspended_before:
            continue
        if found and found[1] == 'open':
            credit.append(payment)
        else:
            suspend.append((payment, 'closed' if found else 'unknown'))
    inserted = _insert_payments(agent, import_id, credit, keys, accounts)
    centres = {accounts[p.account][2] for p, _ in inserted} - set(moves)
    if centres:
        moves.update(_prepared_moves(agent, import_id, centres, max(
                    p.accepted_at.date() for p, _ in inserted)))
    result.readings += _store_readings(
        [(p, accounts[p.account][0]) for p, _ in inserted if p.readings],
        result)
    suspended = _insert_suspense(agent, import_id, suspend, keys)
    result.credited += len(inserted)
    result.suspended += suspended
    result.duplicates += len(batch) - len(inserted) - suspended
    allocated = [Allocated(id_, accounts[p.account][0],
            accounts[p.account][2], p.accepted_at.date(), p.amount, p.period)
        for p, id_ in inserted]
    return allocated, read_ledger_sums({a.account for a in allocated})


def _prepared_moves(agent, import_id, centres, date):
    """The import's general-ledger move of each of the centres (drafts
    until post_to_general_ledger): the payments' lines are written into
    them, so posting updates no line."""
    from trytond.i18n import gettext
    from trytond.pool import Pool
    pool = Pool()
    Posting = pool.get('rkc.ledger.posting')
    record = pool.get('rkc.payment.registry.import')(import_id)
    return Posting.prepare(str(record), centres, date,
        gettext('rkc_utilities.msg_registry_move_description',
            agent=agent.code, file=record.filename or record.sha256[:12]))


def _accounts(numbers):
    "{number: (id, state, centre)} of the accounts among ``numbers``."
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    from rkc_utilities.common import among
    Account = Pool().get('rkc.account')
    table = Account.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(
            table.number, table.id, table.state, table.centre,
            where=among(table.number, sorted(numbers))))
    return {number: (id_, state, centre)
        for number, id_, state, centre in cursor}


def _existing_keys(Model, agent, keys):
    from trytond.transaction import Transaction

    from rkc_utilities.common import among
    table = Model.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.operation_key,
            where=(table.agent == agent.id)
            & among(table.operation_key, sorted(set(keys)))))
    return {key for key, in cursor}


PAYMENT_COLUMNS = (
    'account', 'centre', 'amount', 'commission', 'accepted_at', 'date',
    'period', 'channel', 'agent', 'branch', 'terminal', 'operation_id',
    'operation_key', 'payer_name', 'registry_import', 'state',
    'create_uid', 'create_date')
SUSPENSE_COLUMNS = (
    'agent', 'registry_import', 'account_number', 'reason', 'payer_name',
    'address', 'accepted_at', 'period', 'amount', 'commission', 'branch',
    'terminal', 'operation_id', 'operation_key', 'state', 'create_uid',
    'create_date')


def _insert_payments(agent, import_id, payments, keys, accounts):
    "[(line, id)] of the payments inserted; operations seen before skip."
    from trytond.transaction import Transaction
    if not payments:
        return []
    user, now = Transaction().user, _utc_now()
    inserted = _insert_new('rkc.payment', PAYMENT_COLUMNS, [
            [accounts[p.account][0], accounts[p.account][2], p.amount,
                p.commission, p.accepted_at, p.accepted_at.date(),
                p.period, 'registry', agent.id, p.branch, p.terminal,
                p.operation_id, keys[id(p)], p.payer, import_id, 'posted',
                user, now]
            for p in payments], returning=('id', 'operation_key'))
    ids = {key: id_ for id_, key in inserted}
    return [(p, ids[keys[id(p)]]) for p in payments if keys[id(p)] in ids]


def _insert_suspense(agent, import_id, items, keys):
    from trytond.transaction import Transaction
    if not items:
        return 0
    user, now = Transaction().user, _utc_now()
    return len(_insert_new('rkc.payment.suspense', SUSPENSE_COLUMNS, [
                [agent.id, import_id, p.account, reason, p.payer, p.address,
                    p.accepted_at, p.period, p.amount, p.commission,
                    p.branch, p.terminal, p.operation_id, keys[id(p)],
                    'open', user, now]
                for p, reason in items], returning=('id',)))


def _utc_now():
    "A timestamp as Tryton stores them: UTC without a zone."
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _insert_new(model, columns, rows, returning):
    """Insert the rows of the model whose (agent, operation_key) is new;
    the inserted rows' ``returning`` columns."""
    from trytond import backend
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Model = Pool().get(model)
    cursor = Transaction().connection.cursor()
    if backend.name == 'postgresql':
        # An operation comes once as a rule: resent ones make a batch go
        # the slower way, through a staging table.
        return copy_new(cursor, Model._table, columns, rows,
            conflict=('agent', 'operation_key'), returning=returning)
    table = Model.__table__()
    execute_returning(cursor, table.insert(
            [getattr(table, c) for c in columns], rows,
            on_conflict=Conflict(table, indexed_columns=[
                    table.agent, table.operation_key]),
            returning=[getattr(table, c) for c in returning]))
    return cursor.fetchall()


def _store_readings(payments, result):
    """Readings of the file to the meters of the paying account's premise,
    source "bank" (judged like any reading given by a consumer). A reading
    of a meter the premise lacks is listed in the import's errors."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    if not payments:
        return 0
    pool = Pool()
    Reading = pool.get('rkc.meter.reading')
    Meter = pool.get('rkc.meter')
    Account = pool.get('rkc.account')
    meter = Meter.__table__()
    account = Account.__table__()
    reading = Reading.__table__()
    cursor = Transaction().connection.cursor()
    account_ids = sorted({a for _, a in payments})
    cursor.execute(*account.join(meter,
            condition=meter.premise == account.premise).select(
            account.id, meter.serial, meter.id,
            where=account.id.in_(account_ids) & (meter.state == 'active')))
    meters = {(a, serial): m for a, serial, m in cursor}
    values = []
    for payment, account_id in payments:
        for item in payment.readings:
            meter_id = meters.get((account_id, item.meter))
            if meter_id is None:
                result.errors.append(
                    f'{payment.line}: meter {item.meter!r} is not at the '
                    f'premise of account {payment.account}; reading '
                    f'{item.value} not stored')
                continue
            values.append({'meter': meter_id, 'value': item.value,
                    'read_at': payment.accepted_at, 'source': 'bank'})
    if not values:
        return 0
    cursor.execute(*reading.select(reading.meter, reading.read_at,
            where=reading.meter.in_(sorted({v['meter'] for v in values}))
            & (reading.read_at != Null)))
    existing = {(m, _datetime(r)) for m, r in cursor}
    new = [v for v in values if (v['meter'], v['read_at']) not in existing]
    Reading.create(new)
    return len(new)


def _datetime(value):
    "A timestamp read from SQL (SQLite returns text)."
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def post_to_general_ledger(import_id):
    """Post the import's prepared moves (one per centre): the agent's
    account against settlements. Run in a transaction of its own after the
    import's: adding lines to a move locks journal periods and sequences,
    and a lock taken inside the import would restart all of it. Posting
    again posts only what is left, so a crash in between is repaired by
    importing the file again."""
    from trytond.pool import Pool
    pool = Pool()
    Posting = pool.get('rkc.ledger.posting')
    record = pool.get('rkc.payment.registry.import')(import_id)
    Posting.post_prepared(str(record), counter_account=record.agent.account)


def _retried(database, context, func, *args, attempts=8):
    """``func`` in one transaction, started again while another worker
    holds a table lock it needs: tryton_job.transaction retries failures
    inside a transaction, not a lock refused when one starts (e.g. the
    journal period that a concurrent import of the same file creates)."""
    import time

    from trytond import backend

    from rkc import tryton_job
    for attempt in range(attempts):
        try:
            return tryton_job.transaction(func, *args, database=database,
                user=1, context=context)
        except backend.DatabaseOperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2 ** attempt)


def command(args):
    "``rkc import-registry FILE --agent CODE [--format NAME]``."
    from rkc import tryton_commands
    _, name = tryton_commands._prepare(args)
    context = tryton_commands._company_context(name)
    import time

    from trytond.exceptions import UserError
    started = time.monotonic()
    try:
        result = _retried(name, context, import_registry, args.file,
            args.agent, args.format)
        if result.state in {'accepted', 'duplicate'}:
            _retried(name, context, post_to_general_ledger, result.id)
    except UserError as error:
        print(f'refused: {error.message}', file=sys.stderr)
        return 2
    except RegistryChanged as error:
        print(f'refused: {error}', file=sys.stderr)
        return 2
    except OSError as error:
        print(f'refused: {error}', file=sys.stderr)
        return 2
    print(f'import {result.id}: {result.state}, {result.records} lines, '
        f'{result.amount} RUB; credited {result.credited}, duplicates '
        f'{result.duplicates}, to suspense {result.suspended}, readings '
        f'{result.readings}; {time.monotonic() - started:.2f} s')
    for error in result.errors[:50]:
        print(f'  {error}')
    return 2 if result.state == 'quarantined' else 0

