"""The monthly billing run end to end on PostgreSQL: exactly once, subledger
equal to the general ledger, killed workers, closed periods, bad data and
the worked example of rules.md §1 through the run itself."""
import datetime as dt
import signal
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from rq import Queue

from rkc import tryton_job
from rkc.queue import QUEUE_NAME

import town

pytestmark = [pytest.mark.postgresql, pytest.mark.redis]

ACCOUNTS = 100
PERIOD = '2026-06'
PERIOD_START = dt.date(2026, 6, 1)
PERIOD_END = dt.date(2026, 6, 30)
REDIS_URL = 'redis://127.0.0.1:6379/11'
BILLED = ('Начисления за период 2026-06 уже выполнены: вместо повторного '
    'расчёта проведите перерасчёт.')
CLOSED = 'Период 2026-06 закрыт: в нём больше ничего нельзя провести.'
IMMUTABLE = ('Проведённые строки лицевой карточки нельзя изменить или '
    'удалить: проведите корректировку.')


@pytest.fixture(scope='module')
def template(tmp_path_factory):
    "The demo town, built once; scenarios bill copies of it."
    var = tmp_path_factory.mktemp('billing_run')
    env = town.environment(var)
    with town.copies(var, f'billrun_{uuid.uuid4().hex[:8]}',
            lambda name: town.build(name, ACCOUNTS, env)
            ) as copy:
        yield copy, env


@pytest.fixture
def database(template):
    copy, env = template
    return copy(), env


def in_tryton(database, function, *args):
    "Run ``function(pool, *args)`` in a committed Tryton transaction."
    from trytond.pool import Pool

    from rkc import setup

    company = tryton_job.transaction(setup.company_id, database=database)
    return tryton_job.transaction(
        lambda: function(Pool(), *args), database=database, user=1,
        context={'company': company})


def bill(database, env, *args):
    return town.rkc(database, 'bill', '--period', PERIOD, *args, env=env,
        check=False)


def expected_accounts(database):
    "Accounts open in the period with a service subscribed in it."
    return {a for a, in town.rows(database, """
            SELECT DISTINCT a.id FROM rkc_account a
            JOIN rkc_account_service s ON s.account = a.id
            WHERE a.opened_on <= %s
                AND (a.closed_on IS NULL OR a.closed_on >= %s)
                AND s.valid_from <= %s
                AND (s.valid_to IS NULL OR s.valid_to >= %s)""",
            PERIOD_END, PERIOD_START, PERIOD_END, PERIOD_START)}


def charged(database):
    "Per account, the runs that posted its charges for the period."
    runs = {}
    for account, origin in town.rows(database, """
            SELECT account, origin FROM rkc_ledger_line
            WHERE period = %s AND kind = 'charge'""", PERIOD_START):
        runs.setdefault(account, set()).add(origin)
    return runs


def line_count(database):
    return town.rows(database,
        'SELECT count(*), sum(amount) FROM rkc_ledger_line')[0]


def assert_billed_once(database, accounts):
    "Each account charged by exactly one run, each line key once."
    runs = charged(database)
    assert set(runs) == set(accounts)
    assert all(len(origins) == 1 for origins in runs.values())
    duplicates = town.rows(database, """
        SELECT account, service, part FROM rkc_ledger_line
        WHERE period = %s AND kind = 'charge'
        GROUP BY account, service, part HAVING count(*) > 1""",
        PERIOD_START)
    assert duplicates == []


def assert_subledger_equals_gl(database):
    def balances(pool):
        Line = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        Centre = pool.get('rkc.centre')
        return [(Line.balance(centre=c.id),
                Line.balance(centre=c.id, summarized=True),
                Posting.control_balance(centre=c.id))
            for c in Centre.search([])] + [(Line.balance(),
                Line.balance(summarized=True), Posting.control_balance())]
    result = in_tryton(database, balances)
    *centres, total = result
    assert total[0] > 0
    assert sum(c[0] for c in centres) == total[0]
    for subledger, summarized, control in result:
        assert subledger == summarized == control


