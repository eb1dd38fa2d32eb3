"""Benchmark of the monthly billing run on PostgreSQL with two RQ workers.

    .venv/bin/python bench/billing.py --accounts 10000 50000 100000

Each scale has its demo town (``rkc demo --bulk``, loaded with COPY, built
once and kept as ``bench_billing_<N>``); each invocation bills the month
before the earliest one billed (last month at first), with two ``rkc
worker`` processes, and prints accounts/s, lines/s and the workers' peak
memory.
"""
import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import redis
from rq import Worker

from rkc import tryton_job

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
import town  # noqa: E402

REDIS_URL = 'redis://127.0.0.1:6379/12'
WORKERS = 2


def database_exists(name):
    return bool(town.rows('postgres',
            'SELECT 1 FROM pg_database WHERE datname = %s', name))


def month_to_bill(name):
    "The month before the earliest one a run has billed."
    (first,), = town.rows(name, """
        SELECT min(p.start_date) FROM rkc_period p
        JOIN rkc_billing_run r ON r.period = p.id""")
    first = first or dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def post_run(name, month, var):
    """Create and post the run as ``rkc bill`` does, on the workers' Redis;
    returns its id. The run is followed by :func:`run_done` rather than by
    ``rkc bill``, whose full report at each poll would compete with the
    workers for the two cores."""
    from rkc import billing_command, setup
    # The configuration the workers wrote: the same server and Redis.
    os.environ['RKC_REDIS_URL'] = REDIS_URL
    tryton_job.configure(str(var / 'trytond.conf'))
    context = {'company': tryton_job.transaction(
            setup.company_id, database=name)}
    run = tryton_job.transaction(billing_command._create_run, month, None,
        None, database=name, context=context)
    tryton_job.transaction(billing_command._start, run, False,
        database=name, context=context)
    return run


def run_done(name, run):
    (state,), = town.rows(name,
        'SELECT state FROM rkc_billing_run WHERE id = %s', run)
    failures = town.rows(name, """
        SELECT failure FROM rkc_billing_run_chunk
        WHERE run = %s AND state = 'failed'""", run)
    if failures:
        raise SystemExit(f'run {run} failed:\n{failures[0][0]}')
    return state == 'done'


def peak_rss_kib(pid):
    "The high-water mark of a process's resident memory (VmHWM)."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0


def bench_town(accounts, var):
    "The demo town of ``accounts`` accounts, built unless kept; its name."
    name = f'bench_billing_{accounts}'
    if not database_exists(name):
        started = time.monotonic()
        built = town.rkc(name, 'demo', '--bulk', '--accounts',
            str(accounts), '--billed-months', '0', '--no-serve',
            env=town.environment(var))
        loaded, = [line for line in built.stdout.splitlines()
            if 'loaded in' in line]
        print(f'{accounts:>7} accounts: demo town built in '
            f'{time.monotonic() - started:.0f} s; {loaded}', flush=True)
    return name


def bench(accounts, var):
    name = bench_town(accounts, var)
    month = month_to_bill(name)
    env = town.environment(var, REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    with town.workers(name, env, WORKERS) as processes:
        town.wait_for(lambda: len(Worker.all(connection=jobs)) == WORKERS,
            what='the workers ready')
        started = time.monotonic()
        run = post_run(name, month, var)
        town.wait_for(lambda: run_done(name, run), timeout=3600, poll=0.5,
            what=f'run {run} done')
        elapsed = time.monotonic() - started
        memory = [peak_rss_kib(p.pid) for p in processes]
    jobs.flushdb()
    (billed, lines), = town.rows(name, """
        SELECT sum(c.accounts), sum(c.lines) FROM rkc_billing_run_chunk c
        WHERE c.run = %s""", run)
    print(f'{accounts:>7} accounts, {month:%Y-%m}: {billed} billed, '
        f'{lines} lines in {elapsed:.1f} s = {billed / elapsed:,.0f} '
        f'accounts/s, {lines / elapsed:,.0f} lines/s; worker peak RSS '
        f'{", ".join(f"{m / 1024:.0f} MiB" for m in memory)}', flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--accounts', type=int, nargs='+',
        default=[10000, 50000, 100000])
    parser.add_argument('--var', type=Path, default=None,
        help='where the generated trytond configuration goes')
    args = parser.parse_args(argv)
    var = args.var or Path(tempfile.mkdtemp(prefix='bench_billing_'))
    for accounts in args.accounts:
        bench(accounts, var)


if __name__ == '__main__':
    main()
