"Payment allocation (rules.md §3) and splitting to the kopeck."
import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.engine.allocation import (
    Payment,
    PeriodDebt,
    allocate,
    apportion,
    pro_rata,
)
from rkc.engine.errors import CalculationError
from rkc.engine.regulations import default_regulations

D = Decimal
REGULATIONS = default_regulations()


def _debt(year, month, penalty='0.00', **services):
    period = dt.date(year, month, 1)
    return PeriodDebt(period, REGULATIONS.due_date(period),
        {name: D(amount) for name, amount in services.items()}, D(penalty))


def _parts(allocation):
    return [(f'{part.period:%Y-%m}', part.service, part.amount)
        for part in allocation.parts]


def test_unnamed_payment_goes_to_the_oldest_debt_first():
    debts = [_debt(2025, 2, heat='300.00'), _debt(2025, 1, heat='100.00')]
    allocation = allocate(debts,
        [Payment(dt.date(2025, 4, 1), D('250.00'))], REGULATIONS)
    assert _parts(allocation) == [
        ('2025-01', 'heat', D('100.00')), ('2025-02', 'heat', D('150.00'))]
    assert allocation.advance == 0


def test_named_period_first_then_the_oldest():
    debts = [_debt(2025, 1, heat='100.00'), _debt(2025, 2, heat='300.00')]
    allocation = allocate(debts,
        [Payment(dt.date(2025, 4, 1), D('350.00'), dt.date(2025, 2, 1))],
        REGULATIONS)
    assert _parts(allocation) == [
        ('2025-02', 'heat', D('300.00')), ('2025-01', 'heat', D('50.00'))]


def test_principal_of_every_period_before_any_penalty():
    debts = [_debt(2025, 1, penalty='40.00', heat='100.00'),
        _debt(2025, 2, penalty='5.00', heat='100.00')]
    allocation = allocate(debts,
        [Payment(dt.date(2025, 6, 1), D('230.00'))], REGULATIONS)
    assert _parts(allocation) == [
        ('2025-01', 'heat', D('100.00')), ('2025-02', 'heat', D('100.00')),
        ('2025-01', None, D('30.00'))]
    assert allocation.parts[-1].is_penalty


def test_pro_rata_across_services_sums_to_the_payment():
    debts = [_debt(2025, 1, heat='200.00', water='100.00', power='100.00')]
    allocation = allocate(debts,
        [Payment(dt.date(2025, 3, 1), D('100.00'))], REGULATIONS)
    assert _parts(allocation) == [
        ('2025-01', 'heat', D('50.00')), ('2025-01', 'water', D('25.00')),
        ('2025-01', 'power', D('25.00'))]
    allocation = allocate(
        [_debt(2025, 1, heat='1.00', water='1.00', power='1.00')],
        [Payment(dt.date(2025, 3, 1), D('1.00'))], REGULATIONS)
    assert [part.amount for part in allocation.parts] == [
        D('0.34'), D('0.33'), D('0.33')]


def test_overpayment_stays_an_advance():
    allocation = allocate([_debt(2025, 1, heat='100.00')],
        [Payment(dt.date(2025, 3, 1), D('60.00')),
            Payment(dt.date(2025, 3, 2), D('70.00'))], REGULATIONS)
    assert _parts(allocation) == [
        ('2025-01', 'heat', D('60.00')), ('2025-01', 'heat', D('40.00'))]
    assert allocation.advance == D('30.00')
    assert allocation.repayments(dt.date(2025, 1, 1)) == [
        (dt.date(2025, 3, 1), D('60.00')), (dt.date(2025, 3, 2), D('40.00'))]


def test_time_barred_debt_only_when_named():
    # January 2021 is due 10.02.2021: barred after 10.02.2024.
    debts = [_debt(2021, 1, heat='100.00'), _debt(2024, 1, heat='100.00')]
    unnamed = allocate(debts,
        [Payment(dt.date(2024, 2, 11), D('100.00'))], REGULATIONS)
    assert _parts(unnamed) == [('2024-01', 'heat', D('100.00'))]
    on_last_day = allocate(debts,
        [Payment(dt.date(2024, 2, 10), D('100.00'))], REGULATIONS)
    assert _parts(on_last_day) == [('2021-01', 'heat', D('100.00'))]
    named = allocate(debts,
        [Payment(dt.date(2024, 2, 11), D('100.00'), dt.date(2021, 1, 1))],
        REGULATIONS)
    assert _parts(named) == [('2021-01', 'heat', D('100.00'))]


def test_bad_inputs():
    debts = [_debt(2025, 1, heat='100.00')]
    with pytest.raises(CalculationError,
            match='names period 2025-02, which has no debt'):
        allocate(debts, [Payment(dt.date(2025, 3, 1), D('1.00'),
            dt.date(2025, 2, 1))], REGULATIONS)
    with pytest.raises(CalculationError,
            match='payment of 2025-03-01 must be positive, got -1.00'):
        allocate(debts, [Payment(dt.date(2025, 3, 1), D('-1.00'))],
            REGULATIONS)
    with pytest.raises(CalculationError,
            match='period 2025-01 is listed twice'):
        allocate(debts * 2, [], REGULATIONS)
    with pytest.raises(CalculationError,
            match='debt for 2025-01 is negative'):
        allocate([_debt(2025, 1, heat='-1.00')], [], REGULATIONS)
    with pytest.raises(CalculationError,
            match='cannot split 1.00 in proportion to nothing'):
        pro_rata(D('1.00'), [D(0), D(0)])


def test_apportion_gives_the_missing_kopecks_to_the_largest_remainders():
    assert apportion(D('482.31'), [Fraction(190), Fraction(3800, 13)]) == [
        D('190.00'), D('292.31')]
    assert apportion(D('0.02'), [D('0.006'), D('0.007'), D('0.007')]) == [
        D('0.00'), D('0.01'), D('0.01')]
    with pytest.raises(CalculationError, match='cannot split 5.00'):
        apportion(D('5.00'), [D('1.00')])


@given(st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1,
        max_size=12))
def test_pro_rata_parts_sum_exactly_and_stay_close(total, weights):
    total = D(total).scaleb(-2)
    if not any(weights):
        weights[0] = 1
    parts = pro_rata(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total) * weight / whole
        assert abs(Fraction(part) - exact) < Fraction(1, 100)
        assert part >= 0


@given(st.integers(min_value=0, max_value=10**9),
    st.lists(st.decimals(min_value=0, max_value=10**6, places=3),
        min_size=1, max_size=12))
def test_pro_rata_of_decimals_splits_as_of_exact_fractions(total, weights):
    "Decimal weights take an integer path; it must split like Fractions."
    total = D(total).scaleb(-2)
    if not any(weights):
        weights[0] = D(1)
    assert pro_rata(total, weights) == pro_rata(
        total, [Fraction(weight) for weight in weights])
