"Recalculations (rules.md §2) and the estimate correction of §1."
import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.engine import charges
from rkc.engine import recalculation as r
from rkc.engine.dated import DatedTable
from rkc.engine.errors import CalculationError

MARCH = dt.date(2026, 3, 1)
HISTORY = [D(v) for v in
    ('8.100', '7.900', '8.400', '8.000', '7.600', '8.200')]


def test_average_correction_worked_example():
    """Three months billed by the average 8.033 m³ (3 × 420.45 = 1261.35
    for 24.099 m³), then the reading shows 20.500 m³ for the span.

    The rules' −188.37 is the volume difference at the tariff, rounded
    once: (20.500 − 24.099) × 52.34 = −3.599 × 52.34 = −188.37166. Billing
    the actual volume and subtracting the billed money would give
    20.500 × 52.34 = 1072.97, 1072.97 − 1261.35 = −188.38: one kopeck
    off, because each averaged month was rounded on its own."""
    monthly = charges.average(HISTORY, D('52.34'))
    assert 3 * monthly.amount == D('1261.35')
    delta = r.estimate_correction(
        MARCH, D('20.500'), [monthly.volume] * 3, D('52.34'))
    assert delta.volume == D('-3.599')
    assert delta.amount == D('-188.37')
    assert charges.priced(D('20.500'), D('52.34'))[0] - (
        3 * monthly.amount) == D('-188.38')


def test_absence_excludes_departure_and_return_days():
    absences = r.absent_days(dt.date(2026, 3, 3), dt.date(2026, 3, 20))
    assert absences == [(MARCH, 16)]
    [delta] = r.temporary_absence(absences, {MARCH: D('253.849')})
    # 253.849 × 16 / 31 = 131.0188…
    assert delta.amount == D('-131.02')
    assert delta.basis == {
        'code': 'temporary_absence', 'days': 16, 'days_in_month': 31}


def test_absence_across_months_uses_each_month_length():
    absences = r.absent_days(dt.date(2026, 1, 25), dt.date(2026, 2, 10))
    assert absences == [(dt.date(2026, 1, 1), 6), (dt.date(2026, 2, 1), 9)]
    january, february = r.temporary_absence(absences, {
        dt.date(2026, 1, 1): D('310'), dt.date(2026, 2, 1): D('280')})
    assert (january.amount, february.amount) == (D('-60.00'), D('-90.00'))


def test_absence_of_five_full_days_is_refused():
    with pytest.raises(CalculationError,
            match='absence of 5 full days does not exceed 5 days'):
        r.absent_days(dt.date(2026, 3, 3), dt.date(2026, 3, 9))
    assert r.absent_days(dt.date(2026, 3, 3), dt.date(2026, 3, 10)) == [
        (MARCH, 6)]


def test_absence_return_before_departure_is_refused():
    with pytest.raises(CalculationError, match='must be after departure'):
        r.absent_days(dt.date(2026, 3, 20), dt.date(2026, 3, 3))


def test_absence_late_application_is_refused():
    with pytest.raises(CalculationError, match='came after 2026-04-19'):
        r.absent_days(dt.date(2026, 3, 3), dt.date(2026, 3, 20),
            applied_on=dt.date(2026, 4, 20))


def test_absence_needs_the_period_charge():
    with pytest.raises(CalculationError, match='no per-person charge'):
        r.temporary_absence([(MARCH, 16)], {})


def test_absence_applies_only_to_norm_without_installable_meter():
    assert r.absence_applies('norm', False, heating=False)
    assert not r.absence_applies('norm', True, heating=False)
    assert not r.absence_applies('metered', False, heating=False)
    assert not r.absence_applies('norm', False, heating=True)


def test_interruption_hot_water():
    # single excess (6 − 4) = 2 h; total 12 − 8 = 4 h: the larger counts.
    delta = r.interruption(MARCH, 'hot_water', D('631.43'),
        [r.Interruption(D(h)) for h in ('3', '3', '6')])
    assert delta.basis['excess_hours'] == D(4)
    assert delta.amount == D('-3.79')


