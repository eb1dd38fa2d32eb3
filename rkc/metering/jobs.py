"""The meter poll as queued jobs: gateways split into chunks, each chunk
polled, validated and stored by :func:`poll_chunk`.

Every reading of a poll is stamped with the poll's *slot*: the scheduled
time of the poll (by default the start of the current hour), not the wall
clock of each read. An RQ retry of a killed chunk, or ``rkc read-meters``
run again within the hour, stores the readings it gets under the same
(meter, read_at) keys, so nothing already stored is duplicated and only the
meters missing from the first run are added.
"""
import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rkc import queue

from . import poller, store, validation
from .registers import MeterModel

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


def _gateway_filter(connection, gateways):
    condition = ' OR '.join(
        '(m.modbus_host = %s AND m.modbus_port = %s)' for _ in gateways)
    params = [value for host, port in gateways for value in (host, port)]
    return store.sql(connection, f'({condition})'), params


def list_gateways(connection, building=None):
    "(host, port) of the gateways of active meters, optionally a building."
    query = ("SELECT DISTINCT modbus_host, modbus_port FROM rkc_meter "
        "WHERE state = 'active' AND modbus_host IS NOT NULL")
    params = []
    if building is not None:
        query += ' AND building = %s'
        params.append(building)
    cursor = connection.cursor()
    cursor.execute(store.sql(connection, query + ' ORDER BY 1, 2'), params)
    return [(host, port) for host, port in cursor.fetchall()]


def load_meters(connection, gateways, services, building=None):
    """The poller's gateways and, by meter id, the validation.Meter of each
    active meter behind ``gateways``; ``services`` maps service ids to the
    codes of the validation rules."""
    condition, params = _gateway_filter(connection, gateways)
    query = ('SELECT m.id, m.serial, m.service, m.digits, m.modbus_host, '
        'm.modbus_port, m.modbus_unit, o.name, o.register_kind, '
        'o.value_address, o.zones, o.word_order, o.scale, '
        'o.status_address, o.serial_address '
        'FROM rkc_meter m JOIN rkc_meter_model o ON o.id = m.model '
        f"WHERE m.state = 'active' AND {condition}")
    if building is not None:
        query += store.sql(connection, ' AND m.building = %s')
        params.append(building)
    cursor = connection.cursor()
    cursor.execute(query + ' ORDER BY m.modbus_host, m.modbus_port, '
        'm.modbus_unit', params)
    models = {}
    targets = {}
    meters = {}
    for (meter, serial, service, digits, host, port, unit,
            *model_row) in cursor.fetchall():
        name = model_row[0]
        if name not in models:
            (name, kind, value_address, zones, word_order, scale,
                status_address, serial_address) = model_row
            models[name] = MeterModel(name, kind, value_address, zones,
                word_order, Decimal(str(scale)), status_address,
                serial_address)
        targets.setdefault((host, port), []).append(
            poller.Target(meter, unit, models[name]))
        meters[meter] = validation.Meter(serial, services[service], digits)
    return [
        poller.Gateway(host, port, tuple(units))
        for (host, port), units in targets.items()], meters


def load_previous(connection, gateways):
    "validation.Previous of each meter behind ``gateways`` that has one."
    condition, params = _gateway_filter(connection, gateways)
    # Counters only grow, so the readings equal to the last one are the
    # unchanged stretch up to it.
    query = ('SELECT r.meter, r.read_at, r.value, r.value_t2, r.value_t3, '
        '(SELECT MIN(s.read_at) FROM rkc_meter_reading s '
        "WHERE s.meter = r.meter AND s.state = 'valid' "
        'AND s.value = r.value '
        'AND COALESCE(s.value_t2, -1) = COALESCE(r.value_t2, -1) '
        'AND COALESCE(s.value_t3, -1) = COALESCE(r.value_t3, -1)) '
        'FROM rkc_meter_reading r JOIN ('
        'SELECT s.meter, MAX(s.read_at) AS read_at '
        'FROM rkc_meter_reading s JOIN rkc_meter m ON m.id = s.meter '
        f"WHERE s.state = 'valid' AND {condition} GROUP BY s.meter) l "
        'ON l.meter = r.meter AND l.read_at = r.read_at')
    cursor = connection.cursor()
    cursor.execute(query, params)
    previous = {}
    for meter, read_at, *values, since in cursor.fetchall():
        previous[meter] = validation.Previous(
            tuple(Decimal(str(v)) for v in values if v is not None),
            _timestamp(read_at), _timestamp(since))
    return previous


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

    def add(self, result, verdicts, stored):
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
        self.counts['stored'] += stored
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


