"""Billing runs under faults on PostgreSQL with Redis and real RQ workers:
a worker killed at a random point and replaced, a worker's database
connection terminated in the middle of a chunk, Redis restarted (its
queued jobs lost) and two workers on the same chunk. After recovery every
account is billed exactly once and the subledger equals the general
ledger's control account."""
import random
import signal
import time
import uuid

import pytest
import redis
from rq import Queue
from test_billing_run import (
    PERIOD_START, assert_billed_once, assert_subledger_equals_gl, charged,
    chunk_states, expected_accounts, in_tryton, lock_waiters, run_errors,
    run_state)

from rkc import queue

import town

pytestmark = [pytest.mark.postgresql, pytest.mark.redis, pytest.mark.slow]

ACCOUNTS = 300
REDIS_URL = 'redis://127.0.0.1:6379/13'


@pytest.fixture(scope='module')
def template(tmp_path_factory):
    var = tmp_path_factory.mktemp('billing_faults')
    env = town.environment(var, REDIS_URL)
    with town.copies(var, f'billfault_{uuid.uuid4().hex[:8]}',
            lambda name: town.unbilled(name, ACCOUNTS, town.environment(var))
            ) as copy:
        yield copy, env


@pytest.fixture
def database(template, monkeypatch):
    "A copy of the town, an empty queue, and jobs queued into Redis."
    copy, env = template
    monkeypatch.setenv('RKC_REDIS_URL', REDIS_URL)
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield copy(), env
    connection.flushdb()


def create_run(database, building=None):
    from rkc import billing_command
    return in_tryton(database, lambda pool: billing_command._create_run(
            PERIOD_START, None, building))


def start_run(database, run):
    from rkc import billing_command
    in_tryton(database, lambda pool: billing_command._start(run, False))


def resume(database, run):
    def resume(pool):
        Run = pool.get('rkc.billing.run')
        Run.resume([Run(run)])
    in_tryton(database, resume)


def settled(database, quiet=1.5, timeout=120):
    """Wait until the queue is empty and the chunks stop changing for
    ``quiet`` seconds."""
    jobs = Queue(queue.QUEUE_NAME,
        connection=redis.Redis.from_url(REDIS_URL))
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = (len(jobs), chunk_states(database), run_state(database))
        if state != last:
            last, since = state, time.monotonic()
        elif not state[0] and time.monotonic() - since > quiet:
            return state
        time.sleep(0.1)
    raise TimeoutError(f'the run did not settle: {last}')


def recover(database, run):
    "What the desk does after a crash: resume until the run is done."
    for _ in range(3):
        if settled(database)[2] == 'done':
            return
        resume(database, run)
    town.wait_for(lambda: run_state(database) == 'done', timeout=120,
        what='the resumed run done', explain=lambda: town.rows(database,
            'SELECT state, failure FROM rkc_billing_run_chunk'))


def assert_recovered(database, accounts):
    assert run_state(database) == 'done'
    assert run_errors(database) == {}
    assert_billed_once(database, accounts)
    assert_subledger_equals_gl(database)


def test_worker_killed_at_random_point_then_replaced(database):
    name, env = database
    seed = random.randrange(2 ** 32)
    print(f'kill point seed {seed}')
    rng = random.Random(seed)
    expected = expected_accounts(name)
    run = create_run(name)
    chunks = len(in_tryton(name, lambda pool: pool.get(
                'rkc.billing.run')(run).buildings()))
    # Killed once some chunks are posted, then a moment later: anywhere
    # from before the first chunk to the finish job.
    posted_before_kill = rng.randrange(chunks)
    delay = rng.uniform(0, 0.5)
    with town.workers(name, env) as (victim, survivor):
        start_run(name, run)
        town.wait_for(
            lambda: chunk_states(name).count('posted') >= posted_before_kill,
            timeout=120, poll=0.02, what=f'{posted_before_kill} chunks')
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        replacement = town.start_worker(name, env)
        try:
            recover(name, run)
            assert survivor.poll() is None and replacement.poll() is None
        finally:
            replacement.terminate()
            replacement.wait(20)
    assert_recovered(name, expected)


