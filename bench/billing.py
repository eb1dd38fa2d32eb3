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
import sys
import tempfile
import time
from pathlib import Path

import redis
from rq import Worker

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


def peak_rss_kib(pid):
    "The high-water mark of a process's resident memory (VmHWM)."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0


def bench(accounts, var):
    name = f'bench_billing_{accounts}'
    env = town.environment(var)
    if not database_exists(name):
        started = time.monotonic()
        town.rkc(name, 'demo', '--bulk', '--accounts', str(accounts),
            '--billed-months', '0', '--no-serve', env=env)
        print(f'{accounts:>7} accounts: demo town built in '
            f'{time.monotonic() - started:.0f} s', flush=True)
    month = month_to_bill(name)
    env = town.environment(var, REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    with town.workers(name, env, WORKERS) as processes:
        town.wait_for(lambda: len(Worker.all(connection=jobs)) == WORKERS,
            what='the workers ready')
        started = time.monotonic()
        result = town.rkc(name, 'bill', '--period', f'{month:%Y-%m}',
            env=env, check=False)
        elapsed = time.monotonic() - started
        memory = [peak_rss_kib(p.pid) for p in processes]
    jobs.flushdb()
    if result.returncode:
        raise SystemExit(result.stdout + result.stderr)
    (billed, lines), = town.rows(name, """
        SELECT sum(c.accounts), sum(c.lines) FROM rkc_billing_run_chunk c
        WHERE c.run = (SELECT max(id) FROM rkc_billing_run)""")
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
