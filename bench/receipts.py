"""Receipt printing speed: receipts per second and peak memory.

    .venv/bin/python bench/receipts.py --accounts 1000 10000 --pages 500

Renders N sample receipts through the bulk path (sorting, QR payloads and
symbols, PDF files of --pages pages) into a temporary directory. Prints
wall-clock and CPU rates: the machine is shared, and CPU time shows what
one core can do.
"""
import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))

from receipt_samples import receipt  # noqa: E402

from rkc.documents.batch import render_batch  # noqa: E402


def run(accounts, pages, compress):
    receipts = [receipt(i) for i in range(accounts)]
    with tempfile.TemporaryDirectory() as directory:
        wall, cpu = time.perf_counter(), time.process_time()
        paths = render_batch(
            receipts, directory, pages, compress=compress)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        size = sum(p.stat().st_size for p in paths)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'{accounts:>8} receipts  {len(paths):>4} files  '
        f'{accounts / wall:8.0f}/s wall  {accounts / cpu:8.0f}/s CPU  '
        f'{size / accounts / 1024:6.1f} KiB/page  peak RSS {peak:6.0f} MiB',
        flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--accounts', type=int, nargs='+',
        default=[1000, 10000], help='scales to run (receipts)')
    parser.add_argument('--pages', type=int, default=500,
        help='pages per PDF file')
    parser.add_argument('--compress', action='store_true',
        help='compress page streams (smaller files, slower)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        # Fonts and QR layouts load once per process, outside the timing.
        render_batch([receipt(0)], directory, 1)
    for accounts in args.accounts:
        run(accounts, args.pages, args.compress)


if __name__ == '__main__':
    main()