def blocked_chunk(database, run, building=None):
    """An uncommitted charge of one account of each building (or of
    ``building``) that holds the run's insert of that key: the worker
    waits in the middle of its chunk until it is rolled back."""
    rows = town.rows(database, """
        SELECT DISTINCT ON (p.building) a.id, a.centre, s.service
        FROM rkc_account a JOIN rkc_premise p ON p.id = a.premise
        JOIN rkc_account_service s ON s.account = a.id
        JOIN rkc_service v ON v.id = s.service AND v.code = 'cold_water'
        WHERE a.opened_on < %s AND (%s::int IS NULL OR p.building = %s)
        ORDER BY p.building, a.id""", PERIOD_START, building, building)
    connection = town.connect(database)
    for account, centre, service in rows:
        connection.execute("""
            INSERT INTO rkc_ledger_line (account, centre, service, period,
                date, kind, amount, origin, part)
            VALUES (%s, %s, %s, %s, %s, 'charge', 0, %s, 0)""",
            (account, centre, service, PERIOD_START, PERIOD_START,
                f'rkc.billing.run,{run}'))
    return connection


def waiting_backends(database):
    return [pid for pid, in town.rows(database, """
        SELECT pid FROM pg_stat_activity
        WHERE datname = %s AND wait_event_type = 'Lock'""", database)]


def test_connection_terminated_mid_chunk(database):
    name, env = database
    expected = expected_accounts(name)
    run = create_run(name)
    blocking = blocked_chunk(name, run)
    try:
        with town.workers(name, env, count=1):
            start_run(name, run)
            town.wait_for(lambda: len(waiting_backends(name)) == 1,
                what='the worker in a chunk')
            pid, = waiting_backends(name)
            assert town.rows(name, 'SELECT pg_terminate_backend(%s)',
                pid) == [(True,)]
            blocking.rollback()
            recover(name, run)
    finally:
        blocking.close()
    assert_recovered(name, expected)


def restart_redis(connection):
    """What a restart of our Redis, which keeps nothing on disk, does to the
    jobs' database: its clients are cut off and its keys are gone."""
    database = connection.connection_pool.connection_kwargs['db']
    for client in connection.client_list():
        if int(client['db']) == database:
            connection.client_kill_filter(_id=client['id'])
    connection.flushdb()


def test_redis_lost_mid_run(database):
    """Redis restarts while a worker is in a chunk and the other chunks are
    queued: the worker reconnects and finishes its chunk, the queued jobs
    are lost and their chunks wait; resuming the run bills them."""
    name, env = database
    expected = expected_accounts(name)
    run = create_run(name)
    start_run(name, run)
    first, = town.rows(name, """
        SELECT building FROM rkc_billing_run_chunk WHERE run = %s
        ORDER BY id LIMIT 1""", run)[0]
    chunks = len(chunk_states(name))
    blocking = blocked_chunk(name, run, first)
    jobs = redis.Redis.from_url(REDIS_URL)
    try:
        with town.workers(name, env, count=1) as (worker,):
            town.wait_for(lambda: len(waiting_backends(name)) == 1,
                what='the worker in the first chunk')
            restart_redis(jobs)
            blocking.rollback()
            settled(name)
            assert worker.poll() is None
            assert chunk_states(name).count('posted') == 1
            assert chunk_states(name).count('pending') == chunks - 1
            assert run_state(name) == 'posting'
            recover(name, run)
    finally:
        blocking.close()
    assert_recovered(name, expected)


def test_two_workers_on_the_same_chunk(database):
    name, env = database
    building, = town.rows(name, """
        SELECT p.building FROM rkc_account a
        JOIN rkc_premise p ON p.id = a.premise
        GROUP BY p.building ORDER BY count(*) DESC LIMIT 1""")[0]
    expected = {a for a, in town.rows(name, """
        SELECT a.id FROM rkc_account a JOIN rkc_premise p
        ON p.id = a.premise WHERE p.building = %s""", building)}
    expected &= expected_accounts(name)
    run = create_run(name, building)
    blocking = blocked_chunk(name, run, building)
    try:
        with town.workers(name, env):
            start_run(name, run)
            chunk, = [c for c, in town.rows(name,
                    'SELECT id FROM rkc_billing_run_chunk WHERE run = %s',
                    run)]
            # The same chunk queued a second time, as a retry racing the
            # first attempt would be.
            company = in_tryton(name, lambda pool: pool.get(
                    'company.company').search([])[0].id)
            queue.enqueue('rkc.jobs.process_chunk', name, 1,
                {'company': company}, 'post', chunk)
            town.wait_for(lambda: lock_waiters(name) == 2,
                what='both workers in the chunk')
            blocking.rollback()
            recover(name, run)
    finally:
        blocking.close()
    assert len(charged(name)) == len(expected)
    assert_recovered(name, expected)
