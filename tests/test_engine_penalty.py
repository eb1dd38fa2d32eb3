"Housing penalties (rules.md §3) through the engine."
import dataclasses
import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkc.engine.dated import DatedTable
from rkc.engine.errors import CalculationError
from rkc.engine.penalty import Payment, penalties, period_penalty
from rkc.engine.regulations import default_regulations

D = Decimal
JAN_2025 = dt.date(2025, 1, 1)
REGULATIONS = default_regulations()
UNCAPPED = dataclasses.replace(REGULATIONS, rate_caps=())
# A key rate that never changes, for properties that only hold then.
FLAT = dataclasses.replace(UNCAPPED,
    key_rates=DatedTable([(dt.date(2000, 1, 1), D('12.00'))], 'key rate'))


def _bands(result):
    return [(band.start, band.end, band.days, band.denominator, band.rate,
            band.base, band.amount, band.moratorium)
        for band in result.bands]


def test_worked_example():
    result = period_penalty(JAN_2025, D('10000.00'),
        [(dt.date(2025, 6, 20), D('10000.00'))], dt.date(2025, 6, 30))
    assert result.due_date == dt.date(2025, 2, 10)
    assert result.penalty == D('482.31')
    assert _bands(result) == [
        (dt.date(2025, 3, 13), dt.date(2025, 5, 11), 60, 300, D('9.50'),
            D('10000.00'), D('190.00'), False),
        (dt.date(2025, 5, 12), dt.date(2025, 6, 20), 40, 130, D('9.50'),
            D('10000.00'), D('292.31'), False),
        ]


def test_worked_example_uncapped():
    # The key rate on the payment day (20.06.2025) was 20 %.
    result = period_penalty(JAN_2025, D('10000.00'),
        [(dt.date(2025, 6, 20), D('10000.00'))], dt.date(2025, 6, 30),
        UNCAPPED)
    assert result.penalty == D('1015.38')
    assert [band.rate for band in result.bands] == [D('20.00')] * 2


def test_partial_payment_of_the_contract_example():
    [result], allocation = penalties({JAN_2025: {'': D('5000.00')}},
        [Payment(dt.date(2025, 5, 5), D('4000.00'), JAN_2025)],
        dt.date(2025, 6, 30))
    first = result.bands[0]
    assert (first.days, first.base, first.amount) == (
        54, D('5000.00'), D('85.50'))
    assert _bands(result)[1:] == [
        (dt.date(2025, 5, 6), dt.date(2025, 5, 11), 6, 300, D('9.50'),
            D('1000.00'), D('1.90'), False),
        (dt.date(2025, 5, 12), dt.date(2025, 6, 30), 50, 130, D('9.50'),
            D('1000.00'), D('36.54'), False),
        ]
    # 85.50 + 1.90 + 1000 × 9.5 % / 130 × 50 = 36.538…
    assert result.penalty == D('123.94')
    assert allocation.advance == 0


def test_the_payment_day_still_accrues():
    def paid_on(day):
        return period_penalty(JAN_2025, D('10000.00'),
            [(day, D('10000.00'))], dt.date(2025, 6, 30)).penalty
    # Day 31 is 13.03.2025: paying on it costs one day at 1/300.
    assert paid_on(dt.date(2025, 3, 12)) == 0
    assert paid_on(dt.date(2025, 3, 13)) == D('3.17')


