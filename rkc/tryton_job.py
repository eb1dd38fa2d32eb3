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
import os
import time

_started = set()

DEFAULT_DATABASE = 'rkc'


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

    from rkc import queue

    database = database_name(database)
    pool(database)
    context = {'rkc_job': job_name(func), **(context or {})}
    retry = config.getint('database', 'retry')
    count = 0
    extras = {}
    while True:
        if count:
            time.sleep(0.02 * count)
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
            tasks = list(trans.tasks)
        if tasks and queue.queue() is not None:
            queue.enqueue_all(f'{__name__}.run_queued_task',
                [(database, task) for task in tasks])
        else:
            for task in tasks:
                run_queued_task(database, task)
        return result


def run_queued_task(database, task_id):
    "The job running one task Tryton queued (e.g. caching a printout)."
    from trytond.worker import run_task
    run_task(pool(database), task_id)
