"Housing subsidies (Decree 761, rules.md §4) through the engine."
import datetime as dt
from decimal import Decimal

import pytest

from rkc.engine.errors import CalculationError
from rkc.engine.subsidy import (
    monthly_subsidy,
    prorated,
    standard_cost_for,
    term_schedule,
)

D = Decimal
MINIMUM = {'working': D('19329'), 'pensioner': D('15250'),
    'child': D('17201')}


def _subsidy(members=('working', 'working', 'child'), income='30000',
        actual='6900', minimum=MINIMUM):
    return monthly_subsidy(list(members), D(income), D('2600'), D('0.22'),
        minimum, D(actual))


def test_worked_example():
    subsidy = _subsidy()
    assert subsidy.family_standard_cost == D('7800')
    assert round(subsidy.family_minimum, 2) == D('18619.67')
    assert subsidy.correction_coefficient == D('0.5371')
    # 7,800 − 0.22 × 0.5371 × 30,000
    assert subsidy.monthly == D('4255.14')


def test_high_income_gives_nothing():
    subsidy = _subsidy(income='60000')
    # 20,000 a head ≥ ПМ_family: S = 7,800 − 0.22 × 60,000 < 0
    assert subsidy.correction_coefficient is None
    assert subsidy.formula_amount == D('-5400.00')
    assert subsidy.monthly == D('0.00')


def test_income_per_head_at_the_minimum_uses_no_coefficient():
    def alone(income):
        return monthly_subsidy(['working'], D(income), D('6000'),
            D('0.22'), MINIMUM, D('9000'))
    at_minimum = alone('19329')
    assert at_minimum.correction_coefficient is None
    assert at_minimum.monthly == D('1747.62')  # 6,000 − 0.22 × 19,329
    below = alone('19328')
    assert below.correction_coefficient == D('0.9999')
    # 6,000 − 0.22 × 0.9999 × 19,328 = 1,748.2652…
    assert below.monthly == D('1748.27')


def test_capped_by_the_actual_charges():
    subsidy = _subsidy(income='3000', actual='4000.50')
    # ПК = 1,000 / 18,619.67 = 0.0537; S = 7,800 − 35.44 = 7,764.56
    assert subsidy.correction_coefficient == D('0.0537')
    assert subsidy.formula_amount == D('7764.5580')
    assert subsidy.monthly == D('4000.50')


def test_standard_cost_by_family_size():
    table = {1: D('3100'), 2: D('2800'), 3: D('2600')}
    assert standard_cost_for(1, table) == D('3100')
    assert standard_cost_for(5, table) == D('2600')


def test_partial_months_prorated_by_days():
    march = dt.date(2026, 3, 1)
    assert prorated(D('4255.14'), march, dt.date(2026, 3, 15),
        dt.date(2026, 9, 14)) == D('2333.46')  # 17 of 31 days
    assert prorated(D('4255.14'), march, dt.date(2026, 1, 1),
        dt.date(2026, 3, 1)) == D('137.26')  # 1 of 31 days
    assert prorated(D('4255.14'), march, dt.date(2026, 4, 1),
        dt.date(2026, 9, 30)) == 0
    assert term_schedule(D('4255.14'), dt.date(2026, 3, 15)) == [
        (dt.date(2026, 3, 1), D('2333.46')),
        *[(dt.date(2026, month, 1), D('4255.14')) for month in range(4, 9)],
        (dt.date(2026, 9, 1), D('1985.73')),  # 14 of 30 days
        ]
    assert term_schedule(D('600'), dt.date(2026, 1, 1), 2) == [
        (dt.date(2026, 1, 1), D('600.00')), (dt.date(2026, 2, 1), D('600.00'))]


def test_bad_inputs():
    with pytest.raises(CalculationError,
            match='member 3 is in group "student", which has no subsistence '
            r'minimum \(known: child, pensioner, working\)'):
        _subsidy(members=['working', 'working', 'student'])
    with pytest.raises(CalculationError,
            match='a family has at least one member'):
        _subsidy(members=[])
    with pytest.raises(CalculationError,
            match='the income must not be negative'):
        _subsidy(income='-1')
    with pytest.raises(CalculationError,
            match='maximum share of income must be between 0 and 1, got 22'):
        monthly_subsidy(['child'], D('1'), D('1'), D('22'), MINIMUM, D('1'))
    with pytest.raises(CalculationError,
            match='a subsidy term lasts at least one month'):
        term_schedule(D('1'), dt.date(2026, 1, 1), 0)
