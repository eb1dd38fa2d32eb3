"""Generation speed and memory of the demo town.

    .venv/bin/python bench/demo_town.py --accounts 2000 100000 500000

For each scale: one pass over the town's buildings, discarding each, with
accounts/s and meters/s (wall clock and CPU time) and the process's peak
RSS after the pass (it should not grow with the scale). With
``--tracemalloc`` the pass runs again under tracemalloc for the peak
Python memory; that is about 15 times slower.
"""
import argparse
import datetime as dt
import resource
import time
import tracemalloc

from rkc.demo.town import Town


def one_pass(town):
    accounts = meters = readings = 0
    for building in town.buildings():
        for premise in building.premises:
            accounts += 1
            meters += len(premise.meters)
            readings += sum(len(m.readings) for m in premise.meters)
    return accounts, meters, readings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--accounts', type=int, nargs='+', default=[2000, 100000],
        help='town sizes to measure (default: 2000 100000)')
    parser.add_argument('--tracemalloc', action='store_true',
        help='also measure the tracemalloc peak (slow)')
    args = parser.parse_args(argv)
    today = dt.date(2026, 11, 26)
    print(f'{"accounts":>9} {"meters":>9} {"readings":>10} {"acc/s":>7} '
        f'{"CPU acc/s":>9} {"meters/s":>9} {"maxrss MiB":>10} '
        f'{"peak MiB":>8}')
    for count in args.accounts:
        town = Town(count, today=today)
        started = time.perf_counter(), time.process_time()
        accounts, meters, readings = one_pass(town)
        wall = time.perf_counter() - started[0]
        cpu = time.process_time() - started[1]
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak = '-'
        if args.tracemalloc:
            tracemalloc.start()
            one_pass(town)
            peak = f'{tracemalloc.get_traced_memory()[1] / 2**20:.1f}'
            tracemalloc.stop()
        print(f'{accounts:>9} {meters:>9} {readings:>10} '
            f'{accounts / wall:>7.0f} {accounts / cpu:>9.0f} '
            f'{meters / wall:>9.0f} {maxrss:>10.1f} {peak:>8}')


if __name__ == '__main__':
    main()
