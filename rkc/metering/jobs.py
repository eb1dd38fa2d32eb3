"""The meter poll as queued jobs: gateways split into chunks, each chunk
polled, validated and stored by :func:`poll_chunk`.

Every reading of a poll is stamped with the poll's *slot*: the scheduled
time of the poll (by default the start of the current hour), not the wall
clock of each read. An RQ retry of a killed chunk, or ``rkc read-meters``
run again within the hour, stores the readings it gets under the same
(meter, read_at) keys, so nothing already stored is duplicated and only the
meters missing from the first run are added.
"""
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rkc import queue, tryton_job

from . import poller, store, validation

CHUNK_GATEWAYS = 50
SLOT_PERIOD = timedelta(hours=1)
SOURCE = 'remote'


def poll_slot(now, period=SLOT_PERIOD):
    "The slot a poll at ``now`` belongs to: ``now`` floored to ``period``."
    now = now.replace(tzinfo=None)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (now - midnight) // period * period


def _utcnow():
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _connect(database):
    "A DB-API connection from a psycopg conninfo or a connection factory."
    if callable(database):
        return database()
    import psycopg
    return psycopg.connect(database)


# Active remote meters and where they stand: an individual meter through
# its premise's building, a common meter through its own building.
_METERS = ('FROM rkc_meter m JOIN rkc_meter_model o ON o.id = m.model '
    'JOIN rkc_service s ON s.id = m.service '
    'LEFT JOIN rkc_premise p ON p.id = m.premise '
    'LEFT JOIN rkc_building b ON b.id = COALESCE(p.building, m.building) '
    'LEFT JOIN rkc_centre c ON c.id = b.centre '
    "WHERE m.state = 'active' AND m.modbus_host IS NOT NULL")


def _scope_filter(centre=None, building=None):
    "SQL condition (to AND) and parameters of a centre or building scope."
    condition, params = '', []
    if centre is not None:
        condition += ' AND c.code = %s'
        params.append(centre)
    if building is not None:
        condition += ' AND b.id = %s'
        params.append(building)
    return condition, params


def _gateway_filter(connection, gateways):
    condition = ' OR '.join(
        '(m.modbus_host = %s AND m.modbus_port = %s)' for _ in gateways)
    params = [value for host, port in gateways for value in (host, port)]
    return store.sql(connection, f'({condition})'), params


def list_gateways(connection, centre=None, building=None):
    "(host, port) of the gateways of active meters in a scope."
    scope, params = _scope_filter(centre, building)
    cursor = connection.cursor()
    cursor.execute(store.sql(connection,
        f'SELECT DISTINCT m.modbus_host, m.modbus_port {_METERS}{scope} '
        'ORDER BY 1, 2'), params)
    return [(host, port) for host, port in cursor.fetchall()]


def load_meters(connection, gateways, centre=None, building=None):
    """The poller's gateways and, by meter id, the validation.Meter of each
    active meter of the scope behind ``gateways``."""
    condition, params = _gateway_filter(connection, gateways)
    scope, scope_params = _scope_filter(centre, building)
    query = ('SELECT m.id, m.serial, s.code, m.digits, m.modbus_host, '
        f'm.modbus_port, m.modbus_unit, {store.MODEL_COLUMNS} '
        f'{_METERS} AND {condition}'
        + store.sql(connection, scope))
    cursor = connection.cursor()
    cursor.execute(query + ' ORDER BY m.modbus_host, m.modbus_port, '
        'm.modbus_unit', params + scope_params)
    models = {}
    targets = {}
    meters = {}
    for (meter, serial, service, digits, host, port, unit,
            *model_row) in cursor.fetchall():
        name = model_row[0]
        if name not in models:
            models[name] = store.meter_model(model_row)
        targets.setdefault((host, port), []).append(
            poller.Target(meter, unit, models[name]))
        meters[meter] = validation.Meter(
            register_serial(serial), service, digits)
    return [
        poller.Gateway(host, port, tuple(units))
        for (host, port), units in targets.items()], meters


def register_serial(serial):
    """The serial as a meter reports it: its 32-bit register has no
    leading zeros."""
    return str(int(serial)) if serial.isdigit() else serial


def load_previous(connection, meter_ids):
    "validation.Previous of each of the meters that has one."
    if not store.is_sqlite(connection):
        return _load_previous(connection, meter_ids)
    previous = {}
    # A chunk's meters may outnumber what one statement can bind.
    for start in range(0, len(meter_ids), store.MAX_PARAMETERS):
        previous.update(_load_previous(
            connection, meter_ids[start:start + store.MAX_PARAMETERS]))
    return previous


