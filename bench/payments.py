"""Benchmark of the registry import on PostgreSQL, database included.

    .venv/bin/python bench/payments.py --lines 10000 100000 --accounts 20000
    .venv/bin/python bench/payments.py --lines 10000 --history-months 35

The billing bench's town of ``--accounts`` accounts with last month billed
(kept as ``bench_payments_<accounts>``; with ``--history-months M``, M
earlier months of the same charges, each paid in full, are added to a copy
kept as ``bench_payments_<accounts>_h<M>``: an account's history, folded
into its open items by the nightly job before the last month was billed)
gets, per scale, a fresh copy and
one Sberbank-style registry of N payment lines, one per account in turn as
a day's registry has them (a second payment of an account is an advance);
``rkc import-registry`` imports it (one streaming pass, payments,
allocation into the subledger, GL summary). Prints lines/s and the import
process's peak memory.
"""
import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
import town  # noqa: E402

import billing  # noqa: E402

from rkc.payments.export import write_registry  # noqa: E402
from rkc.payments.registry import Payment  # noqa: E402
from rkc.payments.registry_format import load_format  # noqa: E402

# Each charge of the billed month repeated in each of the earlier months,
# with a payment line settling it: the subledger of accounts M months old.
HISTORY = """INSERT INTO rkc_ledger_line (account, centre, service, period,
        date, kind, amount, origin, part, method, create_uid, create_date)
    SELECT l.account, l.centre, l.service, earlier.period,
        (earlier.period + interval '1 month' - interval '1 day')::date,
        k.kind, CASE k.kind WHEN 'charge' THEN l.amount ELSE -l.amount END,
        CASE k.kind WHEN 'charge' THEN 'rkc.billing.run,' || -m
            ELSE 'rkc.payment,' || -(m * 10000000 + l.id) END,
        l.part, CASE k.kind WHEN 'charge' THEN l.method ELSE 'principal' END,
        1, now()
    FROM rkc_ledger_line l, generate_series(1, %s) m,
        LATERAL (SELECT (l.period - make_interval(months => m))::date
            AS period) earlier,
        (VALUES ('charge'), ('payment')) k(kind)
    WHERE l.kind = 'charge'"""
# The changes a billing run records: each account's lines of the month.
BILLED_CHANGES = """INSERT INTO rkc_ledger_open_items_change
        (account, period, create_uid, create_date)
    SELECT account, max(period), 1, now() FROM rkc_ledger_line
    WHERE kind = 'charge' GROUP BY account"""
AGENT = """INSERT INTO rkc_payment_agent (name, code, account, active)
    SELECT 'Bench bank', 'BENCH', id, true FROM account_account
    WHERE code = '57'"""


def database_exists(name):
    return bool(town.rows('postgres',
            'SELECT 1 FROM pg_database WHERE datname = %s', name))


def registry(path, lines, numbers):
    "A registry of ``lines`` payments over the accounts, in rotation."
    start = dt.datetime(2026, 6, 1, 9, 0, 0)
    with open(path, 'wb') as stream:
        write_registry(stream, load_format('sberbank'), (
                Payment(
                    line=0, accepted_at=start + dt.timedelta(seconds=i),
                    branch='8609', terminal='8609/0100',
                    operation_id=str(i), account=numbers[i % len(numbers)],
                    payer='Иванов И.И.', address='ул. Ленина, 1',
                    period=None, amount=Decimal(100 + i % 900),
                    commission=Decimal('1.00'))
                for i in range(lines)))


def billed_town(accounts, var, env):
    """The bench town with last month billed, built unless kept (then its
    schema is brought up to date); its name."""
    name = f'bench_payments_{accounts}'
    if database_exists(name):
        town.rkc(name, 'db', 'update', env=env)
    else:
        town.copy(billing.bench_town(accounts, var), name)
        town.rkc(name, 'bill', '--period',
            f'{billing.last_month():%Y-%m}', env=env)
        town.execute(name, (AGENT, ()))
    return name


def with_history(template, months, env):
    """A copy of the template with ``months`` of settled history (kept, its
    schema brought up to date like the template's); its name."""
    name = f'{template}_h{months}'
    if database_exists(name):
        town.rkc(name, 'db', 'update', env=env)
        return name
    building = f'{name}_building'
    town.drop(building)
    town.copy(template, building)
    town.execute(building, (HISTORY, (months,)))
    # Each month in its partition, as opening its period would have put it.
    town.rkc(building, 'partition-subledger', env=env)
    with town.connect(building, autocommit=True) as connection:
        connection.execute('VACUUM ANALYZE rkc_ledger_line')
    # As the nightly fold left it before the last month was billed: the
    # open items folded, then the billing's change of the month recorded.
    town.rkc(building, 'fold-open-items', env=env)
    town.execute(building, (BILLED_CHANGES, ()))
    # Kept under its name only once complete.
    town.rename(building, name)
    return name


def bench(template, lines, var, env):
    name = f'{template}_{lines}'
    town.drop(name)
    town.copy(template, name)
    # The copy writes the whole database into the WAL: flushed now, its
    # checkpoint does not run during the import, and every run starts
    # from the same state, the first write of each page after a checkpoint
    # (10,000 lines on the history took 1.9-2.2 s without, 1.8-1.9 s
    # with; on the one-month town 1.4-1.5 s without, 1.6-1.7 s with).
    with town.connect(name, autocommit=True) as connection:
        connection.execute('CHECKPOINT')
    try:
        numbers = [n for n, in town.rows(
                name, 'SELECT number FROM rkc_account ORDER BY number')]
        path = Path(var) / f'registry_{lines}.txt'
        registry(path, lines, numbers)
        started = time.monotonic()
        done = town.rkc(name, 'import-registry', str(path), '--agent',
            'BENCH', '--format', 'sberbank', env=env)
        elapsed = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        credited, paid = town.rows(name,
            'SELECT count(*), sum(amount) FROM rkc_payment')[0]
        assert credited == lines, done.stdout + done.stderr
        # Every payment is in the subledger, to the kopeck.
        allocated, = town.rows(name, 'SELECT -sum(amount) FROM '
            "rkc_ledger_line WHERE origin IN (SELECT 'rkc.payment,' || id "
            'FROM rkc_payment)')[0]
        assert allocated == paid, (allocated, paid)
        summary = done.stdout.splitlines()[0]
        importing = float(summary.split('; ')[-1].split()[0])
        print(f'{lines:>8} lines: {importing:7.1f} s importing, '
            f'{lines / importing:8.0f} lines/s; {elapsed:7.1f} s, '
            f'{lines / elapsed:8.0f} lines/s with the process start; '
            f'peak memory of the importing processes {peak / 1024:.0f} MiB',
            flush=True)
    finally:
        town.drop(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lines', type=int, nargs='+',
        default=[10000, 100000])
    parser.add_argument('--accounts', type=int, default=20000,
        help='accounts of the town paid to')
    parser.add_argument('--history-months', type=int, default=0,
        help='earlier months charged and paid in full before the last one')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        env = town.environment(var)
        template = billed_town(args.accounts, Path(var), env)
        if args.history_months:
            template = with_history(template, args.history_months, env)
        history, = town.rows(
            template, 'SELECT count(*) FROM rkc_ledger_line')[0]
        print(f'{template}: {history} subledger lines before the import, '
            f'{history / args.accounts:.0f} per account', flush=True)
        for lines in args.lines:
            bench(template, lines, var, env)


if __name__ == '__main__':
    main()
