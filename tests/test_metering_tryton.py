"""Remote meter reading wired into Tryton: a small demo town in PostgreSQL,
its meters served by a simulated fleet built from the database (real
pymodbus servers on loopback), polled by ``rkc read-meters``."""
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from rkc import tryton_job
from rkc.metering import jobs, simulator, stored_fleet

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parent.parent
SERVER = 'host=127.0.0.1 user=postgres'
URI = 'postgresql://postgres@127.0.0.1:5432/'
# Misbehaving meters of the town, by their position in the fleet.
MISBEHAVING = {
    0: 'backwards', 1: 'spike', 2: 'wrong_serial', 3: 'meter_error',
    4: 'stuck'}


def sql(database, query, *params):
    with psycopg.connect(f'{SERVER} dbname={database}',
            autocommit=True) as connection:
        cursor = connection.execute(query, params)
        return cursor.fetchall() if cursor.description else None


def rkc(env, database, *args):
    return subprocess.run(
        [sys.executable, '-m', 'rkc.cli', '-d', database, *args], env=env,
        cwd=ROOT, capture_output=True, text=True)


def misbehave(fleet):
    "Give the first meters of the fleet the faults of real ones."
    for index, behaviour in MISBEHAVING.items():
        spec = fleet[index]
        spec['behaviour'] = behaviour
        use = Decimal(spec['use_per_hour'][0])
        spec['use_per_hour'] = [str({
                    'backwards': -use / 50, 'spike': use * 500,
                    'stuck': 0}.get(behaviour, use))] * spec['zones']


@pytest.fixture(scope='module')
def town(tmp_path_factory):
    """A demo town of 20 accounts, its gateways moved to free ports; yields
    (database, environment, fleet of the simulator, Tryton configured)."""
    var = tmp_path_factory.mktemp('var')
    env = dict(os.environ, RKC_VAR=str(var), TRYTOND_DATABASE__URI=URI)
    for name in ('TRYTOND_CONFIG', 'RKC_REDIS_URL'):
        env.pop(name, None)
    database = 'j_meters_' + uuid.uuid4().hex[:8]
    done = rkc(env, database, 'demo', '--accounts', '20', '--no-serve')
    assert done.returncode == 0, done.stderr
    (first, last), = sql(database, 'SELECT MIN(modbus_port), '
        'MAX(modbus_port) FROM rkc_meter WHERE modbus_host IS NOT NULL')
    base = simulator.free_base_port(last - first + 1)
    sql(database, 'UPDATE rkc_meter SET modbus_port = modbus_port + %s '
        'WHERE modbus_host IS NOT NULL', base - first)
    with psycopg.connect(f'{SERVER} dbname={database}') as connection:
        fleet, models = stored_fleet.load(connection)
    ids = [meter for meter, in sql(database, 'SELECT id FROM rkc_meter '
            "WHERE state = 'active' AND modbus_host IS NOT NULL "
            'ORDER BY modbus_host, modbus_port, modbus_unit')]
    # The stuck meter has shown the same values for months.
    stuck = ids[4]
    sql(database, 'UPDATE rkc_meter_reading SET value = l.value, '
        'value_t2 = l.value_t2 FROM (SELECT value, value_t2 '
        'FROM rkc_meter_reading WHERE meter = %s '
        'ORDER BY read_at DESC LIMIT 1) l WHERE meter = %s', stuck, stuck)
    misbehave(fleet)
    tryton_job.configure(str(var / 'trytond.conf'))
    os.environ.pop('RKC_REDIS_URL', None)
    with simulator.Simulation(fleet, models=models):
        yield database, env, dict(zip(ids, fleet, strict=True))
    sql('postgres', f'DROP DATABASE {database} WITH (FORCE)')


def remote_readings(database):
    return sql(database, 'SELECT meter, read_at, state, reason '
        "FROM rkc_meter_reading WHERE source = 'remote' "
        'AND poll IS NOT NULL ORDER BY meter')


def test_poll_stores_remote_readings_once(town):
    database, env, fleet = town
    done = rkc(env, database, 'read-meters')
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    poll, = report['polls']
    assert report['chunks'] == 1
    assert (poll['read'], poll['failed']) == (len(fleet), 0)
    assert (poll['rejected'], poll['review']) == (1, 4)
    first = remote_readings(database)
    assert [meter for meter, *_ in first] == sorted(fleet)
    slot, = {read_at for _, read_at, *_ in first}

    # Again within the same slot, through the inline queue in this process.
    chunks, polls = jobs.read_meters(database, now=slot)
    assert chunks == 1 and polls[0]['poll'] == poll['poll']
    assert remote_readings(database) == first

    (summary,), = sql(database, 'SELECT summary FROM rkc_meter_poll '
        'WHERE id = %s', poll['poll'])
    assert sum(g['read'] for g in json.loads(summary)['gateways'].values()
        ) == len(fleet)


def test_review_list_holds_each_reason(town):
    database, _, fleet = town
    if not remote_readings(database):
        jobs.read_meters(database)
    held = {reason: (fleet[meter]['behaviour'], state)
        for meter, _, state, reason in remote_readings(database)
        if state != 'valid'}
    assert held == {
        'negative': ('backwards', 'review'),
        'spike': ('spike', 'review'),
        'serial_mismatch': ('wrong_serial', 'rejected'),
        'meter_error': ('meter_error', 'review'),
        'stale': ('stuck', 'review'),
        }


