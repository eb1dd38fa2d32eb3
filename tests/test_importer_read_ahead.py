"""The registry import's read-ahead: batches in order, bounded, the
reader's error raised where the writer is, and no reader left behind when
the writer stops early."""
import threading

import pytest

from rkc.payments.importer import _read_ahead


def test_batches_come_in_order_with_a_short_last_one():
    assert list(_read_ahead(iter(range(7)), 3)) == [
        [0, 1, 2], [3, 4, 5], [6]]
    assert list(_read_ahead(iter(()), 3)) == []


def test_an_error_while_reading_is_raised_after_the_batches_before_it():
    def records():
        yield from range(4)
        raise ValueError('line 5: the file changed')

    batches = _read_ahead(records(), 2)
    assert next(batches) == [0, 1]
    assert next(batches) == [2, 3]
    with pytest.raises(ValueError, match='line 5: the file changed'):
        next(batches)


def test_the_reader_stays_bounded_and_ends_when_the_writer_stops():
    read = []

    def records():
        for number in range(10_000):
            read.append(number)
            yield number

    batches = _read_ahead(records(), 10, ahead=2)
    assert next(batches) == list(range(10))
    batches.close()
    # One batch handed over, at most two queued and one being made.
    assert len(read) <= 40
    assert not any(t.name == 'registry-reader' and t.is_alive()
        for t in threading.enumerate())


@pytest.mark.parametrize(('records', 'sizes'), [
        (0, []), (2, [2]), (3, [3]), (5, [3, 2]), (6, [3, 3]),
        (7, [3, 1, 3]), (16, [3, 10, 3]), (17, [3, 10, 1, 3]),
        (20, [3, 10, 4, 3]), (26, [3, 10, 10, 3])])
def test_the_first_and_the_last_batch_are_short(records, sizes):
    batches = list(_read_ahead(iter(range(records)), 10, short=3))
    assert [len(batch) for batch in batches] == sizes
    assert [r for batch in batches for r in batch] == list(range(records))
