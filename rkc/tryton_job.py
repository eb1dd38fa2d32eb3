"""Running Tryton code outside trytond's own server (RQ jobs, the ``rkc``
command, benchmarks).

A process initialises the pool once and keeps it; every unit of work runs in
:func:`transaction`, which repeats trytond's own retry loop: restart on
``TransactionError`` (after letting it fix the transaction), retry on
serialization failures up to ``[database] retry``, and run the tasks
Tryton queued (``ir.queue``) after commit: as jobs of their own when there
is Redis, so that the job which queued them is done without waiting for
them.
"""
import gc
import os
import time

_started = set()
# Objects allocated, less those freed, between two collections of the
# youngest generation (Python's default is 700): a bulk job allocates
# millions of short-lived rows and would otherwise collect every few
# hundred of them.
COLLECTION_THRESHOLD = 20_000

DEFAULT_DATABASE = 'rkc'
# How often a task that trytond rescheduled after failing is run again, and
# the first pause (in seconds) before that.
MAX_RESCHEDULES = 4
RESCHEDULE_PAUSE = 0.5


def database_name(name=None):
    return name or os.environ.get('RKC_DATABASE') or DEFAULT_DATABASE


def configure(config_file=None):
    "Load trytond's configuration once per process."
    from trytond import config
    config_file = config_file or os.environ.get('TRYTOND_CONFIG')
    config.update_etc(config_file)


def pool(database=None):
    "The initialised pool of a database, started once per process."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    database = database_name(database)
    if database not in _started:
        Pool.start()
        known = Pool.database_list()
        db_pool = Pool(database)
        if database not in known:
            with Transaction().start(database, 0, readonly=True):
                db_pool.init()
        _started.add(database)
        # The pool's models, fields and caches live as long as the
        # process: frozen, the collector no longer walks them in each full
        # collection. A registry import of 100,000 lines spent 4.5 s of its
        # 38 s of Python in the collector, 1.4 s with these two settings.
        gc.freeze()
        gc.set_threshold(COLLECTION_THRESHOLD)
    return Pool(database)


def job_name(func):
    """The RQ job being run, else the function called: the audit log
    records it with each change a job makes."""
    from rq import get_current_job
    job = get_current_job()
    if job is not None:
        return job.func_name
    return f'{func.__module__}.{func.__qualname__}'


def transaction(func, *args, database=None, user=0, context=None,
        readonly=False, **kwargs):
    """Call ``func(*args, **kwargs)`` inside a committed transaction with
    trytond's retry loop; return its result."""
    from trytond import backend
    from trytond.config import config
    from trytond.transaction import Transaction, TransactionError

    database = database_name(database)
    pool(database)
    context = {'rkc_job': job_name(func), **(context or {})}
    retry = config.getint('database', 'retry')
    count = 0
    extras = {}
    # Tryton lists the tasks a transaction queues in a list of the thread,
    # not of the transaction, and leaves emptying it to whoever runs them
    # (trytond's dispatcher). Without taking them out, a long-lived worker
    # ran every earlier job's tasks again after each job, and tasks of
    # attempts rolled back; a caller's own tasks, below the mark, stay.
    pending = Transaction().tasks
    mark = len(pending)
    while True:
        if count:
            time.sleep(0.02 * count)
        del pending[mark:]
        with Transaction().start(database, user, context=context,
                readonly=readonly, **extras) as trans:
            try:
                result = func(*args, **kwargs)
            except TransactionError as exc:
                trans.rollback()
                exc.fix(extras)
                continue
            except backend.DatabaseOperationalError:
                if count < retry:
                    trans.rollback()
                    count += 1
                    continue
                raise
            tasks = _taken(pending, mark)
        _run_tasks(database, tasks)
        return result


def _taken(pending, mark):
    "The tasks queued in the thread's list past ``mark``, taken out of it."
    tasks = pending[mark:]
    del pending[mark:]
    return tasks


def _run_tasks(database, tasks, reschedules=0):
    from rkc import queue
    if tasks and queue.queue() is not None:
        queue.enqueue_all(f'{__name__}.run_queued_task',
            [(database, task, reschedules) for task in tasks])
    else:
        for task in tasks:
            run_queued_task(database, task, reschedules)


def run_queued_task(database, task_id, reschedules=0):
    """The job running one task Tryton queued (e.g. caching a printout).

    A task that keeps failing (a lock held elsewhere, say) trytond queues
    again as a new task for its own worker to take later; that worker is
    not run here, so the new task is queued as a job, after a pause that
    doubles each time, up to MAX_RESCHEDULES times."""
    from trytond.transaction import Transaction
    from trytond.worker import run_task
    pending = Transaction().tasks
    mark = len(pending)
    run_task(pool(database), task_id)
    rescheduled = _taken(pending, mark)
    if rescheduled and reschedules < MAX_RESCHEDULES:
        time.sleep(RESCHEDULE_PAUSE * 2 ** reschedules)
        _run_tasks(database, rescheduled, reschedules + 1)