def _load_previous(connection, meter_ids):
    # Found by the meters' ids, which the readings' unique key leads with:
    # by their gateways, or joined back to the readings by meter and time,
    # PostgreSQL's planner read all of them (9 million at 500,000
    # accounts) for each chunk.
    cursor = connection.cursor()
    if store.is_sqlite(connection):
        among = ', '.join('?' * len(meter_ids))
        params = list(meter_ids)
        # SQLite takes the bare columns from the row of the MAX.
        last = ('SELECT meter, MAX(read_at) AS read_at, value, value_t2, '
            "value_t3 FROM rkc_meter_reading WHERE state = 'valid' "
            f'AND meter IN ({among}) GROUP BY meter')
    else:
        # The last reading of each meter is one step back along the key,
        # however long its history.
        last = ('SELECT m.meter, r.read_at, r.value, r.value_t2, '
            'r.value_t3 FROM unnest(%s::integer[]) AS m (meter) '
            'CROSS JOIN LATERAL (SELECT read_at, value, value_t2, value_t3 '
            'FROM rkc_meter_reading WHERE meter = m.meter '
            "AND state = 'valid' ORDER BY read_at DESC LIMIT 1) r")
        params = [list(meter_ids)]
        # A few index steps per meter, which the planner prices high
        # enough to compile the query first: 0.3 s of JIT for 1 s of work.
        cursor.execute('SET LOCAL jit = off')
    # Counters only grow, so the readings equal to the last one are the
    # unchanged stretch up to it.
    query = ('SELECT l.meter, l.read_at, l.value, l.value_t2, l.value_t3, '
        '(SELECT MIN(s.read_at) FROM rkc_meter_reading s '
        "WHERE s.meter = l.meter AND s.state = 'valid' "
        'AND s.value = l.value '
        'AND COALESCE(s.value_t2, -1) = COALESCE(l.value_t2, -1) '
        'AND COALESCE(s.value_t3, -1) = COALESCE(l.value_t3, -1)) '
        f'FROM ({last}) l')
    cursor.execute(store.sql(connection, query), params)
    previous = {}
    for meter, read_at, *values, since in cursor.fetchall():
        previous[meter] = validation.Previous(
            tuple(_decimal(v) for v in values if v is not None),
            _timestamp(read_at), _timestamp(since))
    return previous


def _decimal(value):
    # SQLite hands numerics back as float; PostgreSQL as Decimal.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _timestamp(value):
    # SQLite hands timestamps back as text.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class Tally:
    "Counts, per-gateway details and read latencies of one chunk."

    def __init__(self):
        self.counts = dict.fromkeys(
            ('read', 'failed', 'rejected', 'review', 'stored'), 0)
        self.gateways = {}
        self.alerts = []
        self.latencies = []

    def add(self, result, verdicts):
        failures = {}
        for failure in result.failures:
            failures[failure.reason] = failures.get(failure.reason, 0) + 1
        reasons = {}
        for meter, verdict in verdicts:
            if verdict.reason:
                reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
            if verdict.state != validation.VALID:
                self.counts[verdict.state] += 1
            if verdict.reason == validation.SERIAL_MISMATCH:
                self.alerts.append(meter)
        self.counts['read'] += len(result.reads)
        self.counts['failed'] += len(result.failures)
        self.latencies.extend(read.latency for read in result.reads)
        self.gateways[f'{result.host}:{result.port}'] = {
            'read': len(result.reads), 'failed': failures,
            'reasons': reasons, 'breaker_open': result.breaker_open}

    def summary(self):
        latencies = sorted(self.latencies)
        return {
            **self.counts,
            'alerts': self.alerts,
            'latency_p50': percentile(latencies, 50),
            'latency_p99': percentile(latencies, 99),
            'gateways': self.gateways}


