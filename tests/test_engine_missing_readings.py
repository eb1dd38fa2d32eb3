"The missing-reading policy of Decree 354 п.59–60 (rules.md §1)."
import datetime as dt

import pytest

from rkc.engine import missing_readings as m

DAY = dt.date(2026, 3, 1)
POLICY = m.estimate_policies().on(DAY)


def choose(state=m.WORKING, has_reading=False, history=12, age=24,
        in_row=0, residential=True, installable=True, day=DAY):
    return m.choose(day, state, has_reading, history, age, in_row,
        residential, installable, POLICY)


def test_policy_is_dated_data():
    assert POLICY.residential_periods == 6
    assert POLICY.verification_grace_from == dt.date(2020, 4, 6)


def test_reading_is_billed_as_is():
    assert choose(has_reading=True) == m.Estimate('actual', 'reading')


@pytest.mark.parametrize('in_row, method', [
    (0, 'average'), (5, 'average'), (6, 'norm')])
def test_residential_average_for_six_periods_then_norm(in_row, method):
    estimate = choose(in_row=in_row)
    assert estimate.method == method
    assert not estimate.raised
    assert estimate.months == (6 if method == 'average' else 0)


def test_non_residential_average_for_three_periods():
    assert choose(in_row=2, residential=False).method == 'average'
    assert choose(in_row=3, residential=False) == m.Estimate(
        'norm', 'estimate_limit')


def test_young_meter_averages_three_months():
    assert choose(history=3, age=4) == m.Estimate(
        'average', 'no_reading', months=3)
    assert choose(history=2, age=4) == m.Estimate('norm', 'short_history')
    # An old meter with a short history has no lawful average.
    assert choose(history=4, age=24) == m.Estimate('norm', 'short_history')


def test_failed_meter_average_three_periods_then_raised_norm():
    assert choose(m.FAILED, in_row=2).method == 'average'
    assert choose(m.FAILED, in_row=3) == m.Estimate(
        'norm', 'meter_failed', raised=True)
    # A failed meter's reading is not accepted.
    assert choose(m.FAILED, has_reading=True, in_row=3).method == 'norm'


def test_expired_verification_was_no_failure_in_2020():
    in_grace = choose(m.VERIFICATION_EXPIRED, has_reading=True,
        day=dt.date(2020, 12, 1))
    after = choose(m.VERIFICATION_EXPIRED, has_reading=True, in_row=3,
        day=dt.date(2021, 1, 1))
    before = choose(m.VERIFICATION_EXPIRED, has_reading=True,
        day=dt.date(2020, 4, 5))
    assert in_grace.method == 'actual'
    assert after == m.Estimate('norm', 'meter_failed', raised=True)
    assert before.method == 'average'


def test_no_meter_is_norm_raised_only_where_installable():
    assert choose(m.NO_METER) == m.Estimate('norm', 'no_meter', raised=True)
    assert choose(m.NO_METER, installable=False) == m.Estimate(
        'norm', 'no_meter')
