"State duty (Tax Code art. 333.19, rules.md §6) through the engine."
import datetime as dt
from decimal import Decimal

import pytest

from rkc.engine.duty import state_duty
from rkc.engine.errors import CalculationError

D = Decimal
IN_2026 = dt.date(2026, 3, 1)
AUGUST_2024 = dt.date(2024, 8, 15)


def test_worked_example_filed_in_2026():
    assert state_duty(D('10482.31'), IN_2026, 'lawsuit') == D('4000')
    assert state_duty(D('10482.31'), IN_2026, 'court_order') == D('2000')


def test_worked_example_filed_in_august_2024():
    # 4 % of 10,482.31 = 419.29 → 419; half of 419 = 209.50 → 210.
    assert state_duty(D('10482.31'), AUGUST_2024, 'lawsuit') == D('419')
    assert state_duty(D('10482.31'), AUGUST_2024) == D('210')


def test_the_scale_changes_on_9_september_2024():
    assert state_duty(D('10000'), dt.date(2024, 9, 8), 'lawsuit') == 400
    assert state_duty(D('10000'), dt.date(2024, 9, 9), 'lawsuit') == 4000


def test_court_order_halves_the_rounded_lawsuit_duty():
    # 4 % of 10,465 = 418.60 → 419 → 209.50 → 210 (halving the unrounded
    # 418.60 would give 209).
    assert state_duty(D('10465'), AUGUST_2024) == D('210')


@pytest.mark.parametrize('claim, lawsuit', [
    ('5000', '400'),  # the minimum
    ('20000', '800'),
    ('50000', '1700'),  # 800 + 3 % of 30,000
    ('150000', '4200'),  # 3,200 + 2 % of 50,000
    ('500000', '8200'),  # 5,200 + 1 % of 300,000
    ('2000000', '18200'),  # 13,200 + 0.5 % of 1,000,000
    ('20000000', '60000'),  # the maximum
    ])
def test_scale_before_9_september_2024(claim, lawsuit):
    assert state_duty(D(claim), AUGUST_2024, 'lawsuit') == D(lawsuit)


@pytest.mark.parametrize('claim, lawsuit', [
    ('100000', '4000'),
    ('200000', '7000'),  # 4,000 + 3 % of 100,000
    ('400000', '12500'),  # 10,000 + 2.5 % of 100,000
    ('700000', '19000'),  # 15,000 + 2 % of 200,000
    ('2000000', '35000'),  # 25,000 + 1 % of 1,000,000
    ('5000000', '59000'),  # 45,000 + 0.7 % of 2,000,000
    ('123456.78', '4704'),  # 4,000 + 703.70…
    ])
def test_scale_from_9_september_2024(claim, lawsuit):
    assert state_duty(D(claim), IN_2026, 'lawsuit') == D(lawsuit)


def test_bad_inputs():
    with pytest.raises(CalculationError,
            match='the claim must be positive, got 0'):
        state_duty(D('0'), IN_2026)
    with pytest.raises(CalculationError,
            match='unknown kind of claim "appeal"'):
        state_duty(D('100'), IN_2026, 'appeal')
    with pytest.raises(CalculationError,
            match='no state duty scale is known for 2000-01-01'):
        state_duty(D('100'), dt.date(2000, 1, 1))
