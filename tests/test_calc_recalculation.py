"``rkc calc recalculation`` as a subprocess: the calc-cli.md contract."
import pytest
from calc_cli import run_calc


@pytest.mark.parametrize('data, expected', [
    ({'reason': 'temporary_absence', 'monthly_charge_per_person': '253.849',
            'departure': '2026-03-03', 'return': '2026-03-20'},
        {'days': 16, 'amount': '-131.02', 'periods': [
            {'period': '2026-03', 'days': 16, 'amount': '-131.02'}]}),
    ({'reason': 'interruption', 'monthly_charge': '631.43',
            'service': 'hot_water', 'interruptions_hours': ['3', '3', '6']},
        {'excess_hours': '4', 'amount': '-3.79'}),
    ({'reason': 'interruption', 'monthly_charge': '1000',
            'service': 'heating', 'interruptions_hours': ['20'],
            'room_temperature': '11', 'period': '2026-01'},
        {'excess_hours': '12', 'amount': '-18.00'}),
    ({'reason': 'tariff_change', 'volume': '8.333',
            'billed_tariff': '52.34', 'correct_tariff': '57.20'},
        {'amount': '40.50'}),
    ({'reason': 'tariff_change', 'volume': '8.333', 'period': '2026-03',
            'billed_amount': '436.15', 'tariffs': [
                {'from': '2025-07-01', 'tariff': '52.34'},
                {'from': '2026-03-16', 'tariff': '57.20'}]},
        {'amount': '20.90', 'parts': [
            {'from': '2026-03-01', 'days': 15, 'tariff': '52.34',
                'amount': '211.04'},
            {'from': '2026-03-16', 'days': 16, 'tariff': '57.20',
                'amount': '246.01'}]}),
    ({'reason': 'estimate_correction', 'actual_volume': '20.500',
            'estimated_volumes': ['8.033', '8.033', '8.033'],
            'tariff': '52.34'},
        {'volume': '-3.599', 'amount': '-188.37'}),
    ({'reason': 'hot_water_temperature', 'monthly_charge': '631.43',
            'deviations': [{'hours': '10', 'temperature': '51'},
                {'hours': '8', 'temperature': '54', 'night': True}]},
        {'step_hours': '20', 'amount': '-12.63'}),
    ({'reason': 'corrected_reading', 'previous': '123.456',
            'corrected': '129.000', 'tariff': '52.34',
            'billed_volume': '8.333', 'billed_amount': '436.15'},
        {'volume': '-2.789', 'amount': '-145.98'}),
    ])
def test_contract_examples(data, expected):
    assert run_calc('recalculation', data) == (0, expected)


@pytest.mark.parametrize('data, message', [
    ({'reason': 'mood'}, '"reason" must be one of corrected_reading'),
    ({'reason': 'temporary_absence', 'monthly_charge_per_person': '253.849',
            'departure': '2026-03-20', 'return': '2026-03-03'},
        'return 2026-03-03 must be after departure 2026-03-20'),
    ({'reason': 'temporary_absence', 'monthly_charge_per_person': '253.849',
            'departure': '2026-03-03', 'return': '2026-03-08'},
        'an absence of 4 full days does not exceed 5 days'),
    ({'reason': 'temporary_absence', 'monthly_charge_per_person': '253.849',
            'departure': '2026-03-33', 'return': '2026-04-08'},
        '"departure" is not a valid date (YYYY-MM-DD): "2026-03-33"'),
    ({'reason': 'temporary_absence', 'departure': '2026-03-03',
            'return': '2026-03-20'},
        'missing key "monthly_charge_per_person"'),
    ({'reason': 'interruption', 'monthly_charge': '631.43',
            'service': 'gas', 'interruptions_hours': ['3']},
        '"service" must be one of cold_water, heating, hot_water'),
    ({'reason': 'interruption', 'monthly_charge': '631.43',
            'service': 'heating', 'interruptions_hours': ['30']},
        'a heating interruption needs the room temperature'),
    ({'reason': 'interruption', 'monthly_charge': '631.43',
            'service': 'hot_water', 'interruptions_hours': ['-3']},
        'interruption hours must not be negative, got -3'),
    ({'reason': 'interruption', 'monthly_charge': '631.43',
            'service': 'hot_water', 'interruptions_hours': ['3'],
            'dead_end_accident': 'yes'},
        '"dead_end_accident" must be true or false'),
    ({'reason': 'tariff_change', 'volume': '8.333',
            'billed_tariff': '52.34', 'correct_tariff': '-1'},
        'tariff must not be negative, got -1'),
    ({'reason': 'tariff_change', 'volume': '8.333', 'period': '2026-03',
            'billed_amount': '436.15', 'tariffs': [
                {'from': '2026-03-16', 'tariff': '57.20'}]},
        'no tariff is known for 2026-03-01'),
    ({'reason': 'hot_water_temperature', 'monthly_charge': '631.43',
            'deviations': [{'hours': '10', 'temperature': '35'}]},
        'below 40 °C: it is billed at the cold-water tariff'),
    ({'reason': 'corrected_reading', 'previous': '123.456',
            'corrected': '120.000', 'tariff': '52.34',
            'billed_volume': '8.333', 'billed_amount': '436.15'},
        'a rollover needs the meter\'s number of digits'),
    ])
def test_bad_input(data, message):
    status, output = run_calc('recalculation', data)
    assert status == 2
    assert message in output['error']
