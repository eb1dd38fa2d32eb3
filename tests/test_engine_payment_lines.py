"""Payment lines from the subledger's sums (rules.md §3): oldest debt
first, pro rata across services, penalties after principal, what is left an
advance spread by the latest charges; the sums as SQL returns them."""
import datetime as dt
from decimal import Decimal

import pytest

from rkc.engine.payment_lines import (
    AdvanceWithoutService,
    Allocated,
    LedgerSums,
    build_ledgers,
    period_debts,
    subledger_rows,
    unwritten_sums,
)
from rkc.engine.money import read_money
from rkc.engine.regulations import default_regulations

D = Decimal
REGULATIONS = default_regulations()
APRIL, MAY, JUNE = (dt.date(2026, m, 1) for m in (4, 5, 6))
HEAT, WATER = 1, 2


def lines(rows):
    return sorted((row['origin'], f"{row['period']:%Y-%m}", row['service'],
            row['method'], row['amount']) for row in rows)


def test_a_payment_goes_oldest_first_pro_rata_then_to_penalties():
    sums = LedgerSums([
            (7, APRIL, HEAT, D('60.00'), D('4.00'), D('60.00')),
            (7, APRIL, WATER, D('40.00'), None, D('40.00')),
            (7, MAY, HEAT, D('100.00'), None, D('100.00')),
            ], {})
    rows = subledger_rows(
        [Allocated(11, 7, 3, dt.date(2026, 6, 20), D('202.00'))], sums,
        REGULATIONS, moves={3: 99})
    assert lines(rows) == [
        ('rkc.payment,11', '2026-04', HEAT, 'penalty', D('-2.00')),
        ('rkc.payment,11', '2026-04', HEAT, 'principal', D('-60.00')),
        ('rkc.payment,11', '2026-04', WATER, 'principal', D('-40.00')),
        ('rkc.payment,11', '2026-05', HEAT, 'principal', D('-100.00')),
        ]
    assert {(row['centre'], row['move'], row['date']) for row in rows} == {
        (3, 99, dt.date(2026, 6, 20))}


def test_what_is_overpaid_is_an_advance_spread_by_the_latest_charges():
    sums = LedgerSums([
            (7, APRIL, HEAT, D('0.00'), None, D('90.00')),
            (7, MAY, HEAT, D('-5.00'), None, D('30.00')),
            (7, MAY, WATER, D('0.00'), None, D('10.00')),
            ], {})
    rows = subledger_rows(
        [Allocated(12, 7, 3, dt.date(2026, 6, 20), D('100.01'))], sums,
        REGULATIONS)
    assert lines(rows) == [
        ('rkc.payment,12', '2026-06', HEAT, 'advance', D('-75.01')),
        ('rkc.payment,12', '2026-06', WATER, 'advance', D('-25.00')),
        ]
    assert {row['move'] for row in rows} == {None}


def test_an_account_never_charged_spreads_over_its_services():
    rows = subledger_rows(
        [Allocated(13, 8, 3, dt.date(2026, 6, 20), D('10.00'), MAY)],
        LedgerSums([], {8: [HEAT, WATER]}), REGULATIONS)
    assert lines(rows) == [
        ('rkc.payment,13', '2026-05', HEAT, 'advance', D('-5.00')),
        ('rkc.payment,13', '2026-05', WATER, 'advance', D('-5.00')),
        ]


def test_an_advance_with_nothing_to_spread_it_over_is_refused():
    with pytest.raises(AdvanceWithoutService) as refused:
        subledger_rows(
            [Allocated(14, 9, 3, dt.date(2026, 6, 20), D('10.00'))],
            LedgerSums([], {}), REGULATIONS)
    assert refused.value.amount == D('10.00')


def test_sums_add_up_by_key_whatever_sql_returned():
    ledgers = build_ledgers([
            (7, '2026-04-01', HEAT, 100.1, None, 100.1),  # SQLite
            (7, APRIL, HEAT, D('-50.004'), D('3.00'), None),
            (7, '2026-06-01', WATER, '-1.005', None, None),  # as text
            ])
    assert ledgers[7].principal == {
        (APRIL, HEAT): D('50.10'), (JUNE, WATER): D('-1.01')}
    assert ledgers[7].charged == {APRIL: {HEAT: D('100.10')}}
    debt, = period_debts(ledgers[7], REGULATIONS)
    assert (debt.period, debt.principal, debt.penalty) == (
        APRIL, {HEAT: D('50.10')}, D('3.00'))
    assert debt.due_date == REGULATIONS.due_date(APRIL)


def test_unwritten_rows_are_summed_and_must_be_credits():
    payment = {'account': 7, 'period': APRIL, 'service': HEAT,
        'amount': D('-10.00'), 'kind': 'payment', 'method': 'penalty'}
    assert list(unwritten_sums([payment], {7})) == [
        (7, APRIL, HEAT, None, D('-10.00'), None)]
    assert list(unwritten_sums([payment], {8})) == []
    charge = {**payment, 'amount': D('10.00'), 'kind': 'charge',
        'method': None}
    with pytest.raises(ValueError, match='must be a credit'):
        list(unwritten_sums([charge], {7}))


@pytest.mark.parametrize('value, kopecks', [
        (D('10.005'), D('10.01')), (10.005, D('10.01')),
        ('-1.005', D('-1.01')), (7, D('7.00')), (None, D('0.00')),
        (0.0, D('0.00'))])
def test_a_sum_as_any_database_returns_it_in_kopecks(value, kopecks):
    result = read_money(value)
    assert result == kopecks
    assert result.as_tuple().exponent == -2
