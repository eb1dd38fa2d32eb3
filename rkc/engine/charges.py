"""Monthly charge methods of Decree 354, Appendix 2 (rules.md §1).

Each function takes one method's inputs and returns a :class:`Charge`.
Money is rounded half-up once per line; volumes are exact.
"""
import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal

from .dated import DatedTable
from .errors import CalculationError
from .money import round_money, round_places
from .reference_data import read_json

ZERO = Decimal(0)
ONE = Decimal(1)
# A mean volume keeps the resolution of the m³ meters it is averaged from.
AVERAGE_PLACES = 3


@dataclass(slots=True, frozen=True)
class Charge:
    """One charge line: ``excess`` is the part due to the raising
    coefficient, already included in ``amount``; ``components`` holds the
    separately rounded parts of a two-component tariff."""
    volume: Decimal | None
    amount: Decimal
    excess: Decimal = ZERO
    components: dict = field(default_factory=dict)


@functools.cache
def raising_coefficients():
    "The dated raising coefficient shipped in ``engine/data``."
    return DatedTable(
        [(dt.date.fromisoformat(row['from']), Decimal(row['coefficient']))
            for row in read_json('raising_coefficient.json')['rows']],
        'raising coefficient')


def require_not_negative(value, what):
    if value < 0:
        raise CalculationError(f'{what} must not be negative, got {value}')
    return value


def require_positive(value, what):
    if value <= 0:
        raise CalculationError(f'{what} must be positive, got {value}')
    return value


def metered_volume(previous, current, digits=None):
    """Consumption between two readings; a reading below the previous one
    is a rollover only when the number of the counter's whole digits is
    known."""
    require_not_negative(previous, 'previous reading')
    require_not_negative(current, 'current reading')
    if current >= previous:
        return current - previous
    if digits is None:
        raise CalculationError(
            f'current reading {current} is below the previous reading '
            f'{previous}; a rollover needs the meter\'s number of digits')
    capacity = Decimal(10) ** require_positive(digits, 'digits')
    if previous >= capacity:
        raise CalculationError(
            f'previous reading {previous} does not fit a {digits}-digit '
            f'meter')
    return capacity - previous + current


def priced(volume, tariff, coefficient=ONE):
    """Amount and coefficient excess of a volume at a single-rate tariff,
    each rounded once."""
    require_not_negative(tariff, 'tariff')
    require_coefficient(coefficient)
    base = round_money(volume * tariff)
    if coefficient == ONE:
        return base, ZERO
    amount = round_money(volume * tariff * coefficient)
    return amount, amount - base


def require_coefficient(coefficient):
    if coefficient < ONE:
        raise CalculationError(
            f'raising coefficient must be at least 1, got {coefficient}')


def metered(previous, current, tariff, digits=None):
    volume = metered_volume(previous, current, digits)
    amount, _ = priced(volume, tariff)
    return Charge(volume, amount)


def multi_zone(zones, digits=None):
    """A multi-zone meter: one line per zone ``(previous, current,
    tariff)``, each zone's volume at its own tariff."""
    if not zones:
        raise CalculationError('a multi-zone meter needs at least one zone')
    return [metered(previous, current, tariff, digits)
        for previous, current, tariff in zones]


def billed_persons(residents, owners=None):
    "Residents, or the number of owners when nobody is registered."
    require_not_negative(residents, 'residents')
    if residents:
        return residents
    if not owners:
        raise CalculationError(
            'no residents registered and no owners given: the norm '
            'charge has nobody to bill for')
    return require_not_negative(owners, 'owners')


def norm(residents, norm, tariff, coefficient=ONE, owners=None):
    "Residents × norm per person × tariff, times the raising coefficient."
    volume = billed_persons(residents, owners) * require_not_negative(
        norm, 'norm')
    amount, excess = priced(volume, tariff, coefficient)
    return Charge(volume, amount, excess)


def average_volume(history, places=AVERAGE_PLACES):
    "The mean of monthly volumes, rounded to the meter's resolution."
    if not history:
        raise CalculationError('an average needs at least one month')
    for volume in history:
        require_not_negative(volume, 'monthly volume')
    return round_places(sum(history) / len(history), places)


def average(history, tariff):
    volume = average_volume(history)
    amount, _ = priced(volume, tariff)
    return Charge(volume, amount)


def two_component(volume, cold_tariff, heat_norm, heat_tariff,
        coefficient=ONE):
    """Hot water on a two-component tariff: V × cold-water tariff plus
    V × heat norm (Gcal/m³) × heat tariff, each component rounded."""
    require_not_negative(heat_norm, 'heat norm')
    cold, cold_excess = priced(volume, cold_tariff, coefficient)
    heat, heat_excess = priced(volume * heat_norm, heat_tariff, coefficient)
    return Charge(
        volume, cold + heat, cold_excess + heat_excess,
        {'cold_component': cold, 'heat_component': heat})


def wastewater(cold_volume, hot_volume, tariff):
    "Wastewater is the cold plus hot volume, never raised."
    volume = (require_not_negative(cold_volume, 'cold water volume')
        + require_not_negative(hot_volume, 'hot water volume'))
    amount, _ = priced(volume, tariff)
    return Charge(volume, amount)


def area_share(area, total_area):
    "The premise's share of the building's total area."
    require_positive(area, 'area')
    require_positive(total_area, 'total area')
    if area > total_area:
        raise CalculationError(
            f'area {area} exceeds the building\'s total area {total_area}')
    return area / total_area


def heated_area(area, common_area=None, total_area=None):
    """The area heating is billed on: S, plus the premise's share of the
    common area S_common × S / S_total when both are given."""
    require_positive(area, 'area')
    if common_area is None and total_area is None:
        return area
    if common_area is None or total_area is None:
        raise CalculationError(
            'the common-area share needs both common area and total area')
    require_not_negative(common_area, 'common area')
    return area + common_area * area_share(area, total_area)


def heating_norm(area, norm, tariff, common_area=None, total_area=None):
    "Area × norm (Gcal/m² a month) × tariff."
    volume = heated_area(area, common_area, total_area) * (
        require_not_negative(norm, 'heating norm'))
    amount, _ = priced(volume, tariff)
    return Charge(volume, amount)


def heating_building_meter(building_gcal, area, total_area, tariff):
    "In season: the building meter's Gcal × S / S_total × tariff."
    volume = require_not_negative(building_gcal, 'building Gcal') * (
        area_share(area, total_area))
    amount, _ = priced(volume, tariff)
    return Charge(volume, amount)


def heating_even(last_year_gcal, area, total_area, tariff, months=12):
    "Evenly over the year: S × (last year's Gcal / 12 / S_total) × tariff."
    return heating_building_meter(
        require_not_negative(last_year_gcal, 'last year\'s Gcal') / months,
        area, total_area, tariff)


def heating_even_correction(
        actual_year_gcal, billed_year_total, area, total_area, tariff):
    """The yearly correction of even heating payments to the building
    meter: the actual year's share at the tariff minus what was billed;
    negative when the year was overbilled."""
    actual = heating_building_meter(
        actual_year_gcal, area, total_area, tariff)
    return Charge(actual.volume, actual.amount - billed_year_total)
