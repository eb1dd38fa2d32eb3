"``rkc calc penalty|duty|subsidy|restructuring`` through the command."
from decimal import Decimal

import pytest
from calc_cli import run_calc

SUBSIDY = {
    'members': ['working', 'working', 'child'], 'income': '30000',
    'standard_cost_per_person': '2600', 'max_share': '0.22',
    'subsistence_minimum': {
        'working': '19329', 'pensioner': '15250', 'child': '17201'},
    'actual_charges': '6900'}


def _band(start, end, days, fraction, base, amount):
    return {'from': start, 'to': end, 'days': days, 'fraction': fraction,
        'rate': '9.50', 'base': base, 'amount': amount, 'moratorium': False}


def test_penalty_worked_example():
    status, output = run_calc('penalty', {
        'as_of': '2025-06-30',
        'debts': [{'period': '2025-01', 'amount': '10000.00'}],
        'payments': [{'date': '2025-06-20', 'amount': '10000.00'}]})
    assert status == 0
    assert output == {
        'as_of': '2025-06-30', 'total': '482.31', 'advance': '0.00',
        'rate_rule': 'Bank of Russia key rate in force on the day each part '
            'of the debt was paid, for the unpaid part on the calculation '
            'date; at most 9.50 % on days 2022-02-28 to 2026-12-31',
        'periods': [{
            'period': '2025-01', 'due_date': '2025-02-10',
            'debt': '10000.00',
            'paid': [{'date': '2025-06-20', 'amount': '10000.00'}],
            'unpaid': '0.00', 'penalty': '482.31',
            'bands': [
                _band('2025-03-13', '2025-05-11', 60, '1/300', '10000.00',
                    '190.00'),
                _band('2025-05-12', '2025-06-20', 40, '1/130', '10000.00',
                    '292.31')]}]}


def test_penalty_contract_example_and_oldest_first_allocation():
    status, output = run_calc('penalty', {
        'as_of': '2025-06-30',
        'debts': [
            {'period': '2025-02', 'amount': '1000.00'},
            {'period': '2025-01', 'amount': '3000.00', 'service': 'heat'},
            {'period': '2025-01', 'amount': '2000.00', 'service': 'water'}],
        'payments': [
            {'date': '2025-05-05', 'amount': '4000.00', 'period': '2025-01'},
            {'date': '2025-06-01', 'amount': '1500.00'}]})
    assert status == 0
    january, february = output['periods']
    assert january['bands'][0] == _band('2025-03-13', '2025-05-05', 54,
        '1/300', '5000.00', '85.50')
    # The unnamed 1,500 pays January's last 1,000 first, then February.
    assert january['paid'] == [
        {'date': '2025-05-05', 'amount': '4000.00'},
        {'date': '2025-06-01', 'amount': '1000.00'}]
    assert february['paid'] == [{'date': '2025-06-01', 'amount': '500.00'}]
    assert february['due_date'] == '2025-03-10'
    # January: 85.50 + 1000 × 9.5 % × (6/300 + 21/130) = 85.50 + 17.246…
    assert january['penalty'] == '102.75'
    assert sum(Decimal(b['amount']) for b in january['bands']) == \
        Decimal('102.75')
    assert Decimal(output['total']) == sum(
        Decimal(p['penalty']) for p in output['periods'])


def test_penalty_moratorium_bands_and_advance():
    status, output = run_calc('penalty', {
        'as_of': '2022-12-31',
        'debts': [{'period': '2022-01', 'amount': '1000.00'}],
        'payments': [{'date': '2022-12-31', 'amount': '1200.00'}]})
    assert status == 0
    [period] = output['periods']
    assert [(b['from'], b['to'], b['moratorium'], b['amount'])
            for b in period['bands']] == [
        ('2022-03-13', '2022-03-31', False, '4.75'),
        ('2022-04-01', '2022-05-11', True, '0.00'),
        ('2022-05-12', '2022-10-01', True, '0.00'),
        ('2022-10-02', '2022-12-31', False, '52.50')]
    assert output['advance'] == '200.00'


@pytest.mark.parametrize('data, message', [
    ({'as_of': '2025-06-30',
        'debts': [{'period': '2025-01', 'amount': '-5.00'}]},
        '"debts[0].amount" must be zero or more, got -5.00'),
    ({'as_of': '2024-12-31',
        'debts': [{'period': '2025-01', 'amount': '5.00'}]},
        'the calculation date 2024-12-31 is before debt period 2025-01'),
    ({'as_of': '2025-06-30',
        'debts': [{'period': '2025-01', 'amount': '5.00'}],
        'payments': [{'date': '2025-03-01', 'amount': '1.00',
            'period': '2025-02'}]},
        'the payment of 2025-03-01 names period 2025-02, which has no debt'),
    ({'as_of': '2025-06-30',
        'debts': [{'period': '2025-01', 'amount': '5.00'}],
        'payments': [{'date': '2025-07-01', 'amount': '1.00'}]},
        'the payment of 2025-07-01 is after the calculation date '
        '2025-06-30'),
    ({'as_of': '2025-06-30',
        'debts': [{'period': '2025-01', 'amount': '5.00'}],
        'payments': [{'date': '2025-03-01', 'amount': '0'}]},
        '"payments[0].amount" must be positive, got 0'),
    ({'as_of': '2025-06-30', 'debts': [
            {'period': '2025-01', 'amount': '5.00'},
            {'period': '2025-01', 'amount': '6.00'}]},
        '"debts[1]" lists period 2025-01 again'),
    ({'as_of': '2025-06-30', 'debts': []},
        '"debts" must list at least one debt'),
    ({'as_of': '2025-06-30',
        'debts': [{'period': '2025-13', 'amount': '5.00'}]},
        '"debts[0].period" is not a billing period (YYYY-MM): "2025-13"'),
    ({'as_of': '2025-06-30',
        'debts': [{'period': '2025-01', 'amount': '5.00', 'sum': '1'}]},
        'unknown key "debts[0].sum"'),
    ({'as_of': '2018-06-30',
        'debts': [{'period': '2018-01', 'amount': '5.00'}]},
        'no key rate is known for 2018-06-30: the table starts on '
        '2018-12-17'),
    ])
