"The monthly charge of one account over plain data (rules.md §1)."
import datetime as dt
from decimal import Decimal as D

from rkc.engine import billing as b
from rkc.engine.dated import DatedTable

MARCH = dt.date(2026, 3, 1)
HISTORY = tuple(D(v) for v in
    ('8.100', '7.900', '8.400', '8.000', '7.600', '8.200'))
AVERAGE = D('8.033')


def table(what, *rows):
    return DatedTable(list(rows), what)


def tariff(*rates, since=dt.date(2025, 7, 1), **kw):
    return table('tariff', (since, b.Tariff(tuple(D(r) for r in rates),
        **kw)))


COLD_NORM = table('cold water norm', (dt.date(2020, 1, 1), D('4.85')))
HEAT_NORM = table('heating norm', (dt.date(2020, 1, 1), D('0.0187')))


def account(**kw):
    values = dict(id=1, opened=dt.date(2020, 1, 1), closed=None,
        residential=True, area=D('54.3'), meter_installable=True,
        building=b.Building(D('5430'), D('600'), b.HEATING_NORM),
        residents=(b.Residents(3, dt.date(2020, 1, 1)),), owners=1)
    values.update(kw)
    return b.Account(**values)


def cold(meter=None, method=b.METERED, norms=COLD_NORM, **kw):
    return b.Service('cold_water', method, tariff('52.34'),
        dt.date(2020, 1, 1), norms=norms, meter=meter, **kw)


def meter(*zones, state='working', installed=dt.date(2020, 1, 1)):
    return b.Meter(state, installed, zones)


def amounts(bill):
    assert bill.errors == []
    return [(line.service, line.kind, line.amount) for line in bill.lines]


def test_metered_worked_example():
    bill = b.bill_account(MARCH, account(), [cold(meter(
        b.Zone(D('123.456'), D('131.789'), HISTORY)))])
    [line] = bill.lines
    assert (line.amount, line.volume, line.tariff) == (
        D('436.15'), D('8.333'), D('52.34'))
    assert line.basis == {'code': 'reading', 'previous': D('123.456'),
        'current': D('131.789')}


def test_no_meter_norm_with_raising_coefficient():
    [line] = b.bill_account(MARCH, account(), [cold()]).lines
    assert (line.amount, line.excess, line.volume) == (
        D('1142.32'), D('380.77'), D('14.550'))
    assert line.basis == {'code': 'norm', 'reason': 'no_meter',
        'persons': 3, 'norm': D('4.85')}


def test_no_coefficient_where_no_meter_can_be_installed():
    [line] = b.bill_account(
        MARCH, account(meter_installable=False), [cold()]).lines
    assert (line.amount, line.excess) == (D('761.55'), 0)


def test_no_coefficient_on_services_it_does_not_apply_to():
    [line] = b.bill_account(MARCH, account(), [cold(raising=False)]).lines
    assert line.amount == D('761.55')


def test_missing_reading_is_averaged():
    [line] = b.bill_account(MARCH, account(), [cold(meter(
        b.Zone(D('131.789'), None, HISTORY)))]).lines
    assert (line.method, line.volume, line.amount) == (
        'average', AVERAGE, D('420.45'))
    assert line.basis == {
        'code': 'average', 'months': 6, 'reason': 'no_reading', 'zone': 0}


def test_after_six_estimates_the_norm_without_coefficient():
    [line] = b.bill_account(MARCH, account(), [cold(meter(
        b.Zone(D('131.789'), None, HISTORY, (AVERAGE,) * 6)))]).lines
    assert (line.method, line.amount, line.excess) == (
        'norm', D('761.55'), 0)
    assert line.basis['reason'] == 'estimate_limit'


def test_failed_meter_after_three_estimates_raised_norm():
    [line] = b.bill_account(MARCH, account(), [cold(meter(
        b.Zone(D('131.789'), D('140'), HISTORY, (AVERAGE,) * 3),
        state='failed'))]).lines
    assert (line.amount, line.excess) == (D('1142.32'), D('380.77'))


def test_reading_after_averaged_months_is_a_correction():
    [line] = b.bill_account(MARCH, account(), [cold(meter(
        b.Zone(D('100.000'), D('120.500'), HISTORY, (AVERAGE,) * 3)))]).lines
    assert (line.kind, line.volume, line.amount) == (
        'recalculation', D('-3.599'), D('-188.37'))
    assert line.basis['code'] == 'estimate_correction'


def test_wastewater_takes_cold_and_hot_volumes():
    hot = b.Service('hot_water', b.METERED, tariff(
        '52.34', heat_norm=D('0.05156'), heat_rate=D('2800.00')),
        dt.date(2020, 1, 1), meter=meter(b.Zone(D('10'), D('13.210'))))
    sewer = b.Service('wastewater', b.WASTEWATER, tariff('40.00'),
        dt.date(2020, 1, 1), sources=('cold_water', 'hot_water'))
    bill = b.bill_account(MARCH, account(), [sewer, hot, cold(meter(
        b.Zone(D('123.456'), D('131.789'))))])
    assert amounts(bill) == [
        ('hot_water', 'charge', D('631.43')),
        ('cold_water', 'charge', D('436.15')),
        ('wastewater', 'charge', D('461.72'))]
    assert bill.lines[2].volume == D('11.543')


