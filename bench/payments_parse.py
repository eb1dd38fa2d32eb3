"""Parse speed and memory of a payment registry in the sberbank layout.

    .venv/bin/python bench/payments_parse.py --lines 10000 100000

For each scale: writes a registry to a temporary file (not timed), checks
it with one streaming pass, prints lines/s (wall clock and CPU time), then
repeats the pass under tracemalloc for the peak Python memory. The import
target including the database is 5,000 lines/s, so parsing alone should
reach 50,000.
"""
import argparse
import datetime as dt
import random
import resource
import tempfile
import time
import tracemalloc
from decimal import Decimal

from rkc.payments.export import write_registry
from rkc.payments.registry import Payment, Reading, check_registry
from rkc.payments.registry_format import load_format


def payments(count, seed=1):
    "Plausible payments: distinct operations, a third with readings."
    rng = random.Random(seed)
    start = dt.datetime(2025, 6, 20, 8, 0, 0)
    for n in range(count):
        readings = ()
        if n % 3 == 0:
            readings = (
                Reading(f'ХВ-{n}', Decimal(rng.randrange(10**6)).scaleb(-3)),
                Reading(f'ГВ-{n}', Decimal(rng.randrange(10**6)).scaleb(-3)))
        amount = Decimal(rng.randrange(100, 2_000_000)).scaleb(-2)
        yield Payment(
            line=0, accepted_at=start + dt.timedelta(seconds=n % 40000),
            branch=f'{8600 + n % 50}', terminal=f'{8600 + n % 50}/0{n % 97}',
            operation_id=str(100000 + n), account=f'{1000000000 + n}',
            payer='Иванов Иван Иванович',
            address=f'г. Тверь, ул. Ленина, д. {n % 200}, кв. {n % 150}',
            period=dt.date(2025, 5, 1), amount=amount,
            commission=(amount / 100).quantize(Decimal('0.01')),
            readings=readings)


def measure(fmt, count):
    with tempfile.TemporaryFile() as stream:
        write_registry(stream, fmt, payments(count))
        size = stream.tell()
        stream.seek(0)
        started = time.perf_counter(), time.process_time()
        summary = check_registry(stream, fmt)
        wall = time.perf_counter() - started[0]
        cpu = time.process_time() - started[1]
        assert summary.accepted and summary.records == count, summary.errors
        stream.seek(0)
        tracemalloc.start()
        check_registry(stream, fmt)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return size, wall, cpu, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--lines', type=int, nargs='+', default=[10000, 100000],
        help='registry sizes to measure (default: 10000 100000)')
    parser.add_argument('--format', default='sberbank')
    args = parser.parse_args(argv)
    fmt = load_format(args.format)
    # CPU time too: on a shared machine the wall clock includes waiting.
    print(f'{"lines":>9} {"MB":>7} {"lines/s":>9} {"CPU l/s":>9} '
        f'{"CPU µs/l":>8} {"peak KiB":>9} {"B/line":>7} {"maxrss MiB":>10}')
    for count in args.lines:
        size, wall, cpu, peak = measure(fmt, count)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f'{count:>9} {size / 2**20:>7.1f} {count / wall:>9.0f} '
            f'{count / cpu:>9.0f} {cpu / count * 1e6:>8.1f} '
            f'{peak / 1024:>9.0f} {peak / count:>7.1f} {maxrss:>10.1f}')


if __name__ == '__main__':
    main()
