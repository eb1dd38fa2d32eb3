"""The registry import's allocation process: batches in order, the lines
of the batch before counted in, what it raises raised in the import, its
end noticed."""
import datetime as dt
import os
import signal
import time
from decimal import Decimal

import pytest

from rkc.engine.payment_lines import (
    AdvanceWithoutService, Allocated, LedgerSums)
from rkc.engine.regulations import default_regulations
from rkc.payments.allocator import AllocationProcess

D = Decimal
APRIL = dt.date(2026, 4, 1)
PAID_ON = dt.date(2026, 6, 20)
COLUMNS = ['account', 'service', 'period', 'method', 'amount', 'origin',
    'move', 'create_uid']
OWING = LedgerSums([(7, APRIL, 1, D('100.00'), None, D('100.00'))], {})


def fields(result):
    "The fields of the COPY text of an allocation's result."
    text, _ = result
    return [line.split('\t') for line in text.splitlines()]


@pytest.fixture
def process():
    with AllocationProcess(default_regulations(), COLUMNS, 5) as process:
        yield process


def test_the_lines_of_the_batch_before_are_counted_in(process):
    process.submit([Allocated(1, 7, 3, PAID_ON, D('100.00'))], OWING,
        {3: 40})
    result = process.result()
    assert fields(result) == [
        ['7', '1', '2026-04-01', 'principal', '-100.00', 'rkc.payment,1',
            '40', '5']]
    # The change the lines make to the account's open items.
    assert result[1] == {7: APRIL}
    # The sums of the next batch were read before the first one's lines
    # were written: they still show the debt.
    process.submit([Allocated(2, 7, 3, PAID_ON, D('10.00'))], OWING,
        {3: 40})
    assert fields(process.result()) == [
        ['7', '1', '2026-06-01', 'advance', '-10.00', 'rkc.payment,2',
            '40', '5']]


def test_batches_bigger_than_the_pipe_pass_both_ways(process):
    accounts = range(100, 20100)
    sums = LedgerSums([(a, APRIL, s, D('10.00'), None, D('10.00'))
            for a in accounts for s in (1, 2)], {})
    for batch in range(3):
        process.submit([Allocated(batch * 100000 + a, a, 3, PAID_ON,
                    D('5.00')) for a in accounts], sums, {3: 40})
        text, earliest = process.result()
        assert earliest == dict.fromkeys(accounts, APRIL)
        assert len(text) > 1 << 20
        assert text.count('\n') == 2 * len(accounts)
        assert {tuple(line[3:5]) for line in fields((text, earliest))} == {
            ('principal', '-2.50')}


def test_one_batch_at_a_time(process):
    with pytest.raises(RuntimeError, match='no batch is submitted'):
        process.result()
    process.submit([Allocated(6, 7, 3, PAID_ON, D('1.00'))], OWING, None)
    with pytest.raises(RuntimeError, match='batch before is not taken'):
        process.submit([], OWING, None)
    assert process.result()


def test_what_the_allocation_raises_is_raised_in_the_import(process):
    charged = D('150.00')
    process.submit([Allocated(3, 7, 3, PAID_ON, D('100.00'))], LedgerSums(
            [(7, APRIL, 1, charged, None, charged)], {}), None)
    process.result()
    process.submit([Allocated(4, 8, 3, PAID_ON, D('10.00'))],
        LedgerSums([], {}), None)
    with pytest.raises(AdvanceWithoutService):
        process.result()
    # The batch that failed wrote nothing and the one before is written
    # by now: neither is counted in again.
    process.submit([Allocated(5, 7, 3, PAID_ON, D('60.00'))], LedgerSums(
            [(7, APRIL, 1, D('50.00'), None, charged)], {}), None)
    assert sorted(line[3:5] for line in fields(process.result())) == [
        ['advance', '-10.00'], ['principal', '-50.00']]


def test_an_ended_process_is_noticed(process):
    process.submit([Allocated(7, 7, 3, PAID_ON, D('1.00'))], OWING, None)
    process.result()
    os.kill(process._process.pid, signal.SIGKILL)
    process._process.join()
    with pytest.raises(RuntimeError, match=r'process ended \(exit code -9'):
        process.submit([Allocated(8, 7, 3, PAID_ON, D('1.00'))], OWING,
            None)


def test_a_process_ending_mid_batch_is_noticed(process):
    accounts = range(100, 20100)
    process.submit([Allocated(a, a, 3, PAID_ON, D('1.00'))
            for a in accounts], LedgerSums([], {a: [1] for a in accounts}),
        None)
    os.kill(process._process.pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match='allocation process ended'):
        process.result()


def test_leaving_stops_the_process():
    with AllocationProcess(default_regulations(), COLUMNS, 5) as process:
        process.submit([Allocated(5, 7, 3, PAID_ON, D('1.00'))], OWING, None)
        process.result()
    assert not process._process.is_alive()
    assert process._process.exitcode == 0


def test_leaving_with_a_batch_in_it_does_not_wait_for_its_answer():
    accounts = range(100, 20100)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match='the import failed'):
        with AllocationProcess(default_regulations(), COLUMNS, 5) as process:
            process.submit([Allocated(a, a, 3, PAID_ON, D('1.00'))
                    for a in accounts],
                LedgerSums([], {a: [1] for a in accounts}), None)
            raise RuntimeError('the import failed')
    # Its answer (over a megabyte) would never fit in the pipe: the
    # process was killed at once, not asked to stop and waited for (ten
    # seconds) before it was.
    assert process._process.exitcode == -signal.SIGKILL
    assert time.monotonic() - started < 8