def test_wastewater_follows_an_estimate_correction():
    sewer = b.Service('wastewater', b.WASTEWATER, tariff('40.00'),
        dt.date(2020, 1, 1), sources=('cold_water',))
    bill = b.bill_account(MARCH, account(), [sewer, cold(meter(
        b.Zone(D('100.000'), D('120.500'), HISTORY, (AVERAGE,) * 3)))])
    assert amounts(bill) == [
        ('cold_water', 'recalculation', D('-188.37')),
        ('wastewater', 'charge', D('0.00')),
        ('wastewater', 'recalculation', D('-143.96'))]


def test_heating_norm_worked_example_and_common_share():
    heating = b.Service('heating', b.HEATING, tariff('2850.40'),
        dt.date(2020, 1, 1), norms=HEAT_NORM)
    building = b.Building(D('5430'), D('0'), b.HEATING_NORM)
    [line] = b.bill_account(
        MARCH, account(building=building), [heating]).lines
    assert line.amount == D('2894.32')
    [line] = b.bill_account(MARCH, account(), [heating]).lines
    assert line.amount == D('3214.14')


def test_heating_by_building_meter_and_evenly():
    heating = b.Service('heating', b.HEATING, tariff('2850.40'),
        dt.date(2020, 1, 1))
    season = b.Building(D('5430'), D('0'), b.HEATING_SEASON, D('120'))
    even = b.Building(D('5430'), D('0'), b.HEATING_EVEN,
        last_year_gcal=D('1440'))
    for building in (season, even):
        [line] = b.bill_account(
            MARCH, account(building=building), [heating]).lines
        assert line.amount == D('3420.48')


def test_residents_change_inside_the_month_prorates_by_days():
    residents = (b.Residents(3, dt.date(2020, 1, 1), dt.date(2026, 3, 15)),
        b.Residents(2, dt.date(2026, 3, 16)))
    bill = b.bill_account(MARCH, account(
        residents=residents, meter_installable=False), [cold()])
    # 14.55 × 15/31 × 52.34 = 368.49; 9.70 × 16/31 × 52.34 = 262.04
    assert amounts(bill) == [('cold_water', 'charge', D('368.49')),
        ('cold_water', 'charge', D('262.04'))]
    assert [(line.basis['persons'], line.basis['days'])
        for line in bill.lines] == [(3, 15), (2, 16)]


def test_account_opened_inside_the_month():
    bill = b.bill_account(MARCH, account(
        opened=dt.date(2026, 3, 11), meter_installable=False), [cold()])
    # 14.55 × 21/31 × 52.34 = 515.8867…
    assert amounts(bill) == [('cold_water', 'charge', D('515.89'))]
    assert bill.lines[0].basis['from'] == dt.date(2026, 3, 11)


def test_account_closed_before_the_month_has_no_lines():
    bill = b.bill_account(MARCH, account(closed=dt.date(2026, 2, 28)),
        [cold()])
    assert (bill.lines, bill.errors) == ([], [])


def test_tariff_change_inside_the_month_shares_the_measured_volume():
    service = cold(meter(b.Zone(D('123.456'), D('131.789'))))
    service.tariffs = table('tariff',
        (dt.date(2025, 7, 1), b.Tariff((D('52.34'),))),
        (dt.date(2026, 3, 16), b.Tariff((D('57.20'),))))
    bill = b.bill_account(MARCH, account(), [service])
    assert amounts(bill) == [('cold_water', 'charge', D('211.04')),
        ('cold_water', 'charge', D('246.01'))]


def test_multi_zone_meter_one_line_per_zone():
    service = b.Service('electricity', b.METERED,
        tariff('6.125', '3.115'), dt.date(2020, 1, 1), meter=meter(
            b.Zone(D('1000'), D('1101')), b.Zone(D('500'), D('541'))))
    bill = b.bill_account(MARCH, account(), [service])
    assert amounts(bill) == [('electricity', 'charge', D('618.63')),
        ('electricity', 'charge', D('127.72'))]


def test_errors_stop_the_account_and_name_each_service():
    heating = b.Service('heating', b.HEATING, tariff('2850.40'),
        dt.date(2020, 1, 1), norms=HEAT_NORM)
    late = b.Service('gas', b.NORM, tariff('7', since=dt.date(2026, 4, 1)),
        dt.date(2020, 1, 1), norms=COLD_NORM)
    bill = b.bill_account(MARCH, account(area=None), [heating, late,
        cold(norms=None), cold(meter(b.Zone(D('5'), D('4'))))])
    assert bill.lines == []
    assert [(e.service, e.message) for e in bill.errors] == [
        ('heating', 'the premise has no area to bill heating on'),
        ('gas', 'no tariff is known for 2026-03-01: the table starts on '
            '2026-04-01'),
        ('cold_water', 'service "cold_water" has no norm'),
        ('cold_water', 'current reading 4 is below the previous reading 5; '
            'a rollover needs the meter\'s number of digits')]


def test_nobody_to_bill_for_is_an_error():
    bill = b.bill_account(MARCH, account(residents=(), owners=0), [cold()])
    assert bill.errors[0].message.startswith('no residents registered')
