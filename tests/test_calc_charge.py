"``rkc calc charge`` as a subprocess: the calc-cli.md contract."
import pytest
from calc_cli import run_calc


@pytest.mark.parametrize('data, expected', [
    ({'method': 'metered', 'previous': '123.456', 'current': '131.789',
            'tariff': '52.34'},
        {'volume': '8.333', 'amount': '436.15'}),
    ({'method': 'norm', 'residents': 3, 'norm': '4.85', 'tariff': '52.34',
            'raising_coefficient': '1.5'},
        {'volume': '14.550', 'amount': '1142.32', 'excess': '380.77'}),
    ({'method': 'norm', 'residents': 3, 'norm': '4.85', 'tariff': '52.34'},
        {'volume': '14.550', 'amount': '761.55', 'excess': '0'}),
    ({'method': 'average', 'history': [
            '8.100', '7.900', '8.400', '8.000', '7.600', '8.200'],
            'tariff': '52.34'},
        {'volume': '8.033', 'amount': '420.45'}),
    ({'method': 'hot_water_two_component', 'volume': '3.210',
            'cold_tariff': '52.34', 'heat_norm': '0.05156',
            'heat_tariff': '2800.00'},
        {'volume': '3.210', 'amount': '631.43',
            'cold_component': '168.01', 'heat_component': '463.42'}),
    ({'method': 'heating_norm', 'area': '54.3', 'norm': '0.0187',
            'tariff': '2850.40'},
        {'amount': '2894.32', 'gcal': '1.015410'}),
    ({'method': 'heating_norm', 'area': '54.3', 'norm': '0.0187',
            'tariff': '2850.40', 'common_area': '600',
            'total_area': '5430'},
        {'amount': '3214.14', 'gcal': '1.127610'}),
    ({'method': 'heating_building_meter', 'building_gcal': '120',
            'area': '54.3', 'total_area': '5430', 'tariff': '2850.40'},
        {'amount': '3420.48', 'gcal': '1.200000'}),
    ({'method': 'heating_even', 'last_year_gcal': '1440', 'area': '54.3',
            'total_area': '5430', 'tariff': '2850.40'},
        {'amount': '3420.48', 'gcal': '1.200000'}),
    ({'method': 'heating_even_correction', 'actual_year_gcal': '1380',
            'billed_year_total': '41045.76', 'area': '54.3',
            'total_area': '5430', 'tariff': '2850.40'},
        {'amount': '-1710.24', 'gcal': '13.800000'}),
    ({'method': 'wastewater', 'cold_volume': '8.333',
            'hot_volume': '3.210', 'tariff': '40.00'},
        {'volume': '11.543', 'amount': '461.72'}),
    ({'method': 'metered', 'previous': '99998.100', 'current': '2.100',
            'tariff': '10', 'digits': 5},
        {'volume': '4.000', 'amount': '40.00'}),
    ({'method': 'metered', 'zones': [
            {'previous': '1000', 'current': '1101', 'tariff': '6.125'},
            {'previous': '500', 'current': '541', 'tariff': '3.115'}]},
        {'volume': '142.000', 'amount': '746.35', 'zones': [
            {'volume': '101.000', 'amount': '618.63'},
            {'volume': '41.000', 'amount': '127.72'}]}),
    ])
def test_contract_examples(data, expected):
    assert run_calc('charge', data) == (0, expected)


@pytest.mark.parametrize('data, message', [
    ({'method': 'solar', 'tariff': '1'},
        '"method" must be one of average, heating_building_meter'),
    ({'method': 'metered', 'previous': '1', 'tariff': '1'},
        'missing key "current"'),
    ({'method': 'metered', 'previous': '1', 'current': '2,5',
            'tariff': '1'},
        '"current" is not a decimal number: "2,5"'),
    ({'method': 'metered', 'previous': '131.789', 'current': '123.456',
            'tariff': '52.34'},
        'current reading 123.456 is below the previous reading 131.789; '
        'a rollover needs the meter\'s number of digits'),
    ({'method': 'metered', 'previous': '1', 'current': '2',
            'tariff': '-52.34'},
        'tariff must not be negative, got -52.34'),
    ({'method': 'metered', 'previous': '1', 'current': '2',
            'tariff': '1', 'colour': 'red'},
        'unknown key "colour"'),
    ({'method': 'metered', 'zones': [
            {'previous': '1', 'current': '2', 'tariff': '1', 'x': '1'}]},
        'unknown key "zones[0].x"'),
    ({'method': 'norm', 'residents': 0, 'norm': '4.85', 'tariff': '1'},
        'no residents registered and no owners given'),
    ({'method': 'norm', 'residents': -1, 'norm': '4.85', 'tariff': '1'},
        '"residents" must be at least 0, got -1'),
    ({'method': 'average', 'history': [], 'tariff': '1'},
        'an average needs at least one month'),
    ({'method': 'heating_norm', 'area': '0', 'norm': '0.0187',
            'tariff': '1'},
        'area must be positive, got 0'),
    ({'method': 'heating_building_meter', 'building_gcal': '1',
            'area': '60', 'total_area': '50', 'tariff': '1'},
        'area 60 exceeds the building\'s total area 50'),
    ])
def test_bad_input(data, message):
    status, output = run_calc('charge', data)
    assert status == 2
    assert message in output['error']
