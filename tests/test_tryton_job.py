"""Tasks Tryton queues (``ir.queue``, e.g. caching an invoice's printout)
as rkc runs them outside trytond's server: each once, in a long-lived
process too, and a task trytond reschedules after failing is run again."""
import contextlib
import threading
import time

import pytest

from rkc import tryton_job

import town

pytestmark = pytest.mark.postgresql


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    with town.unbilled_town(tmp_path_factory, 'tasks', 20) as name:
        yield name


@pytest.fixture
def inline(monkeypatch, database):
    "Tasks run in this thread, as after each job of a worker."
    monkeypatch.delenv('RKC_REDIS_URL', raising=False)
    town.execute(database, ('DELETE FROM ir_queue', ()))
    return database


def queue_task(method, *, fail_first=False):
    """Queue ``res.user.<method>`` of the admin in the transaction; with
    ``fail_first`` the first attempt is rolled back after queueing."""
    attempts = []

    def run():
        from trytond import backend
        from trytond.pool import Pool
        User = Pool().get('res.user')
        task, = getattr(User.__queue__, method)([User(1)])
        attempts.append(task)
        if fail_first and len(attempts) == 1:
            raise backend.DatabaseOperationalError('a serialization failure')
    return run, attempts


def tasks(database):
    return town.rows(database, 'SELECT id, finished_at FROM ir_queue '
        'ORDER BY id')


def pending_in_thread():
    from trytond.transaction import Transaction
    return list(Transaction().tasks)


def test_task_runs_once_however_many_transactions_follow(inline):
    run, attempts = queue_task('get_preferences')
    tryton_job.transaction(run, database=inline)
    (task, finished), = tasks(inline)
    assert attempts == [task] and finished is not None
    assert pending_in_thread() == []
    # A worker's next jobs queue nothing: the task is not run again.
    for _ in range(2):
        tryton_job.transaction(lambda: None, database=inline)
    assert tasks(inline) == [(task, finished)]
    assert pending_in_thread() == []


def test_task_of_a_rolled_back_attempt_is_not_kept(inline):
    run, attempts = queue_task('get_preferences', fail_first=True)
    tryton_job.transaction(run, database=inline)
    rolled_back, committed = attempts
    (task, finished), = tasks(inline)
    assert task == committed != rolled_back and finished is not None
    assert pending_in_thread() == []


def test_caller_tasks_are_left_to_the_caller(inline):
    "A job run inside another transaction takes only its own tasks."
    from trytond.transaction import Transaction
    run, attempts = queue_task('get_preferences')
    outer = Transaction().tasks
    outer.append(-1)
    try:
        tryton_job.transaction(run, database=inline)
        assert pending_in_thread() == [-1]
    finally:
        outer.remove(-1)
    assert [t for t, _ in tasks(inline)] == attempts


@contextlib.contextmanager
def admin_locked(database):
    """The admin's row locked by another connection, as a desk user saving
    it for long would, until the yielded event is cleared."""
    held = threading.Event()
    held.set()
    locked = threading.Event()

    def hold():
        with town.connect(database) as connection:
            connection.execute(
                'SELECT id FROM res_user WHERE id = 1 FOR UPDATE')
            locked.set()
            while held.is_set():
                time.sleep(0.02)
    holder = threading.Thread(target=hold)
    holder.start()
    try:
        locked.wait(10)
        yield held
    finally:
        held.clear()
        holder.join()


def test_task_rescheduled_after_failing_runs_once_the_lock_is_gone(
        inline, monkeypatch):
    monkeypatch.setattr(tryton_job, 'RESCHEDULE_PAUSE', 0.2)
    with admin_locked(inline) as held:
        def release_once_rescheduled():
            town.wait_for(lambda: len(tasks(inline)) == 2, timeout=60,
                what='the task rescheduled')
            held.clear()
        releaser = threading.Thread(target=release_once_rescheduled)
        releaser.start()
        # The task's lock is refused (NOWAIT) until trytond gives up and
        # queues it again; that one runs after a pause, once it is free.
        run, _ = queue_task('lock')
        tryton_job.transaction(run, database=inline)
        releaser.join()
    (_, failed), (_, done) = tasks(inline)
    assert failed is None and done is not None
    assert pending_in_thread() == []


def test_task_failing_for_good_is_rescheduled_a_bounded_number_of_times(
        inline, monkeypatch):
    monkeypatch.setattr(tryton_job, 'RESCHEDULE_PAUSE', 0.01)
    with admin_locked(inline):
        run, _ = queue_task('lock')
        tryton_job.transaction(run, database=inline)
    # The first run and one per reschedule failed; the last task is left
    # in the queue, unfinished, for an administrator.
    assert [f for _, f in tasks(inline)] == [None] * (
        2 + tryton_job.MAX_RESCHEDULES)
    assert pending_in_thread() == []