def test_interruption_single_excess_can_dominate():
    limits = r.interruption_limits('cold_water', MARCH)
    hours = r.excess_hours([r.Interruption(D(7))], limits)
    assert hours == D(3)


def test_interruption_dead_end_accident_allows_24_hours():
    limits = r.interruption_limits('cold_water', MARCH)
    assert r.excess_hours(
        [r.Interruption(D(20), accident=True)], limits) == D(12)
    assert r.excess_hours(
        [r.Interruption(D(7), accident=True)], limits) == 0


def test_heating_single_limit_by_room_temperature():
    limits = r.interruption_limits('heating', MARCH)
    at = [r.Interruption(D(20), room_temperature=D(t))
        for t in ('18', '11', '9', '7')]
    assert [r.excess_hours([i], limits) for i in at] == [
        D(4), D(12), D(16), D(20)]
    with pytest.raises(CalculationError, match='needs the room temp'):
        r.excess_hours([r.Interruption(D(20))], limits)


def test_interruption_cannot_exceed_the_charge():
    delta = r.interruption(MARCH, 'hot_water', D('100.00'),
        [r.Interruption(D(800))])
    assert delta.amount == D('-100.00')


def test_interruption_of_unknown_service_is_refused():
    with pytest.raises(CalculationError, match='no interruption limits'):
        r.interruption(MARCH, 'gas', D('1'), [])


def test_hot_water_temperature():
    # Day 51 °C: 60 − 3 − 51 = 6 °C beyond = 2 steps × 10 h × 0.1 %;
    # night 54 °C: 60 − 5 − 54 = 1 °C, not a whole step.
    delta = r.hot_water_temperature(MARCH, D('631.43'), [
        r.TemperatureDeviation(D(10), D(51)),
        r.TemperatureDeviation(D(8), D(54), night=True)])
    assert delta.basis['step_hours'] == D(20)
    assert delta.amount == D('-12.63')


def test_hot_water_below_40_is_billed_at_cold_tariff():
    with pytest.raises(CalculationError, match='billed at the cold-water'):
        r.hot_water_temperature(
            MARCH, D('1'), [r.TemperatureDeviation(D(1), D(39))])
    delta = r.billed_at_cold_tariff(MARCH, D('3.210'), D('631.43'),
        D('52.34'))
    assert delta.amount == D('168.01') - D('631.43')


def test_corrected_reading():
    # Billed 8.333 m³ (436.15); the check shows 129.000, i.e. 5.544 m³.
    delta = r.corrected_reading(MARCH, D('123.456'), D('129.000'),
        D('52.34'), D('8.333'), D('436.15'))
    assert delta.volume == D('-2.789')
    assert delta.amount == D('290.17') - D('436.15')


def test_retroactive_tariff_change_rerates_each_day():
    tariffs = DatedTable([(dt.date(2025, 7, 1), D('52.34')),
        (dt.date(2026, 3, 16), D('57.20'))], 'tariff')
    delta = r.rerated(MARCH, D('8.333'), tariffs, D('436.15'))
    # 8.333 × 15/31 × 52.34 = 211.04; 8.333 × 16/31 × 57.20 = 246.01
    assert [p['amount'] for p in delta.basis['parts']] == [
        D('211.04'), D('246.01')]
    assert delta.amount == D('20.90')


def test_tariff_change_for_the_whole_month():
    tariffs = DatedTable([(MARCH, D('57.20'))], 'tariff')
    assert r.rerated(MARCH, D('8.333'), tariffs, D('436.15')).amount == (
        D('40.50'))


@given(st.dates(dt.date(2024, 1, 1), dt.date(2027, 1, 1)),
    st.integers(7, 120))
def test_absence_days_add_up(departure, length):
    return_day = departure + dt.timedelta(days=length)
    absences = r.absent_days(departure, return_day)
    assert sum(days for _, days in absences) == length - 1
    assert all(0 < days <= 31 for _, days in absences)