def run_state(database):
    "State of the latest run."
    return town.rows(database,
        'SELECT state FROM rkc_billing_run ORDER BY id DESC LIMIT 1')[0][0]


def run_errors(database):
    "Errors of the latest run: account → {(service code, message)}."
    errors = {}
    for account, code, message in town.rows(database, """
            SELECT e.account, v.code, e.message
            FROM rkc_billing_run_error e
            JOIN rkc_service v ON v.id = e.service
            WHERE e.run = (SELECT max(id) FROM rkc_billing_run)"""):
        errors.setdefault(account, set()).add((code, message))
    return errors


def cold_water_meter(database):
    "An account with one cold-water meter: (account, meter)."
    return town.rows(database, """
        SELECT a.id, m.id FROM rkc_account a
        JOIN rkc_meter m ON m.premise = a.premise
        JOIN rkc_service s ON s.id = m.service AND s.code = 'cold_water'
        WHERE a.opened_on < %s ORDER BY a.id LIMIT 1""", PERIOD_START)[0]


def test_billed_once_balanced_and_worked_example(database):
    name, env = database
    # rules.md §1: cold water by meter, 123.456 → 131.789 m³ at 52.34
    # (the demo's tariff of June 2026) = 436.15.
    account, meter = cold_water_meter(name)
    town.execute(name, ("""
            UPDATE rkc_meter SET state = 'active',
                installed_on = '2020-01-01', verified_on = '2025-01-01',
                verification_interval = 6, zones = 1
            WHERE id = %s""", (meter,)),
        ('DELETE FROM rkc_meter_reading WHERE meter = %s', (meter,)),
        ("""INSERT INTO rkc_meter_reading
                (meter, read_at, value, source, state) VALUES
                (%s, '2026-05-20 12:00', 123.456, 'remote', 'valid'),
                (%s, '2026-06-20 12:00', 131.789, 'remote', 'valid')""",
            (meter, meter)))

    result = bill(name, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert run_state(name) == 'done'
    assert run_errors(name) == {}
    assert_billed_once(name, expected_accounts(name))
    assert_subledger_equals_gl(name)
    assert town.rows(name, """
        SELECT l.amount, l.volume, l.tariff, l.method FROM rkc_ledger_line l
        JOIN rkc_service s ON s.id = l.service AND s.code = 'cold_water'
        WHERE l.account = %s AND l.period = %s""",
        account, PERIOD_START) == [
        (Decimal('436.15'), Decimal('8.333'), Decimal('52.34'), 'metered')]

    # A chunk job run again changes nothing.
    before = line_count(name)
    chunks = [c for c, in town.rows(name,
            'SELECT id FROM rkc_billing_run_chunk ORDER BY id')]
    from rkc import jobs
    for chunk in chunks:
        jobs.process_chunk(name, 1, {}, 'post', chunk)
    assert line_count(name) == before

    # A second run for the billed period is refused.
    again = bill(name, env)
    assert again.returncode == 2
    assert again.stdout.strip() == f'refused: {BILLED}'
    assert line_count(name) == before


def test_closed_period_and_posted_lines_are_locked(database):
    from trytond.exceptions import UserError

    from rkc import jobs
    name, env = database
    assert bill(name, env).returncode == 0
    closed = town.rkc(name, 'close-period', '--period', PERIOD, env=env,
        check=False)
    assert closed.returncode == 0, closed.stdout + closed.stderr
    before = line_count(name)

    refused = bill(name, env)
    assert refused.returncode == 2
    assert refused.stdout.strip() == f'refused: {CLOSED}'

    # A chunk of a run for the closed period fails without posting.
    def chunk_for_closed_period(pool):
        Run = pool.get('rkc.billing.run')
        Chunk = pool.get('rkc.billing.run.chunk')
        run, = Run.search([('state', '=', 'draft')])
        chunk, = Chunk.create([{'run': run.id,
                    'building': run.buildings()[0]}])
        return chunk.id
    chunk = in_tryton(name, chunk_for_closed_period)
    with pytest.raises(UserError) as error:
        jobs.process_chunk(name, 1, {}, 'post', chunk)
    assert error.value.message == CLOSED
    assert town.rows(name,
        'SELECT state FROM rkc_billing_run_chunk WHERE id = %s',
        chunk) == [('failed',)]
    assert line_count(name) == before

    # Posted lines are never edited or deleted.
    def change(pool, operation):
        Line = pool.get('rkc.ledger.line')
        lines = Line.search([], limit=1)
        if operation == 'write':
            Line.write(lines, {'amount': Decimal('1.00')})
        else:
            Line.delete(lines)
    for operation in ('write', 'delete'):
        with pytest.raises(UserError) as error:
            in_tryton(name, change, operation)
        assert type(error.value).__name__ == 'PostedError'
        assert error.value.message == IMMUTABLE
    assert line_count(name) == before


def test_bad_data_stops_only_the_affected_accounts(database):
    name, env = database
    # Migrated data bypasses validation (even the NOT NULL the ORM keeps):
    # a premise without an area, the
    # two-zone electricity tariff without rates, no cold-water norm.
    no_area, = town.rows(name, """
        SELECT a.id FROM rkc_account a
        JOIN rkc_account_service s ON s.account = a.id
        JOIN rkc_service v ON v.id = s.service AND v.code = 'heating'
        WHERE a.opened_on < %s ORDER BY a.id DESC LIMIT 1""", PERIOD_START)
    two_zones = {a for a, in town.rows(name, """
        SELECT a.id FROM rkc_account a
        JOIN rkc_meter m ON m.premise = a.premise AND m.zones = 2
            AND m.state != 'removed' AND m.installed_on <= %s""",
            PERIOD_END)}
    by_norm = {a for a, in town.rows(name, """
        SELECT a.id FROM rkc_account a
        JOIN rkc_account_service s ON s.account = a.id
        JOIN rkc_service v ON v.id = s.service AND v.code = 'cold_water'
        WHERE NOT EXISTS (SELECT 1 FROM rkc_meter m
            WHERE m.premise = a.premise AND m.service = v.id
                AND m.installed_on <= %s)""", PERIOD_END)}
    town.execute(name,
        ('ALTER TABLE rkc_premise ALTER total_area DROP NOT NULL', ()),
        ("""
            UPDATE rkc_premise SET total_area = NULL WHERE id = (
                SELECT premise FROM rkc_account WHERE id = %s)""", no_area),
        ("""DELETE FROM rkc_tariff_rate WHERE tariff IN (
                SELECT t.id FROM rkc_tariff t JOIN rkc_service v
                ON v.id = t.service AND v.code = 'electricity'
                WHERE t.zones = 2)""", ()),
        ("""DELETE FROM rkc_norm_value WHERE norm IN (
                SELECT n.id FROM rkc_norm n JOIN rkc_service v
                ON v.id = n.service AND v.code = 'cold_water')""", ()))
    expected = expected_accounts(name)
    assert two_zones & expected and by_norm & expected

    result = bill(name, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert run_state(name) == 'done'
    errors = run_errors(name)
    assert ('heating', 'the premise has no area to bill heating on') \
        in errors[no_area[0]]
    for account in two_zones & expected:
        assert ('electricity', 'no tariff of electricity') \
            in errors[account]
    for account in by_norm & expected:
        assert ('cold_water', 'service "cold_water" has no norm') \
            in errors[account]
    assert set(errors) < expected
    assert_billed_once(name, expected - set(errors))
    assert_subledger_equals_gl(name)


def lock_waiters(database):
    return town.rows(database, """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = %s AND wait_event_type = 'Lock'""", database)[0][0]


def test_killed_worker_leaves_no_session(database):
    """RQ would fork its scheduler from the worker, and the fork kept the
    worker's database sessions (and a chunk's locks) alive after the worker
    was killed: the scheduler is a process of its own and goes too."""
    name, env = database
    env = dict(env, RKC_REDIS_URL=REDIS_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    worker = town.start_worker(name, env)
    try:
        town.wait_for(lambda: sessions(name), what="the worker's sessions")
        town.wait_for(lambda: schedulers_of(worker.pid),
            what="the worker's scheduler")
    finally:
        worker.kill()
        worker.wait()
    town.wait_for(lambda: not sessions(name), timeout=15,
        what="the killed worker's sessions closed",
        explain=lambda: sessions(name))
    town.wait_for(lambda: not schedulers_of(worker.pid), timeout=15,
        what="the killed worker's scheduler stopped")


def test_failed_job_is_retried(database, monkeypatch):
    "A job that fails is queued again by the scheduler, after its delay."
    from rq.job import Job

    from rkc import queue
    name, env = database
    env = dict(env, RKC_REDIS_URL=REDIS_URL)
    monkeypatch.setenv('RKC_REDIS_URL', REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    with town.workers(name, env, count=1):
        job = queue.enqueue('tests.worker_jobs.fail_once', REDIS_URL,
            'attempts')
        town.wait_for(lambda: Job.fetch(job.id, connection=jobs).get_status()
            == 'finished', timeout=30, what='the retried job finished',
            explain=lambda: jobs.get('attempts'))
    assert int(jobs.get('attempts')) == 2
    jobs.flushdb()


def test_receipts_printed_by_two_workers(database, monkeypatch):
    """Two workers print a month's buildings side by side: no chunk fails
    on the other's lock, and the batch is closed once."""
    name, env = database
    env = dict(env, RKC_REDIS_URL=REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    (month,), = town.rows(name, """
        SELECT max(period) FROM rkc_ledger_line WHERE kind = 'charge'""")
    with town.workers(name, env):
        done = town.rkc(name, 'print-receipts', '--period',
            f'{month:%Y-%m}', env=env, check=False)
    failed = Queue(QUEUE_NAME, connection=jobs).failed_job_registry
    assert (done.returncode, failed.count) == (0, 0), done.stdout
    chunks = town.rows(name, 'SELECT state, failure FROM '
        'rkc_receipt_batch_chunk')
    assert chunks and set(chunks) == {('printed', None)}
    assert town.rows(name, 'SELECT state FROM rkc_receipt_batch') == [
        ('done',)]
    jobs.flushdb()


def test_penalties_run_by_two_workers(database, monkeypatch):
    """Two workers take a penalty run's buildings side by side: no chunk
    fails on the other's lock, the run is closed once, and its lines are
    in the general ledger."""
    name, env = database
    env = dict(env, RKC_REDIS_URL=REDIS_URL)
    monkeypatch.setenv('RKC_REDIS_URL', REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    (month,), = town.rows(name, """
        SELECT max(period) FROM rkc_ledger_line WHERE kind = 'charge'""")

    def start(pool):
        Period = pool.get('rkc.period')
        Run = pool.get('rkc.penalty.run')
        run, = Run.create([{'period': Period.get_or_create(month).id}])
        Run.run([run])
        return run.id
    with town.workers(name, env):
        run = in_tryton(name, start)
        town.wait_for(lambda: town.rows(name,
                'SELECT state FROM rkc_penalty_run WHERE id = %s',
                run) == [('done',)], what='the penalty run done',
            explain=lambda: town.rows(name,
                'SELECT state, failure FROM rkc_penalty_run_chunk'))
    chunks = town.rows(name, 'SELECT state, failure FROM '
        'rkc_penalty_run_chunk WHERE run = %s', run)
    assert chunks and set(chunks) == {('done', None)}
    assert Queue(QUEUE_NAME, connection=jobs).failed_job_registry.count == 0
    assert town.rows(name, """
        SELECT count(*) FROM rkc_ledger_line
        WHERE origin = %s AND move IS NULL""", f'rkc.penalty.run,{run}'
        ) == [(0,)]
    assert_subledger_equals_gl(name)
    jobs.flushdb()


def schedulers_of(pid):
    "The processes of the scheduler the worker ``pid`` started."
    found = []
    for process in Path('/proc').iterdir():
        try:
            command = (process / 'cmdline').read_bytes().split(b'\0')
        except OSError:
            continue
        if b'rkc.job_scheduler' in command and str(pid).encode() in command:
            found.append(process.name)
    return found


def sessions(database):
    "The database's sessions, for a failure's diagnosis."
    return town.rows(database, """
        SELECT pid, state, wait_event_type, wait_event,
            now() - xact_start, left(query, 60)
        FROM pg_stat_activity WHERE datname = %s
            AND pid <> pg_backend_pid()""", database)


def queued(jobs):
    "What RQ holds of the run's jobs, for a failure's diagnosis."
    queue = Queue(QUEUE_NAME, connection=jobs)
    return {'queued': queue.count,
        'started': queue.started_job_registry.get_job_ids(),
        'failed': queue.failed_job_registry.get_job_ids(),
        'scheduled': queue.scheduled_job_registry.get_job_ids()}


def chunk_states(database):
    return sorted(s for s, in town.rows(database,
            'SELECT state FROM rkc_billing_run_chunk'))


def test_killed_worker_loses_nothing(database, monkeypatch):
    from rkc import billing_command
    name, env = database
    env = dict(env, RKC_REDIS_URL=REDIS_URL)
    monkeypatch.setenv('RKC_REDIS_URL', REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    run = in_tryton(name, lambda pool: billing_command._create_run(
            PERIOD_START, None, None))
    expected = expected_accounts(name)
    # Chunks made slow: an uncommitted line of one account of each
    # building holds the run's insert of that key until we roll back.
    blockers = town.rows(name, """
        SELECT DISTINCT ON (p.building) a.id, a.centre, s.service
        FROM rkc_account a JOIN rkc_premise p ON p.id = a.premise
        JOIN rkc_account_service s ON s.account = a.id
        JOIN rkc_service v ON v.id = s.service AND v.code = 'cold_water'
        WHERE a.opened_on < %s ORDER BY p.building, a.id""", PERIOD_START)
    assert len(blockers) >= 3
    blocking = town.connect(name)
    for account, centre, service in blockers:
        blocking.execute("""
            INSERT INTO rkc_ledger_line (account, centre, service, period,
                date, kind, amount, origin, part)
            VALUES (%s, %s, %s, %s, %s, 'charge', 0, %s, 0)""",
            (account, centre, service, PERIOD_START, PERIOD_START,
                f'rkc.billing.run,{run}'))
    try:
        with town.workers(name, env) as (victim, survivor):
            in_tryton(name, lambda pool: billing_command._start(run, False))
            town.wait_for(lambda: lock_waiters(name) == 2,
                what='two workers in a chunk each')
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            blocking.rollback()
            # The survivor finishes its chunk and the pending ones; the
            # victim's chunk stays pending, its lines rolled back.
            town.wait_for(lambda: chunk_states(name).count('posted')
                == len(chunk_states(name)) - 1,
                what='the other chunks posted')
            assert chunk_states(name).count('pending') == 1
            assert run_state(name) == 'posting'
            assert len(charged(name)) < len(expected)

            in_tryton(name, lambda pool: pool.get('rkc.billing.run').resume(
                    [pool.get('rkc.billing.run')(run)]))
            # The killed worker's database session may hold the chunk's
            # lock until its statement ends and PostgreSQL notices the
            # client gone; the job is retried meanwhile.
            town.wait_for(lambda: run_state(name) == 'done', timeout=180,
                what='the resumed run done', explain=lambda: (town.rows(
                    name, 'SELECT state, failure FROM rkc_billing_run_chunk'),
                    sessions(name), queued(jobs)))
            assert survivor.poll() is None
    finally:
        blocking.close()
        jobs.flushdb()
    assert run_errors(name) == {}
    assert_billed_once(name, expected)
    assert_subledger_equals_gl(name)
