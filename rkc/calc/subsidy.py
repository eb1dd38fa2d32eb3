"``rkc calc subsidy``: the monthly housing subsidy of a family (calc-cli.md)."
from rkc.calc import CalcInputError, parse_decimal
from rkc.engine.money import round_money
from rkc.engine.subsidy import (
    monthly_subsidy,
    standard_cost_for,
    term_schedule,
)


def calculate(payload):
    members = payload.list('members')
    if not all(isinstance(group, str) for group in members):
        raise CalcInputError('"members" must list group names as strings')
    subsidy = monthly_subsidy(
        members,
        payload.decimal('income'),
        _standard_cost(payload.raw('standard_cost_per_person'),
            len(members)),
        payload.decimal('max_share'),
        _by_name(payload.raw('subsistence_minimum'), 'subsistence_minimum'),
        payload.decimal('actual_charges'))
    result = {
        'monthly': subsidy.monthly,
        'correction_coefficient': subsidy.correction_coefficient,
        'family_standard_cost': round_money(subsidy.family_standard_cost),
        'family_minimum': round_money(subsidy.family_minimum),
        'formula_amount': round_money(subsidy.formula_amount),
        }
    if payload.has('term_start'):
        result['schedule'] = [
            {'month': f'{month:%Y-%m}', 'amount': amount}
            for month, amount in term_schedule(subsidy.monthly,
                payload.date('term_start'),
                payload.integer('term_months', default=6, minimum=1))]
    return result


def _by_name(value, name):
    if not isinstance(value, dict) or not value:
        raise CalcInputError(
            f'"{name}" must be an object of decimal strings by name')
    return {key: parse_decimal(item, f'{name}.{key}')
        for key, item in value.items()}


def _standard_cost(value, size):
    "One figure, or an object by family size {\"1\": …, \"2\": …, \"3\": …}."
    name = 'standard_cost_per_person'
    if not isinstance(value, dict):
        return parse_decimal(value, name)
    by_size = _by_name(value, name)
    if not all(key.isdigit() and int(key) >= 1 for key in by_size):
        raise CalcInputError(
            f'"{name}" must be keyed by family size (1, 2, …)')
    return standard_cost_for(size, {int(k): v for k, v in by_size.items()})
