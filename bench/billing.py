"""Benchmark of the monthly billing run on PostgreSQL with two RQ workers.

    .venv/bin/python bench/billing.py --accounts 10000 50000 100000

Each scale has its demo town (``rkc demo --bulk``, loaded with COPY, built
once and kept unbilled as ``bench_billing_<N>``); each invocation bills last
month on a fresh copy of it with two ``rkc worker`` processes, and prints
accounts/s over the run's chunks once queued, the time its organisation
invoices and its GL posting took after them, accounts/s over the whole run,
the whole command's time (which also starts Tryton in its process), and
the workers' peak memory.
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


def last_month():
    return (dt.date.today().replace(day=1) - dt.timedelta(days=1)).replace(
        day=1)


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


def run_done(name, run, states=('done',)):
    (state,), = town.rows(name,
        'SELECT state FROM rkc_billing_run WHERE id = %s', run)
    failures = town.rows(name, """
        SELECT failure FROM rkc_billing_run_chunk
        WHERE run = %s AND state = 'failed'""", run)
    if failures:
        raise SystemExit(f'run {run} failed:\n{failures[0][0]}')
    return state in states


def chunks_done(name, run):
    (left,), = town.rows(name, """
        SELECT count(*) FROM rkc_billing_run_chunk
        WHERE run = %s AND state != 'posted'""", run)
    return not left


def peak_rss_kib(pid):
    "The high-water mark of a process's resident memory (VmHWM)."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0


def bench_town(accounts, var):
    """The demo town of ``accounts`` accounts, built unless kept (then its
    schema is brought up to date); its name."""
    name = f'bench_billing_{accounts}'
    if database_exists(name):
        town.rkc(name, 'db', 'update', env=town.environment(var))
    else:
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
    template = bench_town(accounts, var)
    name = f'{template}_run'
    town.drop(name)
    town.copy(template, name)
    month = last_month()
    env = town.environment(var, REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    try:
        with town.workers(name, env, WORKERS) as processes:
            town.wait_for(
                lambda: len(Worker.all(connection=jobs)) == WORKERS,
                what='the workers ready')
            started = time.monotonic()
            run = post_run(name, month, var)
            queued = time.monotonic()
            town.wait_for(lambda: chunks_done(name, run), timeout=3600,
                poll=0.2, what=f'the chunks of run {run} done')
            chunked = time.monotonic()
            town.wait_for(lambda: run_done(name, run), timeout=3600,
                poll=0.2, what=f'run {run} done')
            done = time.monotonic()
            memory = [peak_rss_kib(p.pid) for p in processes]
        (billed, lines), = town.rows(name, """
            SELECT sum(accounts), sum(lines) FROM rkc_billing_run_chunk
            WHERE run = %s""", run)
        (invoices,), = town.rows(name, """
            SELECT count(*) FROM rkc_account_invoice WHERE run = %s""", run)
    finally:
        jobs.flushdb()
        town.drop(name)
    chunk_seconds = chunked - queued
    print(f'{accounts:>7} accounts, {month:%Y-%m}: {billed} billed, '
        f'{lines} lines: the chunks {chunk_seconds:.1f} s once queued = '
        f'{billed / chunk_seconds:,.0f} accounts/s, '
        f'{lines / chunk_seconds:,.0f} lines/s; then {invoices} '
        f'organisation invoices and the GL posting in '
        f'{done - chunked:.1f} s; the run {done - queued:.1f} s = '
        f'{billed / (done - queued):,.0f} accounts/s; the whole command '
        f'{done - started:.1f} s; worker peak RSS '
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
