"""Pure billing speed: accounts per second through ``bill_account``.

Usage: python bench/engine_billing.py --accounts 2000 20000 100000

Each account has 5 services (cold water by meter, hot water on a
two-component tariff with a missing reading, wastewater, electricity on a
two-zone meter, heating by norm). Prints accounts/s and peak memory.
"""
import argparse
import datetime as dt
import resource
import time
from decimal import Decimal as D

from rkc.engine import billing as b
from rkc.engine.dated import DatedTable

PERIOD = dt.date(2026, 3, 1)
SINCE = dt.date(2020, 1, 1)


def _table(what, *rates, **kw):
    return DatedTable(
        [(SINCE, b.Tariff(tuple(D(r) for r in rates), **kw))], what)


def accounts(count):
    "Plain inputs as the billing run builds them, one building per 100."
    norm = DatedTable([(SINCE, D('4.85'))], 'water norm')
    heat_norm = DatedTable([(SINCE, D('0.0187'))], 'heating norm')
    cold_t = _table('cold water tariff', '52.34')
    hot_t = _table('hot water tariff', '52.34', heat_norm=D('0.05156'),
        heat_rate=D('2800.00'))
    sewer_t = _table('wastewater tariff', '40.00')
    power_t = _table('electricity tariff', '6.125', '3.115')
    heat_t = _table('heating tariff', '2850.40')
    history = tuple(D(v) for v in ('8.1', '7.9', '8.4', '8.0', '7.6', '8.2'))
    for i in range(count):
        building = b.Building(D('5430'), D('600'), b.HEATING_NORM)
        account = b.Account(i, SINCE, None, True, D('54.3') + i % 7, True,
            building, (b.Residents(1 + i % 4, SINCE),), 1)
        previous = D(100 + i % 50)
        services = (
            b.Service('cold_water', b.METERED, cold_t, SINCE, norms=norm,
                meter=b.Meter('working', SINCE, (
                    b.Zone(previous, previous + D('8.333'), history),))),
            b.Service('hot_water', b.METERED, hot_t, SINCE, norms=norm,
                meter=b.Meter('working', SINCE, (
                    b.Zone(previous, None, history),))),
            b.Service('wastewater', b.WASTEWATER, sewer_t, SINCE,
                raising=False, sources=('cold_water', 'hot_water')),
            b.Service('electricity', b.METERED, power_t, SINCE,
                meter=b.Meter('working', SINCE, (
                    b.Zone(D(1000 + i), D(1101 + i)),
                    b.Zone(D(500 + i), D(541 + i))))),
            b.Service('heating', b.HEATING, heat_t, SINCE,
                norms=heat_norm),
            )
        yield account, services


def run(count):
    inputs = list(accounts(count))
    start = time.perf_counter()
    lines = errors = 0
    for account, services in inputs:
        bill = b.bill_account(PERIOD, account, services)
        lines += len(bill.lines)
        errors += len(bill.errors)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'{count:>8} accounts  {count / elapsed:>9.0f} accounts/s  '
        f'{elapsed / count * 1e6:>7.1f} µs/account  {lines} lines  '
        f'{errors} errors  peak RSS {peak:.0f} MiB')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--accounts', type=int, nargs='+',
        default=[1000, 10000, 50000])
    for count in parser.parse_args().accounts:
        run(count)


if __name__ == '__main__':
    main()
