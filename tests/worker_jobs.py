"""Jobs the worker tests queue: the ``rkc worker`` imports them as
``tests.worker_jobs`` (it runs from the repository's root)."""
from redis import Redis


def fail_once(redis_url, key):
    "Fail the first attempt, succeed the next: RQ's retry must run it again."
    if Redis.from_url(redis_url).incr(key) == 1:
        raise RuntimeError('the first attempt fails')