def judge(result, meters, previous, slot, rules, poll):
    "The (meter, verdict) pairs and reading rows of a gateway's result."
    verdicts = []
    rows = []
    now = _utcnow()
    for read in result.reads:
        verdict = validation.validate(
            meters[read.meter], read.values, read.status, read.serial, slot,
            previous.get(read.meter), rules)
        verdicts.append((read.meter, verdict))
        zones = read.values + (None,) * (3 - len(read.values))
        rows.append((read.meter, slot, *zones, SOURCE, verdict.state,
            verdict.reason, poll, None, now))
    return verdicts, rows


def poll_chunk(database, gateways, slot, services, building=None,
        settings=None, rules=None):
    """Poll, validate and store the meters behind ``gateways`` ([(host,
    port)]) for the poll slot ``slot`` (ISO text or datetime); return the
    summary. Each gateway's readings are committed as soon as it is done,
    so a killed chunk keeps what it had read."""
    if isinstance(slot, str):
        slot = datetime.fromisoformat(slot)
    settings = settings or poller.Settings()
    rules = rules or validation.load_rules()
    gateways = [tuple(gateway) for gateway in gateways]
    connection = _connect(database)
    try:
        targets, meters = load_meters(
            connection, gateways, services, building)
        previous = load_previous(connection, gateways)
        scope = json.dumps({
            'slot': slot.isoformat(), 'building': building,
            'gateways': [f'{host}:{port}' for host, port in gateways]})
        poll = store.open_poll(connection, scope, _utcnow())
        connection.commit()
        tally = Tally()

        async def run():
            async for result in poller.poll(targets, settings):
                verdicts, rows = judge(
                    result, meters, previous, slot, rules, poll)
                tally.add(result, verdicts,
                    store.store_readings(connection, rows))
                connection.commit()

        asyncio.run(run())
        summary = tally.summary()
        store.close_poll(
            connection, poll, _utcnow(), tally.counts, json.dumps(summary))
        connection.commit()
        return summary
    finally:
        connection.close()


def enqueue_poll(database, services, slot, building=None,
        chunk_gateways=CHUNK_GATEWAYS):
    "Queue one poll_chunk job per group of gateways; return the jobs."
    connection = _connect(database)
    try:
        gateways = list_gateways(connection, building)
    finally:
        connection.close()
    jobs = []
    for index in range(0, len(gateways), chunk_gateways):
        jobs.append(queue.enqueue(
            'rkc.metering.jobs.poll_chunk', database,
            gateways[index:index + chunk_gateways], slot.isoformat(),
            services, building,
            job_id=f'read-meters-{slot:%Y%m%dT%H%M%S}-{building}-{index}'))
    return jobs


def main(args):
    """``rkc read-meters``: poll the current slot. Until the command is
    wired to Tryton it reads the database from ``RKC_METERING_DB`` (a
    psycopg conninfo) and the service codes from ``RKC_METER_SERVICES``
    (JSON {service id: code})."""
    if args.centre:
        print('rkc read-meters: --centre needs the Tryton wiring; '
            'use --building', file=sys.stderr)
        return 2
    database = os.environ.get('RKC_METERING_DB')
    services = os.environ.get('RKC_METER_SERVICES')
    if not database or not services:
        print('rkc read-meters: set RKC_METERING_DB and '
            'RKC_METER_SERVICES', file=sys.stderr)
        return 2
    services = {int(k): v for k, v in json.loads(services).items()}
    jobs = enqueue_poll(
        database, services, poll_slot(_utcnow()), args.building)
    for job in jobs:
        print(json.dumps(job, default=str) if isinstance(job, dict)
            else job.id)
    return 0