def _desk_reading(meter_id, offset):
    from trytond.pool import Pool
    Reading = Pool().get('rkc.meter.reading')
    last, = Reading.search([
            ('meter', '=', meter_id), ('state', '=', 'valid')],
        order=[('read_at', 'DESC')], limit=1)
    meter = last.meter
    reading, = Reading.create([{
                'meter': meter_id,
                'read_at': last.read_at + dt.timedelta(days=1),
                'value': last.value + offset,
                'value_t2': last.value_t2 if meter.zones > 1 else None,
                }])
    return reading.state, reading.reason


@pytest.mark.parametrize('case, offset, held', [
        (0, Decimal(-1), ('review', 'negative')),
        (1, Decimal(5000), ('review', 'spike')),
        (2, Decimal(0), ('valid', None)),
        ])
def test_desk_reading_is_judged(town, case, offset, held):
    database, _, fleet = town
    normal = [m for m, spec in sorted(fleet.items())
        if spec['behaviour'] == 'normal' and spec['service'] == 'cold_water']
    assert tryton_job.transaction(
        _desk_reading, normal[case], offset, database=database) == held


def _fail_expired():
    from trytond.pool import Pool
    return [m.id for m in Pool().get('rkc.meter').fail_expired()]


def _expired():
    from trytond.pool import Pool
    pool = Pool()
    assert pool.get('ir.cron').search(
        [('method', '=', 'rkc.meter|fail_expired')])
    return [m.id for m in pool.get('rkc.meter').search(
            [('state', '=', 'active')]) if m.verification_expired()]


def test_cron_fails_expired_meters(town):
    database, _, _ = town
    due = tryton_job.transaction(_expired, database=database)
    failed = tryton_job.transaction(_fail_expired, database=database)
    assert due and sorted(failed) == sorted(due)
    states = dict(sql(database,
            'SELECT id, state FROM rkc_meter WHERE id = ANY(%s)', due))
    assert set(states.values()) == {'failed'}
    assert tryton_job.transaction(_fail_expired, database=database) == []
    assert tryton_job.transaction(_expired, database=database) == []


def _queue_poll(now):
    from trytond.pool import Pool
    return Pool().get('rkc.meter.poll').poll_meters(now=now)


def test_cron_queues_the_poll(town):
    database, _, _ = town
    assert sql(database, 'SELECT interval_type, day FROM ir_cron '
        "WHERE method = 'rkc.meter.poll|poll_meters'") == [('months', 20)]
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    calls = tryton_job.transaction(_queue_poll, now, database=database)
    # The chunks run inline, in a thread started once the cron committed.
    for thread in threading.enumerate():
        if thread.name.startswith('inline rkc.metering'):
            thread.join()
    assert len(calls) == 1
    slot = jobs.poll_slot(now)
    # Meters failed since (past their verification) are no longer read.
    assert sql(database, 'SELECT COUNT(*) FROM rkc_meter_reading '
        'WHERE read_at = %s', slot) == sql(database, 'SELECT COUNT(*) '
        "FROM rkc_meter WHERE state = 'active' AND modbus_host IS NOT NULL")


def _replace(meter_id, when):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Meter = pool.get('rkc.meter')
    Replace = pool.get('rkc.meter.replace', type='wizard')
    old = Meter(meter_id)
    session, _, _ = Replace.create()
    with Transaction().set_context(active_model='rkc.meter',
            active_id=meter_id, active_ids=[meter_id]):
        defaults = {k: v for k, v in Replace.execute(
                session, {}, 'start')['view']['defaults'].items()
            if '.' not in k}
        Replace.execute(session, {'start': {
                    **defaults, 'replaced_at': when,
                    'final_value': Decimal('123.456'),
                    'final_value_t2': Decimal(7) if old.zones > 1 else None,
                    'serial': 'N' + old.serial,
                    'initial_value': Decimal('0.5'),
                    'initial_value_t2': Decimal(0) if old.zones > 1
                    else None,
                    }}, 'replace')
    new, = Meter.search([('serial', '=', 'N' + old.serial)])
    return old.state, [(r.meter.id, r.value, r.source)
        for m in (old, new) for r in m.readings if r.read_at == when], (
        new.premise == old.premise, new.service == old.service,
        new.modbus_unit == old.modbus_unit, new.state)


def test_replacement_wizard(town):
    database, _, fleet = town
    meter = next(m for m, spec in sorted(fleet.items())
        if spec['behaviour'] == 'normal')
    when = dt.datetime(2026, 12, 1, 9)
    state, readings, inherited = tryton_job.transaction(
        _replace, meter, when, database=database)
    assert state == 'removed'
    assert [(value, source) for _, value, source in readings] == [
        (Decimal('123.456'), 'inspector'), (Decimal('0.5'), 'inspector')]
    assert readings[0][0] == meter and readings[1][0] != meter
    assert inherited == (True, True, True, 'active')
