"""Recalculation preview time on PostgreSQL demo towns.

For each scale (accounts): a bulk-loaded demo town billed for one month
whose largest building gets 36 months of charge history (the billed
month's lines copied back by SQL). Measured:

- one account, 36 months: an interruption preview of the three services
  Appendix 1 limits (the §2 formulas over a ledger of 36 months × 5
  services) and a tariff-change preview of its 5 services (the billing
  engine re-run for the billed month);
- the largest building: the interruption preview of all its accounts.

Usage: .venv/bin/python bench/recalculation.py [--months 36] N [N …]
Towns are kept (recalc_bench_N) and reused by later invocations.
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

from rkc import tryton_job  # noqa: E402


def ensure_town(name, accounts, env):
    "Build the town once; later, bring its schema up to date."
    if town.rows('postgres',
            'SELECT 1 FROM pg_database WHERE datname = %s', name):
        town.rkc(name, 'db', 'update', env=env)
    else:
        town.rkc(name, 'demo', '--bulk', '--accounts', str(accounts),
            '--billed-months', '1', '--no-serve', env=env)


def add_history(name, months):
    """The largest building's charges copied to the ``months`` - 1 months
    before the billed one; returns (building, accounts, billed month)."""
    building, count = town.rows(name, """
        SELECT p.building, count(*) FROM rkc_account a
        JOIN rkc_premise p ON p.id = a.premise
        GROUP BY p.building ORDER BY count(*) DESC, p.building
        LIMIT 1""")[0]
    billed, = town.rows(name, """
        SELECT max(period) FROM rkc_ledger_line WHERE kind = 'charge'""")[0]
    town.execute(name, ("""
        INSERT INTO rkc_ledger_line (account, centre, service, period, date,
            kind, amount, volume, tariff, excess, method, basis, origin,
            part, create_uid, create_date)
        SELECT l.account, l.centre, l.service,
            (l.period - make_interval(months => n))::date,
            (l.date - make_interval(months => n))::date, l.kind, l.amount,
            l.volume, l.tariff, l.excess, l.method, l.basis, l.origin,
            l.part, 0, now()
        FROM rkc_ledger_line l
        JOIN rkc_account a ON a.id = l.account
        JOIN rkc_premise p ON p.id = a.premise,
            generate_series(1, %s) n
        WHERE p.building = %s AND l.period = %s AND l.kind = 'charge'
        ON CONFLICT DO NOTHING""", (months - 1, building, billed)))
    return building, count, billed


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def measure(name, building, months, billed):
    "Preview times in seconds, in transactions rolled back."
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    from rkc import setup

    company = tryton_job.transaction(setup.company_id, database=name)
    first = add_months(billed, -(months - 1))
    account, = town.rows(name, """
        SELECT a.id FROM rkc_account a JOIN rkc_premise p
            ON p.id = a.premise
        WHERE p.building = %s ORDER BY a.id LIMIT 1""", building)[0]
    services = [s for s, in town.rows(name, 'SELECT id FROM rkc_service')]
    # Appendix 1 limits interruptions of these only.
    interrupted = [s for s, in town.rows(name, """
        SELECT id FROM rkc_service
        WHERE code IN ('cold_water', 'hot_water', 'heating')""")]
    events = [('create', [{'date': add_months(first, m),
                    'hours': Decimal(10), 'room_temperature': Decimal(15)}
                for m in range(months)])]

    def timed(values, target):
        Recalculation = Pool().get('rkc.recalculation')
        interruption = values['reason'] == 'interruption'
        record, = Recalculation.create([dict(values,
                    services=[('add', interrupted if interruption
                            else services)],
                    events=events if interruption else [])])
        start = time.perf_counter()
        record.compute(target)
        elapsed = time.perf_counter() - start
        lines = len(Recalculation(record.id).lines)
        Transaction().rollback()
        return elapsed, lines

    def run():
        account_values = {'account': account, 'scope': 'account'}
        return {
            'account interruption': timed(dict(account_values,
                    reason='interruption', period_from=first,
                    period_to=billed), building),
            'account tariff change': timed(dict(account_values,
                    reason='tariff_change', period_from=billed,
                    period_to=billed), building),
            'building interruption': timed({'scope': 'building',
                    'building': building, 'reason': 'interruption',
                    'period_from': first, 'period_to': billed}, building),
            }
    return tryton_job.transaction(run, database=name, user=1,
        context={'company': company})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('accounts', type=int, nargs='+')
    parser.add_argument('--months', type=int, default=36)
    args = parser.parse_args()
    var = Path(tempfile.gettempdir()) / 'recalc_bench'
    var.mkdir(exist_ok=True)
    env = town.environment(var)
    configured = False
    for accounts in args.accounts:
        name = f'recalc_bench_{accounts}'
        ensure_town(name, accounts, env)
        if not configured:
            tryton_job.configure(str(var / 'trytond.conf'))
            configured = True
        building, count, billed = add_history(name, args.months)
        # Each month in its partition, as opening its period would have
        # put it.
        town.rkc(name, 'partition-subledger', env=env)
        results = measure(name, building, args.months, billed)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f'{accounts} accounts, building of {count} accounts, '
            f'{args.months} months of history; peak memory {peak:.0f} MiB')
        for what, (seconds, lines) in results.items():
            print(f'  {what:<24} {seconds * 1000:9.1f} ms  {lines:6} lines'
                f'  {lines / seconds:9.0f} lines/s')


if __name__ == '__main__':
    main()