def test_each_part_at_the_key_rate_of_its_payment_day():
    # Uncapped: 4,000 paid 01.08.2024 (key rate 18 %), the rest unpaid on
    # 01.12.2024 (21 %); both parts run side by side until 01.08.2024.
    period = dt.date(2024, 1, 1)
    result = period_penalty(period, D('10000.00'),
        [(dt.date(2024, 8, 1), D('4000.00'))], dt.date(2024, 12, 1),
        UNCAPPED)
    assert _bands(result) == [
        (dt.date(2024, 3, 12), dt.date(2024, 5, 10), 60, 300, D('21.00'),
            D('6000.00'), D('252.00'), False),
        (dt.date(2024, 3, 12), dt.date(2024, 5, 10), 60, 300, D('18.00'),
            D('4000.00'), D('144.00'), False),
        (dt.date(2024, 5, 11), dt.date(2024, 12, 1), 205, 130, D('21.00'),
            D('6000.00'), D('1986.93'), False),
        (dt.date(2024, 5, 11), dt.date(2024, 8, 1), 83, 130, D('18.00'),
            D('4000.00'), D('459.69'), False),
        ]
    # 252 + 144 + 1986.923… + 459.692… = 2842.615…: the display amounts
    # take the missing kopeck where the remainder is largest.
    exact = (Fraction(6000 * 21 * 60, 100 * 300)
        + Fraction(4000 * 18 * 60, 100 * 300)
        + Fraction(6000 * 21 * 205, 100 * 130)
        + Fraction(4000 * 18 * 83, 100 * 130))
    assert exact == Fraction(36954, 13)
    assert result.penalty == D('2842.62')


def test_the_cap_applies_to_accrual_days_in_its_window():
    # Due 10.01.2022; paid 01.03.2022 at a key rate of 20 %: days up to
    # 27.02.2022 at 20 %, from 28.02.2022 at most 9.5 %.
    result = period_penalty(dt.date(2021, 12, 1), D('3000.00'),
        [(dt.date(2022, 3, 1), D('3000.00'))], dt.date(2022, 3, 1))
    assert _bands(result) == [
        (dt.date(2022, 2, 10), dt.date(2022, 2, 27), 18, 300, D('20.00'),
            D('3000.00'), D('36.00'), False),
        (dt.date(2022, 2, 28), dt.date(2022, 3, 1), 2, 300, D('9.50'),
            D('3000.00'), D('1.90'), False),
        ]
    assert result.penalty == D('37.90')


def test_moratorium_2022_only_for_debts_due_before_it():
    as_of = dt.date(2022, 12, 31)
    (early, late), _ = penalties(
        {dt.date(2022, 1, 1): {'': D('1000.00')},
            dt.date(2022, 3, 1): {'': D('1000.00')}},
        [], as_of)
    assert [(b.start, b.end, b.moratorium, b.amount)
            for b in early.bands] == [
        (dt.date(2022, 3, 13), dt.date(2022, 3, 31), False, D('4.75')),
        (dt.date(2022, 4, 1), dt.date(2022, 5, 11), True, D('0.00')),
        (dt.date(2022, 5, 12), dt.date(2022, 10, 1), True, D('0.00')),
        (dt.date(2022, 10, 2), dt.date(2022, 12, 31), False, D('52.50')),
        ]
    # 1000 × 7.5 % (key rate on 31.12.2022) × (19/300 + 91/130)
    assert early.penalty == D('57.25')
    assert late.due_date == dt.date(2022, 4, 10)
    assert not any(band.moratorium for band in late.bands)
    # 1000 × 7.5 % × (60/300 + 175/130) = 115.961…
    assert late.penalty == D('115.96')


def test_moratorium_2020_for_all_debts():
    result = period_penalty(dt.date(2020, 5, 1), D('1000.00'), [],
        dt.date(2021, 1, 31))
    # Due 10.06.2020: the count runs through the moratorium, so on
    # 01.01.2021 the debt is already in its 1/130 days.
    assert [(b.start, b.end, b.denominator, b.moratorium)
            for b in result.bands] == [
        (dt.date(2020, 7, 11), dt.date(2020, 9, 8), 300, True),
        (dt.date(2020, 9, 9), dt.date(2020, 12, 31), 130, True),
        (dt.date(2021, 1, 1), dt.date(2021, 1, 31), 130, False),
        ]
    # 1000 × 4.25 % (key rate on 31.01.2021) / 130 × 31 days
    assert result.penalty == D('10.13')


def test_due_date_rule_changes_with_the_march_2026_bill():
    assert REGULATIONS.due_date(dt.date(2026, 2, 1)) == dt.date(2026, 3, 10)
    assert REGULATIONS.due_date(dt.date(2026, 3, 1)) == dt.date(2026, 4, 15)
    assert REGULATIONS.due_date(dt.date(2025, 12, 1)) == dt.date(2026, 1, 10)


