"""The poll end to end: simulated pymodbus gateways on loopback, the poller,
validation and storing in a scratch PostgreSQL database."""
import json
import resource
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from rkc.metering import jobs, poller, simulator, store
from rkc.metering.registers import load_models

pytestmark = pytest.mark.postgresql

SERVICES = {'cold_water': 1, 'hot_water': 2, 'electricity': 3, 'heat': 4}
SETTINGS = poller.Settings(timeout=0.2, retries=1, backoff=0.01)
BEHAVIOURS = ['normal', 'offline', 'near_rollover', 'wrong_serial',
    'exception', 'slow', 'meter_error', 'backwards', 'spike', 'stuck']
SERVER = 'host=127.0.0.1 user=postgres'


@pytest.fixture
def database():
    name = f'rkc_metering_{uuid.uuid4().hex[:12]}'
    with psycopg.connect(SERVER + ' dbname=postgres',
            autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE {name}')
    conninfo = f'{SERVER} dbname={name}'
    with psycopg.connect(conninfo) as connection:
        store.create_tables(connection)
    yield conninfo
    with psycopg.connect(SERVER + ' dbname=postgres',
            autocommit=True) as admin:
        admin.execute(f'DROP DATABASE {name} WITH (FORCE)')


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def install(conninfo, meters):
    with psycopg.connect(conninfo) as connection:
        return store.create_meters(
            connection, meters, SERVICES, load_models())


def gateways_of(meters):
    return sorted({(m['host'], m['port']) for m in meters})


def stored(conninfo, query, *params):
    with psycopg.connect(conninfo) as connection:
        return connection.execute(query, params).fetchall()


def slot_of(seconds):
    return datetime.utcfromtimestamp(seconds)


def test_poll_validates_and_stores_every_reason(database):
    port = simulator.free_base_port(3)
    meters = simulator.fleet(
        2, 10, seed=7, base_port=port, behaviours=BEHAVIOURS)
    # A third gateway that nobody answers on: the breaker opens.
    dead = simulator.fleet(1, 5, seed=8, base_port=port + 2, mix={})
    ids = install(database, meters + dead)
    by_id = dict(zip(ids, meters + dead, strict=True))
    gateways = gateways_of(meters + dead)
    t0 = simulator.EPOCH + 12 * 3600
    clock = Clock(t0)

    def run(seconds):
        clock.now = seconds
        return jobs.poll_chunk(database, gateways, slot_of(seconds),
            settings=SETTINGS)

    with simulator.Simulation(meters, clock):
        first = run(t0)
        second = run(t0 + 86400)
        third = run(t0 + 100 * 86400)
        again = run(t0 + 100 * 86400)

    assert first['read'] == 16
    assert first['failed'] == 4 + 5
    assert (first['rejected'], first['review']) == (2, 2)
    gateway = first['gateways'][f'127.0.0.1:{port}']
    assert gateway['failed'] == {'timeout': 1, 'exception_4': 1}
    dead_gateway = first['gateways'][f'127.0.0.1:{port + 2}']
    assert dead_gateway['breaker_open']
    assert dead_gateway['failed'] == {'connection': 3, 'gateway_down': 2}
    assert sorted(first['alerts']) == sorted(
        i for i, m in by_id.items() if m['behaviour'] == 'wrong_serial')
    assert again['stored'] == 0 and third['stored'] == 16

    reasons = {}
    for meter, state, reason in stored(database,
            'SELECT meter, state, reason FROM rkc_meter_reading'):
        reasons.setdefault(reason, set()).add(
            (by_id[meter]['behaviour'], state))
    assert reasons == {
        None: {(b, 'valid') for b in BEHAVIOURS
            if b not in {'offline', 'exception', 'wrong_serial',
                'meter_error'}},
        'rollover': {('near_rollover', 'valid')},
        'negative': {('backwards', 'review')},
        'spike': {('spike', 'review')},
        'serial_mismatch': {('wrong_serial', 'rejected')},
        'stale': {('stuck', 'review')},
        'meter_error': {('meter_error', 'review')},
    }
    # Two meters of each kind: meter_error, backwards, spike (+ stuck).
    assert (second['review'], third['review']) == (6, 8)

    polls = stored(database, 'SELECT read_count, failed_count, state, summary '
        'FROM rkc_meter_poll ORDER BY id')
    assert len(polls) == 3
    assert polls[0][:3] == (16, 9, 'done')
    assert json.loads(polls[0][3])['gateways'] == first['gateways']


def test_values_decoded_in_both_word_orders(database):
    port = simulator.free_base_port(1)
    meters = simulator.fleet(1, 12, seed=4, base_port=port, mix={})
    assert {m['model'] for m in meters} == {
        'PULSAR-W', 'MERCURY-E2', 'TEPLO-H'}
    ids = install(database, meters)
    now = simulator.EPOCH + 1000 * 3600
    with simulator.Simulation(meters, Clock(now)):
        jobs.poll_chunk(database, gateways_of(meters), slot_of(now),
            settings=SETTINGS)
    rows = stored(database, 'SELECT meter, value, value_t2, value_t3 '
        'FROM rkc_meter_reading ORDER BY meter')
    assert [row[0] for row in rows] == ids
    models = load_models()
    for (meter, *values), spec in zip(rows, meters, strict=True):
        scale = models[spec['model']].scale
        for zone, value in enumerate(values):
            if zone >= spec['zones']:
                assert value is None
                continue
            expected = (Decimal(spec['start'][zone])
                + Decimal(spec['use_per_hour'][zone]) * 1000)
            assert expected - scale <= value <= expected, (meter, zone)
            assert value.as_tuple().exponent == scale.as_tuple().exponent


def test_killed_poll_rerun_stores_no_duplicates(database):
    port = simulator.free_base_port(3)
    meters = simulator.fleet(3, 25, seed=5, base_port=port,
        behaviours=['slow'])
    install(database, meters)
    gateways = gateways_of(meters)
    slot = datetime(2025, 3, 1, 10)
    code = (
        'import sys; from rkc.metering import jobs, poller; '
        'jobs.poll_chunk(sys.argv[1], [tuple(g) for g in eval(sys.argv[2])],'
        ' sys.argv[3], settings=poller.Settings(concurrency=1))')
    with simulator.Simulation(meters):
        child = subprocess.Popen([sys.executable, '-c', code, database,
            repr(gateways), slot.isoformat()])
        deadline = time.monotonic() + 30
        count = 0
        while count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            count = stored(database,
                'SELECT count(*) FROM rkc_meter_reading')[0][0]
        child.kill()
        child.wait()
        partial = stored(database,
            'SELECT count(*) FROM rkc_meter_reading')[0][0]
        assert 0 < partial < len(meters), 'kill the poll half way'
        summary = jobs.poll_chunk(database, gateways, slot)
    assert summary['read'] == len(meters)
    assert summary['stored'] == len(meters) - partial
    rows = stored(database, 'SELECT meter, count(*), min(read_at) '
        'FROM rkc_meter_reading GROUP BY meter')
    assert len(rows) == len(meters)
    assert {(count, read_at) for _, count, read_at in rows} == {(1, slot)}
    # The killed run's poll row is reused, not doubled.
    assert stored(database, 'SELECT state FROM rkc_meter_poll') == [
        ('done',)]


@pytest.mark.parametrize('values, message', [
    ({'timeout': 0}, 'timeout must be above 0'),
    ({'retries': -1}, 'retries must not be negative'),
    ({'backoff': -0.1}, 'backoff must not be negative'),
    ({'concurrency': 0}, 'concurrency must be at least 1'),
    ({'breaker_threshold': 0}, 'breaker_threshold must be at least 1'),
    ])
def test_wrong_poll_settings_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        poller.Settings(**values)


def test_settings_from_trytond_configuration():
    from trytond import config
    if not config.has_section('rkc'):
        config.add_section('rkc')
    options = ('meter_timeout', 'meter_retries')
    default = poller.Settings()
    before = {option: config.get('rkc', option, default=str(value))
        for option, value in zip(
            options, (default.timeout, default.retries), strict=True)}
    try:
        config.set('rkc', 'meter_timeout', '1.5')
        config.set('rkc', 'meter_retries', '3')
        settings = jobs.configured_settings()
        assert (settings.timeout, settings.retries) == (1.5, 3)
        config.set('rkc', 'meter_timeout', '-1')
        with pytest.raises(ValueError, match='timeout must be above 0'):
            jobs.configured_settings()
    finally:
        for option, value in before.items():
            config.set('rkc', option, value)
    assert jobs.configured_settings() == poller.Settings(
        timeout=float(before['meter_timeout']),
        retries=int(before['meter_retries']))


def test_poll_slot():
    assert jobs.poll_slot(datetime(2025, 3, 1, 10, 59, 59, 999)) == (
        datetime(2025, 3, 1, 10))
    assert jobs.poll_slot(datetime(2025, 3, 1, 10, 7, 31),
        timedelta(minutes=15)) == datetime(2025, 3, 1, 10)


def test_sqlite_store_is_idempotent():
    import sqlite3
    connection = sqlite3.connect(':memory:')
    store.create_tables(connection)
    read_at = datetime(2025, 3, 1, 10)
    row = (1, read_at, Decimal('12.345'), None, None, 'remote', 'valid',
        None, None, None, read_at)
    assert store.store_readings(connection, [row, row]) == 1
    assert store.store_readings(
        connection, [row, (2, *row[1:])]) == 1
    assert connection.execute('SELECT meter, value FROM rkc_meter_reading '
        'ORDER BY meter').fetchall() == [(1, 12.345), (2, 12.345)]


def previous_readings_of_many_meters(connection):
    """The last readings of 70,000 meters, more than one statement binds
    on either backend (PostgreSQL 65,535, SQLite 32,766): the first and
    the last meter have readings, the last unchanged for a day."""
    first, last = datetime(2025, 3, 1, 10), datetime(2025, 3, 2, 10)
    rows = [(meter, read_at, value, None, None, 'remote', 'valid', None,
            None, None, read_at)
        for meter, read_at, value in [(1, first, Decimal('5.5')),
            (70_000, first, Decimal('7.25')),
            (70_000, last, Decimal('7.25'))]]
    assert store.store_readings(connection, rows) == 3
    previous = jobs.load_previous(connection, list(range(1, 70_001)))
    assert sorted(previous) == [1, 70_000]
    assert previous[1].values == (Decimal('5.5'),)
    assert previous[70_000].values == (Decimal('7.25'),)
    assert previous[70_000].read_at == last
    assert previous[70_000].unchanged_since == first


def test_previous_readings_beyond_the_parameter_limit_sqlite():
    import sqlite3
    connection = sqlite3.connect(':memory:')
    # SQLite's default build; Debian's allows more.
    connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)
    store.create_tables(connection)
    previous_readings_of_many_meters(connection)


