"""Bulk receipt printing: many receipts into PDF files of bounded size.

Receipts are sorted in delivery order (street, house, flat) so that the
printed stack can be handed to postmen as it comes off the printer. File
names depend only on the prefix and the file's position, and each file is
written to a temporary name and renamed, so a job that runs again (or is
killed halfway) overwrites its own files and never leaves a torn one.
"""
import os
import re
from pathlib import Path

from .receipt import ReceiptWriter, checked_payload


def delivery_order(receipt):
    return receipt.address.delivery_key + (receipt.account_number,)


def render_batch(receipts, directory, pages_per_file, prefix='receipts',
        compress=False):
    """Render ``receipts`` into ``directory`` as ``<prefix>-00001.pdf``, …
    of at most ``pages_per_file`` pages each; returns the paths in order.

    Every receipt is checked before any file is written, so one receipt
    with bad bank details stops the batch without a partial result. Files
    of this prefix left by an earlier, longer run are removed.
    """
    if pages_per_file < 1:
        raise ValueError(
            f'pages per file must be at least 1, got {pages_per_file}')
    directory = Path(directory)
    ordered = sorted(receipts, key=delivery_order)
    payloads = [checked_payload(receipt) for receipt in ordered]
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, len(ordered), pages_per_file):
        path = directory / f'{prefix}-{len(paths) + 1:05d}.pdf'
        partial = path.with_name(f'.{path.name}.partial')
        with ReceiptWriter(partial, compress) as writer:
            for receipt, payload in zip(
                    ordered[start:start + pages_per_file],
                    payloads[start:start + pages_per_file], strict=True):
                writer.add(receipt, payload)
        os.replace(partial, path)
        paths.append(path)
    own = re.compile(rf'{re.escape(prefix)}-\d{{5}}\.pdf')
    for stale in directory.iterdir():
        if own.fullmatch(stale.name) and stale not in paths:
            stale.unlink()
    return paths
