"""Benchmark of the front desk and the reports on PostgreSQL.

    .venv/bin/python bench/desk.py --accounts 10000 100000

Each scale has its billed demo town (``rkc demo --bulk``, built once and
kept as ``bench_desk_<N>``).  Prints the account card's load time (a read of
every card field through the ORM, as the desk does on opening it; p50 and
p95 over --cards accounts; target p95 < 200 ms) and the time of the turnover
balance sheet of the largest centre for its latest closed period: by
centre, the desk's first page by account, and the whole sheet by account
exported to CSV (target < 10 s for a 50,000-account centre), with the
peak memory of the process.
"""
import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
import town  # noqa: E402

from rkc import settings, setup, tryton_job  # noqa: E402

# Rows of a list page in sao.
PAGE = 1000
CARD_FIELDS = [
    'number', 'payer.rec_name', 'premise.rec_name', 'centre.rec_name',
    'state', 'balance', 'residents', 'phone', 'open_matters',
    'services', 'last_readings', 'recent_turnovers', 'payments', 'owners',
    'meters']
CARD_LISTS = {
    'rkc.account.service': ['service.rec_name', 'valid_from', 'balance'],
    'rkc.meter.reading': ['meter.rec_name', 'read_at', 'value', 'state'],
    'rkc.turnover': ['period', 'service.rec_name', 'opening', 'charged',
        'paid', 'closing'],
    'rkc.ledger.line': ['date', 'service.rec_name', 'amount', 'origin'],
    }


def database_exists(name):
    return bool(town.rows('postgres',
            'SELECT 1 FROM pg_database WHERE datname = %s', name))


def build(accounts, var):
    name = f'bench_desk_{accounts}'
    if not database_exists(name):
        started = time.monotonic()
        town.rkc(name, 'demo', '--bulk', '--accounts', str(accounts),
            '--no-serve', env=town.environment(var))
        print(f'{accounts:>7} accounts: demo town built in '
            f'{time.monotonic() - started:.0f} s', flush=True)
    return name


def load_card(pool, account_id):
    "Read the card as the desk does: the record, then each of its lists."
    Account = pool.get('rkc.account')
    card, = Account.read([account_id], CARD_FIELDS)
    for field, model in [('services', 'rkc.account.service'),
            ('last_readings', 'rkc.meter.reading'),
            ('recent_turnovers', 'rkc.turnover'),
            ('payments', 'rkc.ledger.line')]:
        pool.get(model).read(card[field], CARD_LISTS[model])


def card_times(name, cards):
    def measure():
        from trytond.pool import Pool
        pool = Pool()
        # Ids by SQL: browsing 100,000 records costs Tryton a quadratic
        # check (each id looked up in the list of all).
        ids = [i for i, in town.rows(name, 'SELECT id FROM rkc_account')]
        times = []
        for account_id in random.Random(1).sample(ids, min(cards, len(ids))):
            started = time.perf_counter()
            load_card(pool, account_id)
            times.append(time.perf_counter() - started)
        return times
    return in_tryton(name, measure)


def turnover_sheet(name):
    def measure():
        from trytond.pool import Pool
        pool = Pool()
        Turnover = pool.get('rkc.turnover')
        Sheet = pool.get('rkc.report.turnover_sheet')
        rows = Turnover.search([], order=[('period', 'DESC')], limit=1)
        if not rows:
            return None
        period = rows[0].period
        centres = {}
        started = time.perf_counter()
        by_centre = Sheet.search_read([('period', '=', period)],
            fields_names=['id', 'centre', 'service', 'accounts', 'opening',
                'charged', 'paid', 'closing'])
        centre_seconds = time.perf_counter() - started
        for row in by_centre:
            centres[row['centre']] = max(
                centres.get(row['centre'], 0), row['accounts'])
        centre, accounts = max(centres.items(), key=lambda c: c[1])
        domain = [('period', '=', period), ('centre', '=', centre)]
        amounts = ['opening', 'charged', 'recalculated', 'subsidy', 'paid',
            'penalty', 'other', 'closing']
        # The desk's first page, with the names it shows.
        started = time.perf_counter()
        Turnover.search_read(domain, limit=PAGE,
            fields_names=['account.rec_name', 'service.rec_name'] + amounts)
        page_seconds = time.perf_counter() - started
        # The whole sheet by account, as the desk exports it to a file.
        Export = pool.get('rkc.report.turnover_sheet.accounts',
            type='report')
        started = time.perf_counter()
        _, content, _, _ = Export.execute([r['id'] for r in by_centre
                if r['centre'] == centre], {})
        account_seconds = time.perf_counter() - started
        by_account = bytes(content).splitlines()[1:]
        return (accounts, len(by_account), centre_seconds, page_seconds,
            account_seconds)
    return in_tryton(name, measure)


def in_tryton(name, function):
    company = tryton_job.transaction(setup.company_id, database=name)
    return tryton_job.transaction(function, database=name, user=1,
        context={'company': company, 'language': 'ru'}, readonly=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--accounts', type=int, nargs='+', default=[10000])
    parser.add_argument('--cards', type=int, default=200,
        help='accounts whose card is loaded per scale')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='bench_desk_') as var:
        os.environ.update(town.environment(var))
        tryton_job.configure(settings.config_file())
        for accounts in args.accounts:
            name = build(accounts, var)
            times = sorted(card_times(name, args.cards))
            p95 = times[int(len(times) * 0.95) - 1]
            print(f'{accounts:>7} accounts: card p50 '
                f'{statistics.median(times) * 1000:.0f} ms, p95 '
                f'{p95 * 1000:.0f} ms ({len(times)} cards, '
                f'{len(times) / sum(times):.0f} cards/s)', flush=True)
            sheet = turnover_sheet(name)
            if sheet:
                centre_accounts, rows, by_centre, page, by_account = sheet
                print(f'{accounts:>7} accounts: turnover sheet of a '
                    f'{centre_accounts}-account centre: by centre '
                    f'{by_centre:.2f} s; by account: first page of {PAGE} '
                    f'{page:.2f} s, all {rows} rows exported to CSV '
                    f'{by_account:.2f} s '
                    f'({rows / by_account:.0f} rows/s)', flush=True)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f'{accounts:>7} accounts: peak memory {peak / 1024:.0f} MiB',
                flush=True)


if __name__ == '__main__':
    main()
