"Debt restructuring schedules and the p.72 check (rules.md §5)."
import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.engine.dated import DatedTable
from rkc.engine.errors import CalculationError
from rkc.engine.restructuring import (
    bill_rise_offer,
    default_bill_rise_rule,
    due_dates,
    schedule,
)

D = Decimal
JAN_15 = dt.date(2026, 1, 15)


def test_worked_example():
    plan = schedule(D('48000.00'), 12, JAN_15, D('0.20'))
    assert plan.down_payment == D('9600.00')
    assert [i.amount for i in plan.instalments] == [D('3200.00')] * 12
    assert [i.due for i in plan.instalments] == [
        dt.date(2026, month, 15) for month in range(1, 13)]
    assert plan.total_interest == 0


def test_the_last_instalment_absorbs_the_kopecks():
    plan = schedule(D('1000.00'), 3, JAN_15)
    assert [i.amount for i in plan.instalments] == [
        D('333.33'), D('333.33'), D('333.34')]
    plan = schedule(D('0.36'), 24, JAN_15)
    assert [i.amount for i in plan.instalments] == [D('0.01')] * 23 + [
        D('0.13')]


@given(st.integers(min_value=1, max_value=10**10),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=99))
def test_a_schedule_sums_exactly_to_the_debt(kopecks, months, share):
    debt = D(kopecks).scaleb(-2)
    plan = schedule(debt, months, JAN_15, D(share).scaleb(-2))
    assert plan.down_payment + sum(i.amount for i in plan.instalments) \
        == debt
    assert all(i.amount >= 0 for i in plan.instalments)


def test_interest_on_the_balance_before_each_instalment():
    plan = schedule(D('9000.00'), 12, JAN_15, annual_rate=D('19.00'))
    assert [i.principal for i in plan.instalments] == [D('750.00')] * 12
    # 9,000 × 19 / 12 / 100 = 142.50; 8,250 × … = 130.625 → 130.63; …
    assert [i.interest for i in plan.instalments][:3] == [
        D('142.50'), D('130.63'), D('118.75')]
    assert plan.instalments[-1].interest == D('11.88')  # 750 × 19/1200
    assert plan.instalments[1].amount == D('880.63')
    assert plan.total_interest == D('926.28')


def test_monthly_due_dates_clamp_to_the_month_end():
    assert due_dates(dt.date(2026, 1, 31), 4) == [
        dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31),
        dt.date(2026, 4, 30)]
    assert due_dates(dt.date(2027, 12, 29), 3) == [
        dt.date(2027, 12, 29), dt.date(2028, 1, 29), dt.date(2028, 2, 29)]


def test_bad_inputs():
    with pytest.raises(CalculationError,
            match='the debt must be positive, got -1'):
        schedule(D('-1'), 12, JAN_15)
    with pytest.raises(CalculationError,
            match='the schedule needs at least one month, got 0'):
        schedule(D('100'), 0, JAN_15)
    with pytest.raises(CalculationError,
            match='down payment share must be at least 0 and below 1, '
            'got 1.5'):
        schedule(D('100'), 2, JAN_15, D('1.5'))
    with pytest.raises(CalculationError,
            match='the annual rate must not be negative, got -3'):
        schedule(D('100'), 2, JAN_15, annual_rate=D('-3'))


def test_p72_offer_when_a_bill_rose_more_than_25_percent():
    # Key rate 16 % on 15.01.2026, so at most 19 % a year.
    offer = bill_rise_offer(D('1250.01'), D('1000.00'), JAN_15)
    assert (offer.parts, offer.max_annual_rate) == (12, D('19.00'))
    assert bill_rise_offer(D('1250.00'), D('1000.00'), JAN_15) is None
    assert bill_rise_offer(D('900.00'), D('1000.00'), JAN_15) is None
    stricter = dataclasses.replace(default_bill_rise_rule(),
        rise_threshold=D('0.10'))
    flat = DatedTable([(dt.date(2000, 1, 1), D('7.50'))], 'key rate')
    offer = bill_rise_offer(D('1150'), D('1000'), JAN_15, stricter, flat)
    assert offer.max_annual_rate == D('10.50')
    with pytest.raises(CalculationError, match='bills must not be negative'):
        bill_rise_offer(D('-1'), D('1000'), JAN_15)