def test_nothing_within_the_grace_days():
    result = period_penalty(JAN_2025, D('10000.00'), [],
        dt.date(2025, 3, 12))
    assert (result.penalty, result.bands) == (0, ())


def test_calculation_before_the_key_rate_table_is_refused():
    with pytest.raises(CalculationError,
            match='no key rate is known for 2018-06-30'):
        period_penalty(dt.date(2018, 1, 1), D('100.00'), [],
            dt.date(2018, 6, 30))


def test_bad_inputs():
    with pytest.raises(CalculationError,
            match='calculation date 2024-12-31 is before debt period 2025-01'):
        penalties({JAN_2025: {'': D('1.00')}}, [], dt.date(2024, 12, 31))
    with pytest.raises(CalculationError,
            match='payment of 2025-07-01 is after the calculation date'):
        penalties({JAN_2025: {'': D('1.00')}},
            [Payment(dt.date(2025, 7, 1), D('1.00'))], dt.date(2025, 6, 30))
    with pytest.raises(CalculationError,
            match='repayments of 2025-01 exceed its debt'):
        period_penalty(JAN_2025, D('1.00'),
            [(dt.date(2025, 3, 1), D('2.00'))], dt.date(2025, 6, 30))


amounts = st.integers(min_value=1, max_value=10_000_000).map(
    lambda kopecks: D(kopecks).scaleb(-2))
days = st.integers(min_value=0, max_value=900).map(
    lambda n: dt.date(2023, 1, 1) + dt.timedelta(days=n))


@settings(max_examples=200, deadline=None)
@given(amounts, st.lists(st.tuples(days, amounts), max_size=4), days)
def test_penalty_is_never_negative_and_bands_reconcile(principal, paid,
        as_of):
    repayments, left = [], principal
    for day, amount in paid:
        amount = min(amount, left)
        if amount and day <= as_of:
            repayments.append((day, amount))
            left -= amount
    result = period_penalty(dt.date(2022, 12, 1), principal, repayments,
        as_of)
    assert result.penalty >= 0
    assert sum(band.amount for band in result.bands) == result.penalty
    for band in result.bands:
        assert abs(band.amount - D(band.exact.numerator)
            / band.exact.denominator) < D('0.01')


@settings(max_examples=200, deadline=None)
@given(amounts, days, st.integers(min_value=1, max_value=400))
def test_an_earlier_payment_never_increases_the_penalty(principal, day,
        earlier_by):
    # Holds with a constant rate; see the next test for why only then.
    def paid_on(day):
        return period_penalty(dt.date(2022, 12, 1), principal,
            [(day, principal)], dt.date(2026, 1, 1), FLAT).penalty
    earlier = day - dt.timedelta(days=earlier_by)
    assert paid_on(earlier) <= paid_on(day)


def test_an_earlier_payment_at_a_higher_key_rate_can_cost_more():
    # Outside the cap the whole part takes the key rate of its payment
    # day: 6.50 % on 15.12.2019, 6.25 % from 16.12.2019.
    def paid_on(day):
        return period_penalty(dt.date(2019, 1, 1), D('10000.00'),
            [(day, D('10000.00'))], dt.date(2019, 12, 31)).penalty
    assert paid_on(dt.date(2019, 12, 15)) > paid_on(dt.date(2019, 12, 16))


@settings(max_examples=200, deadline=None)
@given(amounts, st.lists(st.tuples(days, amounts), max_size=3), days,
    st.integers(min_value=1, max_value=400))
def test_a_later_calculation_date_never_decreases_the_penalty(principal,
        paid, as_of, later_by):
    repayments, left = [], principal
    for day, amount in paid:
        amount = min(amount, left)
        if amount and day <= as_of:
            repayments.append((day, amount))
            left -= amount
    # Also with the real key rates, as long as they stay above the cap.
    for regulations in (FLAT, REGULATIONS):
        def on(as_of, regulations=regulations):
            return period_penalty(dt.date(2023, 8, 1), principal,
                repayments, as_of, regulations).penalty
        later = min(as_of + dt.timedelta(days=later_by),
            dt.date(2026, 7, 1))
        assert on(as_of) <= on(max(later, as_of))