def test_penalty_bad_inputs(data, message):
    assert run_calc('penalty', data) == (2, {'error': message})


@pytest.mark.parametrize('filed_on, kind, duty', [
    ('2026-03-01', 'court_order', '2000'),
    ('2026-03-01', 'lawsuit', '4000'),
    ('2024-08-15', 'court_order', '210'),
    ('2024-08-15', 'lawsuit', '419'),
    ])
def test_duty_worked_examples(filed_on, kind, duty):
    status, output = run_calc('duty', {
        'claim': '10482.31', 'filed_on': filed_on, 'kind': kind})
    assert (status, output['duty']) == (0, duty)


@pytest.mark.parametrize('data, message', [
    ({'claim': '0', 'filed_on': '2026-03-01', 'kind': 'lawsuit'},
        '"claim" must be positive, got 0'),
    ({'claim': '100', 'filed_on': '2026-03-01', 'kind': 'appeal'},
        '"kind" must be one of court_order, lawsuit, got "appeal"'),
    ({'claim': '100', 'filed_on': '2026-02-30', 'kind': 'lawsuit'},
        '"filed_on" is not a valid date (YYYY-MM-DD): "2026-02-30"'),
    ({'claim': '100', 'filed_on': '1999-01-01', 'kind': 'lawsuit'},
        'no state duty scale is known for 1999-01-01: the table starts on '
        '2005-01-01'),
    ])
def test_duty_bad_inputs(data, message):
    assert run_calc('duty', data) == (2, {'error': message})


def test_subsidy_worked_example():
    assert run_calc('subsidy', SUBSIDY) == (0, {
        'monthly': '4255.14', 'correction_coefficient': '0.5371',
        'family_standard_cost': '7800.00', 'family_minimum': '18619.67',
        'formula_amount': '4255.14'})


def test_subsidy_zero_capped_and_term():
    status, output = run_calc('subsidy', {**SUBSIDY, 'income': '60000'})
    assert (status, output['monthly']) == (0, '0.00')
    assert output['correction_coefficient'] is None
    status, output = run_calc('subsidy', {**SUBSIDY, 'income': '3000',
        'actual_charges': '4000.50'})
    assert (status, output['monthly']) == (0, '4000.50')
    status, output = run_calc('subsidy', {**SUBSIDY,
        'standard_cost_per_person': {'1': '3100', '2': '2800', '3': '2600'},
        'term_start': '2026-03-15'})
    assert output['monthly'] == '4255.14'
    assert [m['amount'] for m in output['schedule']] == [
        '2333.46', *['4255.14'] * 5, '1985.73']
    assert output['schedule'][0]['month'] == '2026-03'


@pytest.mark.parametrize('change, message', [
    ({'members': ['working', 'student']},
        'member 2 is in group "student", which has no subsistence minimum '
        '(known: child, pensioner, working)'),
    ({'members': []}, 'a family has at least one member'),
    ({'income': '-1'}, 'the income must not be negative'),
    ({'max_share': '22'},
        'the maximum share of income must be between 0 and 1, got 22'),
    ({'subsistence_minimum': {'working': 'many'}},
        '"subsistence_minimum.working" is not a decimal number: "many"'),
    ({'standard_cost_per_person': {'big': '1'}},
        '"standard_cost_per_person" must be keyed by family size (1, 2, …)'),
    ])
def test_subsidy_bad_inputs(change, message):
    assert run_calc('subsidy', {**SUBSIDY, **change}) == (
        2, {'error': message})


def test_restructuring_worked_example():
    status, output = run_calc('restructuring', {
        'debt': '48000.00', 'down_payment_share': '0.20', 'months': 12,
        'first_due': '2026-01-31'})
    assert status == 0
    assert output['down_payment'] == '9600.00'
    assert [i['amount'] for i in output['instalments']] == ['3200.00'] * 12
    assert [i['due'] for i in output['instalments']][:3] == [
        '2026-01-31', '2026-02-28', '2026-03-31']
    assert output['total'] == '48000.00'


def test_restructuring_with_interest():
    status, output = run_calc('restructuring', {
        'debt': '9000.00', 'months': 12, 'annual_rate': '19.00',
        'first_due': '2026-01-15'})
    assert status == 0
    assert output['instalments'][1] == {'due': '2026-02-15',
        'principal': '750.00', 'interest': '130.63', 'amount': '880.63'}
    assert output['total_interest'] == '926.28'
    assert output['total'] == '9926.28'


@pytest.mark.parametrize('change, message', [
    ({'debt': '-100.00'}, '"debt" must be positive, got -100.00'),
    ({'months': 0}, '"months" must be at least 1, got 0'),
    ({'months': '12'}, '"months" must be a whole number, got "12"'),
    ({'down_payment_share': '1'},
        'the down payment share must be at least 0 and below 1, got 1'),
    ({'annual_rate': '-1'}, 'the annual rate must not be negative, got -1'),
    ({'instalment': '100'}, 'unknown key "instalment"'),
    ])
def test_restructuring_bad_inputs(change, message):
    data = {'debt': '1000.00', 'months': 12, 'first_due': '2026-01-15'}
    assert run_calc('restructuring', {**data, **change}) == (
        2, {'error': message})