def test_previous_readings_beyond_the_parameter_limit(database):
    with psycopg.connect(database) as connection:
        previous_readings_of_many_meters(connection)


@pytest.mark.parametrize('processes', [1, 2])
def test_simulate_command_serves_the_exported_fleet(processes):
    port = simulator.free_base_port(2)
    child = subprocess.Popen([sys.executable, '-m', 'rkc.cli', 'meters',
        'simulate', '--gateways', '2', '--meters-per-gateway', '6',
        '--base-port', str(port), '--seed', '11',
        '--processes', str(processes)],
        stdout=subprocess.PIPE, text=True)
    try:
        announced = json.loads(child.stdout.readline())
        assert (announced['meters'], announced['processes']) == (
            12, processes)
        meters = simulator.fleet(2, 6, seed=11, base_port=port)
        models = load_models()
        targets = {}
        for index, m in enumerate(meters):
            targets.setdefault((m['host'], m['port']), []).append(
                poller.Target(index, m['unit'], models[m['model']]))

        async def read_all():
            return [result async for result in poller.poll(
                [poller.Gateway(h, p, tuple(t))
                    for (h, p), t in targets.items()], SETTINGS)]

        import asyncio
        results = asyncio.run(read_all())
    finally:
        child.terminate()
        child.wait()
    serials = {read.meter: read.serial
        for result in results for read in result.reads}
    assert len(serials) == 12
    assert all(meters[i]['serial'] == s for i, s in serials.items())
    # The helper serving the other gateway went with the simulator.
    deadline = time.monotonic() + 10
    while listening(port) or listening(port + 1):
        assert time.monotonic() < deadline, 'a gateway is still served'
        time.sleep(0.1)


def test_simulator_spreads_gateways_over_the_open_files_limit():
    """Each gateway holds a listening socket: under a low limit of open
    files the simulator serves the fleet from more processes than asked."""
    port = simulator.free_base_port(40)
    room = 20

    def limit_open_files():
        limit = simulator.SPARE_DESCRIPTORS + room
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    child = subprocess.Popen([sys.executable, '-m', 'rkc.cli', 'meters',
        'simulate', '--gateways', '40', '--meters-per-gateway', '1',
        '--base-port', str(port), '--processes', '1'],
        stdout=subprocess.PIPE, text=True, preexec_fn=limit_open_files)
    try:
        announced = json.loads(child.stdout.readline())
        assert all(listening(port + g) for g in range(40))
    finally:
        child.terminate()
        child.wait()
    assert announced == {'ready': True, 'gateways': 40, 'meters': 40,
        'processes': 2}


def listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(('127.0.0.1', port)) == 0
