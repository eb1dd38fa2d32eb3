"""RQ's scheduler for an ``rkc worker``: it moves the jobs whose retry is
due back to the queue.

RQ would fork it from the worker, and a forked child keeps the worker's
open PostgreSQL connections: when the worker is killed, its database
sessions (and the row locks of the job it was running) live on in the
orphaned scheduler. So the worker starts it as a fresh process instead,
before it opens any connection, and the scheduler stops when its worker is
gone. Every worker starts one; RQ's lock lets one of them schedule.
"""
import contextlib
import os
import signal
import subprocess
import sys
import time

from rkc import queue


def _scheduler():
    from rq.scheduler import RQScheduler
    return RQScheduler([queue.QUEUE_NAME], connection=queue.queue().connection)


def enqueue_due():
    "Queue the due retries once (a burst worker)."
    scheduler = _scheduler()
    if scheduler.acquire_locks():
        try:
            scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()


def start():
    "The scheduler process of the calling worker."
    return subprocess.Popen(
        [sys.executable, '-m', __name__, str(os.getpid())],
        stdin=subprocess.DEVNULL)


def run(worker_pid):
    """Schedule while the worker ``worker_pid`` lives; take the lock over
    as soon as the scheduler holding it is gone."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    scheduler = _scheduler()
    try:
        while os.getppid() == worker_pid:
            try:
                # Taken or refreshed; a scheduler that stops lets it go.
                if scheduler.acquire_locks():
                    scheduler.enqueue_scheduled_jobs()
            except RedisConnectionError:
                # Redis restarting: the worker waits for it as well.
                pass
            time.sleep(scheduler.interval)
    finally:
        with contextlib.suppress(RedisConnectionError):
            scheduler.release_locks()


if __name__ == '__main__':
    run(int(sys.argv[1]))
