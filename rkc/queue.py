"""Background jobs: RQ on Redis when ``RKC_REDIS_URL`` is set, inline
otherwise (the embedded demo).

Jobs are referenced by dotted path and take plain arguments, so that any
worker on any machine can run them. Exactly-once is not Redis's job: every
job is idempotent against the database's unique keys, so running one twice
changes nothing.
"""
import importlib
import os

QUEUE_NAME = 'rkc'


def redis_url():
    return os.environ.get('RKC_REDIS_URL') or None


def _resolve(path):
    module, name = path.rsplit('.', 1)
    return getattr(importlib.import_module(module), name)


def queue(url=None):
    "The RQ queue, or None when jobs run inline."
    url = url or redis_url()
    if not url:
        return None
    from redis import Redis
    from rq import Queue
    return Queue(QUEUE_NAME, connection=Redis.from_url(url))


def enqueue(path, *args, job_id=None, timeout=3600, **kwargs):
    """Queue the job ``path(*args, **kwargs)``; run it now when there is no
    Redis. Returns the RQ job, or the inline result."""
    rq_queue = queue()
    if rq_queue is None:
        return _resolve(path)(*args, **kwargs)
    from rq import Retry
    return rq_queue.enqueue(
        path, *args, job_id=job_id, job_timeout=timeout,
        retry=Retry(max=3, interval=[1, 5, 30]), **kwargs)


def enqueue_all(path, calls):
    """Queue ``path(*args)`` for each args tuple of ``calls``. Called from a
    transaction's commit hook: inline jobs then run in a thread of their
    own, outside the transaction that is ending."""
    calls = list(calls)
    if queue() is not None:
        for args in calls:
            enqueue(path, *args)
        return None
    import threading

    def run():
        function = _resolve(path)
        for args in calls:
            function(*args)
    thread = threading.Thread(target=run, name=f'inline {path}')
    thread.start()
    return thread
