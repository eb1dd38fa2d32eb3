"Monthly charge methods (rules.md §1), worked examples to the kopeck."
import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.engine import charges
from rkc.engine.errors import CalculationError

HISTORY = [D(v) for v in
    ('8.100', '7.900', '8.400', '8.000', '7.600', '8.200')]


def test_metered_worked_example():
    line = charges.metered(D('123.456'), D('131.789'), D('52.34'))
    assert line.volume == D('8.333')
    assert line.amount == D('436.15')


def test_metered_rollover_needs_digits():
    with pytest.raises(CalculationError, match='rollover needs the meter'):
        charges.metered(D('99998.1'), D('2.1'), D('1'))
    line = charges.metered(D('99998.1'), D('2.1'), D('10'), digits=5)
    assert line.volume == D('4.0')
    assert line.amount == D('40.00')


def test_metered_rollover_reading_too_large_for_digits():
    with pytest.raises(CalculationError, match='does not fit a 4-digit'):
        charges.metered(D('12345'), D('2'), D('1'), digits=4)


def test_multi_zone_rounds_each_zone():
    day, night = charges.multi_zone([
        (D('1000'), D('1101'), D('6.125')),
        (D('500'), D('541'), D('3.115'))])
    # 101 × 6.125 = 618.625 and 41 × 3.115 = 127.715: each rounded up.
    assert (day.amount, night.amount) == (D('618.63'), D('127.72'))


def test_norm_worked_example_with_excess():
    plain = charges.norm(3, D('4.85'), D('52.34'))
    raised = charges.norm(3, D('4.85'), D('52.34'), D('1.5'))
    assert plain.amount == D('761.55')
    assert plain.excess == 0
    assert raised.volume == D('14.55')
    assert raised.amount == D('1142.32')
    assert raised.excess == D('380.77')


def test_norm_bills_owners_when_nobody_is_registered():
    assert charges.norm(0, D('4.85'), D('52.34'), owners=2).volume == (
        D('9.70'))
    with pytest.raises(CalculationError, match='no owners given'):
        charges.norm(0, D('4.85'), D('52.34'))


def test_raising_coefficient_is_dated_data():
    table = charges.raising_coefficients()
    assert table.on(dt.date(2026, 3, 1)) == D('1.5')
    with pytest.raises(
            CalculationError, match='no raising coefficient is known'):
        table.on(dt.date(2016, 12, 31))


def test_average_worked_example():
    line = charges.average(HISTORY, D('52.34'))
    assert line.volume == D('8.033')
    assert line.amount == D('420.45')


def test_average_of_nothing_is_refused():
    with pytest.raises(CalculationError, match='at least one month'):
        charges.average([], D('52.34'))


def test_two_component_rounds_each_component():
    line = charges.two_component(
        D('3.210'), D('52.34'), D('0.05156'), D('2800.00'))
    # 3.210 × 52.34 = 168.0114; 3.210 × 0.05156 × 2800 = 463.42128
    assert line.components == {
        'cold_component': D('168.01'), 'heat_component': D('463.42')}
    assert line.amount == D('631.43')


def test_wastewater_is_cold_plus_hot():
    line = charges.wastewater(D('8.333'), D('3.210'), D('40.00'))
    assert line.volume == D('11.543')
    assert line.amount == D('461.72')


def test_heating_norm_worked_example():
    assert charges.heating_norm(
        D('54.3'), D('0.0187'), D('2850.40')).amount == D('2894.32')


def test_heating_norm_with_common_area_share():
    # S + S_common × S / S_total = 54.3 + 600 × 54.3 / 5430 = 60.3
    line = charges.heating_norm(
        D('54.3'), D('0.0187'), D('2850.40'), D('600'), D('5430'))
    assert line.volume == D('60.3') * D('0.0187')
    assert line.amount == D('3214.14')


def test_heating_common_area_needs_both_areas():
    with pytest.raises(CalculationError, match='needs both common area'):
        charges.heating_norm(D('54.3'), D('0.0187'), D('1'), D('600'))


def test_heating_building_meter_share():
    # 120 Gcal × 54.3 / 5430 = 1.2 Gcal × 2850.40
    line = charges.heating_building_meter(
        D('120'), D('54.3'), D('5430'), D('2850.40'))
    assert line.amount == D('3420.48')


def test_heating_even_and_yearly_correction():
    monthly = charges.heating_even(
        D('1440'), D('54.3'), D('5430'), D('2850.40'))
    assert monthly.amount == D('3420.48')
    billed = 12 * monthly.amount
    # The actual year was 1380 Gcal: 13.8 Gcal × 2850.40 = 39335.52
    correction = charges.heating_even_correction(
        D('1380'), billed, D('54.3'), D('5430'), D('2850.40'))
    assert correction.amount == D('39335.52') - D('41045.76')
    assert correction.amount == D('-1710.24')


def test_area_larger_than_building_is_refused():
    with pytest.raises(CalculationError, match='exceeds the building'):
        charges.heating_building_meter(D('1'), D('60'), D('50'), D('1'))


def test_negative_tariff_is_refused():
    with pytest.raises(CalculationError, match='tariff must not be neg'):
        charges.metered(D('1'), D('2'), D('-52.34'))


def test_coefficient_below_one_is_refused():
    with pytest.raises(CalculationError, match='at least 1, got 0.5'):
        charges.norm(3, D('4.85'), D('52.34'), D('0.5'))


volumes = st.decimals(min_value=0, max_value=1000, places=3)
tariffs = st.decimals(min_value=0, max_value=5000, places=2)


@given(volumes, tariffs, st.sampled_from([D('1.1'), D('1.5'), D('2')]))
def test_excess_is_the_difference_of_rounded_lines(volume, tariff, k):
    amount, excess = charges.priced(volume, tariff, k)
    base, none = charges.priced(volume, tariff)
    assert none == 0
    assert amount - excess == base
    assert excess >= 0