def percentile(ordered, rank):
    "The nearest-rank percentile of an ordered list (None when empty)."
    if not ordered:
        return None
    return ordered[max(0, -(-len(ordered) * rank // 100) - 1)]


def verdict(meter, values, status, serial, read_at, previous, rules):
    """validation.validate, except for a service without a plausibility
    limit (a building's common meter, whose use depends on the building):
    then only a counter that went down is held for review."""
    if meter.service in rules.spike_per_day:
        return validation.validate(
            meter, values, status, serial, read_at, previous, rules)
    judged = validation.validate(
        meter, values, status, serial, read_at, None, rules)
    if judged.state == validation.VALID and previous and any(
            value < before for value, before in zip(
                values, previous.values, strict=True)):
        return validation.Verdict(validation.REVIEW, validation.NEGATIVE)
    return judged


def judge(result, meters, previous, slot, rules, poll, user=None):
    "The (meter, verdict) pairs and reading rows of a gateway's result."
    verdicts = []
    rows = []
    now = _utcnow()
    for read in result.reads:
        judged = verdict(
            meters[read.meter], read.values, read.status, read.serial, slot,
            previous.get(read.meter), rules)
        verdicts.append((read.meter, judged))
        zones = read.values + (None,) * (3 - len(read.values))
        rows.append((read.meter, slot, *zones, SOURCE, judged.state,
            judged.reason, poll, user, now))
    return verdicts, rows


def poll_gateways(connection, gateways, slot, centre=None, building=None,
        settings=None, rules=None, user=None, commit=None):
    """Poll, validate and store the meters of the scope behind
    ``gateways`` ([(host, port)]) for the poll slot ``slot`` (ISO text or
    datetime) on ``connection``; return the summary. ``commit`` is called
    after each batch of gateways' readings, if the caller wants them kept
    before the end."""
    if isinstance(slot, str):
        slot = datetime.fromisoformat(slot)
    settings = settings or poller.Settings()
    rules = rules or validation.load_rules()
    commit = commit or (lambda: None)
    gateways = [tuple(gateway) for gateway in gateways]
    targets, meters = load_meters(connection, gateways, centre, building)
    scope = json.dumps({
        'slot': slot.isoformat(), 'centre': centre, 'building': building,
        'gateways': [f'{host}:{port}' for host, port in gateways]})
    poll = store.open_poll(connection, scope, _utcnow(), user)
    commit()
    tally = Tally()

    with poller.ThreadedPoll(targets, settings) as polling:
        # The first gateways are read while the last readings are loaded.
        previous = load_previous(connection, list(meters))
        # Whatever is done while a batch is stored makes the next batch.
        for results in polling.batches():
            rows = []
            judged = []
            for result in results:
                verdicts, result_rows = judge(
                    result, meters, previous, slot, rules, poll, user)
                judged.append((result, verdicts))
                rows += result_rows
            stored = store.store_readings(connection, rows)
            for result, verdicts in judged:
                tally.add(result, verdicts)
            tally.counts['stored'] += stored
            commit()
    summary = tally.summary()
    store.close_poll(
        connection, poll, _utcnow(), tally.counts, json.dumps(summary))
    commit()
    return summary


def poll_chunk(database, gateways, slot, centre=None, building=None,
        settings=None, rules=None):
    """:func:`poll_gateways` on its own connection (a psycopg conninfo or a
    connection factory), the gateways' readings committed as soon as they
    are stored, so a killed chunk keeps what it had read."""
    connection = _connect(database)
    try:
        return poll_gateways(connection, gateways, slot, centre, building,
            settings, rules, commit=connection.commit)
    finally:
        connection.close()


def configured_settings():
    """The poller's Settings from trytond's configuration, section
    ``[rkc]``: ``meter_timeout`` (seconds, above the gateways' own
    response timeout) and ``meter_retries``; the defaults where absent."""
    from trytond import config
    default = poller.Settings()
    return poller.Settings(
        timeout=config.getfloat(
            'rkc', 'meter_timeout', default=default.timeout),
        retries=config.getint(
            'rkc', 'meter_retries', default=default.retries))


def poll_tryton_chunk(database, gateways, slot, centre=None,
        building=None):
    """The queued job: a chunk of gateways polled and stored in one Tryton
    transaction of ``database``, on its connection."""
    from trytond.transaction import Transaction
    settings = configured_settings()

    def run():
        transaction = Transaction()
        return poll_gateways(transaction.connection, gateways, slot,
            centre, building, settings, user=transaction.user)
    return tryton_job.transaction(run, database=database)


def chunk_calls(connection, database, slot, centre=None, building=None,
        chunk_gateways=CHUNK_GATEWAYS):
    "The arguments of one poll_tryton_chunk job per group of gateways."
    gateways = list_gateways(connection, centre, building)
    return [
        (database, gateways[index:index + chunk_gateways],
            slot.isoformat(), centre, building)
        for index in range(0, len(gateways), chunk_gateways)]


def enqueue_poll(calls):
    """Queue the chunk jobs (RQ, or inline in a thread that is returned)."""
    return queue.enqueue_all('rkc.metering.jobs.poll_tryton_chunk', calls)


def read_meters(database, centre=None, building=None, now=None):
    """Poll the current slot of a scope of ``database`` (Tryton configured);
    return the chunk count and, when the jobs ran inline, their polls."""
    from trytond.transaction import Transaction
    slot = poll_slot(now or _utcnow())

    def calls():
        return chunk_calls(Transaction().connection, database, slot,
            centre, building)
    calls = tryton_job.transaction(calls, database=database, readonly=True)
    inline = enqueue_poll(calls)
    if inline is None:
        return len(calls), None
    inline.join()
    return len(calls), tryton_job.transaction(
        _polls_of, slot, database=database, readonly=True)


def _polls_of(slot):
    from trytond.pool import Pool
    Poll = Pool().get('rkc.meter.poll')
    polls = Poll.search([
            ('scope', 'like', f'{{"slot": "{slot.isoformat()}"%')],
        order=[('id', 'ASC')])
    return [{
            'poll': p.id, 'state': p.state, 'read': p.read_count,
            'failed': p.failed_count, 'rejected': p.rejected_count,
            'review': p.review_count} for p in polls]


def main(database, centre=None, building=None):
    "``rkc read-meters``: poll the current slot; print the polls as JSON."
    chunks, polls = read_meters(database, centre, building)
    print(json.dumps({'chunks': chunks, 'polls': polls}))
    done = polls is None or (len(polls) == chunks
        and all(p['state'] == 'done' for p in polls))
    return 0 if done else 1
