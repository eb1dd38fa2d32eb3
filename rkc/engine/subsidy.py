"""Housing subsidies (Government Decree 761 of 14.12.2005, Housing Code
art. 159; rules.md §4). The regional parameters — standard cost per person,
maximum share of income, subsistence minimum by group — are passed in."""
import dataclasses
from decimal import Decimal

from .calendar import ONE_DAY, clip, period_of, period_range, periods, prorate
from .dated import add_months
from .errors import CalculationError
from .money import round_money, round_places

ZERO = Decimal('0.00')


@dataclasses.dataclass(frozen=True)
class Subsidy:
    monthly: Decimal
    family_standard_cost: Decimal  # ССЖКУ
    family_minimum: Decimal  # ПМ_family, unrounded
    correction_coefficient: Decimal | None  # ПК; None when income ≥ ПМ
    formula_amount: Decimal  # S, before the bounds 0 … actual charges


def standard_cost_for(size, by_family_size):
    """The standard cost per person for a family of ``size`` from a
    mapping {1: …, 2: …, 3: …}; the largest size stands for larger
    families."""
    if size < 1:
        raise CalculationError('a family has at least one member')
    return by_family_size[min(size, max(by_family_size))]


def monthly_subsidy(members, income, standard_cost_per_person, max_share,
        subsistence_minimum, actual_charges):
    """The monthly subsidy of a family: ``members`` lists each member's
    group, ``income`` is the family's average monthly income (Д),
    ``subsistence_minimum`` maps groups to their minimum (ПМ)."""
    if not members:
        raise CalculationError('a family has at least one member')
    for index, group in enumerate(members):
        if group not in subsistence_minimum:
            raise CalculationError(
                f'member {index + 1} is in group "{group}", which has no '
                f'subsistence minimum (known: '
                f'{", ".join(sorted(subsistence_minimum))})')
    for name, value in (('income', income),
            ('actual charges', actual_charges),
            ('standard cost per person', standard_cost_per_person)):
        if value < 0:
            raise CalculationError(f'the {name} must not be negative')
    if not 0 < max_share < 1:
        raise CalculationError(
            f'the maximum share of income must be between 0 and 1, '
            f'got {max_share}')
    size = len(members)
    standard = standard_cost_per_person * size
    family_minimum = sum(subsistence_minimum[group] for group in members) \
        / size
    if income / size >= family_minimum:
        coefficient = None
        amount = standard - max_share * income
    else:
        coefficient = round_places(income / size / family_minimum, 4)
        amount = standard - max_share * coefficient * income
    monthly = round_money(min(max(amount, ZERO), actual_charges))
    return Subsidy(monthly, standard, family_minimum, coefficient, amount)


def prorated(monthly, month, start, end):
    """The subsidy for ``month`` (any day in it) when it is paid only from
    ``start`` to ``end`` inclusive: by days, rounded once."""
    days = clip(*period_range(period_of(month)), start, end)
    return ZERO if days is None else round_money(prorate(monthly, *days))


def term_schedule(monthly, start, months=6):
    """(month, amount) for each month of a term of ``months`` from
    ``start``; the months it starts and ends inside are prorated."""
    if months < 1:
        raise CalculationError('a subsidy term lasts at least one month')
    end = add_months(start, months) - ONE_DAY
    return [(period, prorated(monthly, period, start, end))
        for period in periods(start, end)]
