"""Recalculations (Decree 354 sections VIII and IX, rules.md §2).

Each function returns signed deltas: negative when the consumer was
overbilled. The original charge is never changed; the deltas become
recalculation lines. Limits are dated data in ``engine/data``.
"""
import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal

from . import calendar
from .charges import ZERO, metered_volume, priced, require_not_negative
from .dated import DatedTable
from .errors import CalculationError
from .money import round_money
from .reference_data import read_json


@dataclass(slots=True, frozen=True)
class Delta:
    """One recalculation line: the period it concerns, the volume and money
    deltas, and a structured basis (a ``code`` plus its parameters)."""
    period: dt.date
    amount: Decimal
    volume: Decimal | None = None
    basis: dict = field(default_factory=dict)


def _table(name, what, build):
    return DatedTable(
        [(dt.date.fromisoformat(row['from']), build(row))
            for row in read_json(name)['rows']],
        what)


# Estimates (п.59–60) -------------------------------------------------------

def estimate_correction(period, actual_volume, estimated_volumes, tariff):
    """When a reading arrives after estimated periods: the actual
    consumption over the whole span minus the volumes already billed, at
    the tariff, rounded once."""
    require_not_negative(actual_volume, 'actual volume')
    volume = actual_volume - sum(estimated_volumes)
    return Delta(period, round_money(volume * tariff), volume, {
        'code': 'estimate_correction',
        'periods': len(estimated_volumes),
        'actual_volume': actual_volume,
        'estimated_volume': sum(estimated_volumes)})


# Temporary absence (section VIII) ------------------------------------------

@dataclass(slots=True, frozen=True)
class AbsencePolicy:
    "Absences count above ``more_than_days`` full days."
    more_than_days: int
    application_days_after_return: int


@functools.cache
def absence_policies():
    return _table('absence_policy.json', 'absence policy',
        lambda row: AbsencePolicy(
            row['more_than_days'], row['application_days_after_return']))


def absent_days(departure, return_day, applied_on=None, policy=None):
    """Full days of absence per period, ``[(period, days), …]``: the days of
    departure and return are not counted."""
    if return_day <= departure:
        raise CalculationError(
            f'return {return_day} must be after departure {departure}')
    policy = policy or absence_policies().on(departure)
    first, last = departure + calendar.ONE_DAY, return_day - calendar.ONE_DAY
    total = (last - first).days + 1
    if total <= policy.more_than_days:
        raise CalculationError(
            f'an absence of {total} full days does not exceed '
            f'{policy.more_than_days} days')
    deadline = return_day + dt.timedelta(
        days=policy.application_days_after_return)
    if applied_on is not None and applied_on > deadline:
        raise CalculationError(
            f'the application of {applied_on} came after {deadline}, '
            f'{policy.application_days_after_return} days after return')
    result = []
    for period in calendar.periods(first, last):
        start, stop = calendar.clip(
            period, calendar.next_period(period), first, last)
        result.append((period, (stop - start).days))
    return result


def temporary_absence(absences, charge_per_person):
    """Deltas for ``absences`` (from :func:`absent_days`): the per-person
    monthly charge of each period × absent days / days in the month."""
    deltas = []
    for period, days in absences:
        try:
            charge = charge_per_person[period]
        except KeyError:
            raise CalculationError(
                f'no per-person charge for {period:%Y-%m}') from None
        require_not_negative(charge, 'per-person charge')
        amount = round_money(
            charge * days / calendar.days_in_period(period))
        deltas.append(Delta(period, -amount, basis={
            'code': 'temporary_absence', 'days': days,
            'days_in_month': calendar.days_in_period(period)}))
    return deltas


def absence_applies(method, meter_installable, heating):
    """Only services billed by norm because a meter cannot be installed,
    never heating (п.86)."""
    return method == 'norm' and not meter_installable and not heating


# Quality and interruptions (section IX, Appendix 1) ------------------------

@dataclass(slots=True, frozen=True)
class InterruptionLimits:
    """Allowed interruption hours of one service: the monthly total and
    the single-interruption limit (by room temperature for heating:
    ``((from_degrees, hours), …)`` highest first)."""
    monthly_hours: Decimal
    reduction_per_hour: Decimal
    single_hours: Decimal | None = None
    accident_single_hours: Decimal | None = None
    single_hours_by_room_temperature: tuple = ()

    def single_limit(self, accident=False, room_temperature=None):
        if self.single_hours_by_room_temperature:
            if room_temperature is None:
                raise CalculationError(
                    'a heating interruption needs the room temperature')
            for degrees, hours in self.single_hours_by_room_temperature:
                if room_temperature >= degrees:
                    return hours
            return ZERO
        if accident:
            return self.accident_single_hours
        return self.single_hours


@dataclass(slots=True, frozen=True)
class TemperatureLimits:
    "Hot-water temperature rules (Appendix 1 п.5)."
    normative: Decimal
    day_deviation: Decimal
    night_deviation: Decimal
    step_degrees: Decimal
    reduction_per_step_hour: Decimal
    cold_tariff_below: Decimal


@dataclass(slots=True, frozen=True)
class Quality:
    interruptions: dict
    hot_water_temperature: TemperatureLimits


def _decimals(row):
    return {k: Decimal(v) for k, v in row.items()}


def _limits(row):
    bands = tuple(sorted(
        ((Decimal(b['from']), Decimal(b['hours']))
            for b in row.pop('single_hours_by_room_temperature', ())),
        reverse=True))
    return InterruptionLimits(
        **_decimals(row), single_hours_by_room_temperature=bands)


@functools.cache
def quality_limits():
    "The dated Appendix 1 limits shipped in ``engine/data``."
    return _table('service_quality.json', 'service quality limits',
        lambda row: Quality(
            {service: _limits(dict(limits))
                for service, limits in row['interruptions'].items()},
            TemperatureLimits(**_decimals(row['hot_water_temperature']))))


@dataclass(slots=True, frozen=True)
class Interruption:
    "One interruption of a service, in hours."
    hours: Decimal
    accident: bool = False
    room_temperature: Decimal | None = None


def interruption_limits(service, period):
    limits = quality_limits().on(period).interruptions
    if service not in limits:
        raise CalculationError(
            f'no interruption limits for service "{service}"; known: '
            f'{", ".join(sorted(limits))}')
    return limits[service]


def excess_hours(interruptions, limits):
    """Hours beyond the allowed: the larger of the sum of each
    interruption's excess over the single limit and the total's excess
    over the monthly limit."""
    singles = total = ZERO
    for interruption in interruptions:
        require_not_negative(interruption.hours, 'interruption hours')
        limit = limits.single_limit(
            interruption.accident, interruption.room_temperature)
        singles += max(interruption.hours - limit, ZERO)
        total += interruption.hours
    return max(singles, total - limits.monthly_hours, ZERO)


def reduction(period, monthly_charge, share, basis):
    "A delta cutting ``share`` of the month's charge, at most all of it."
    require_not_negative(monthly_charge, 'monthly charge')
    amount = round_money(monthly_charge * min(share, Decimal(1)))
    return Delta(period, -amount, basis=basis)


def interruption(period, service, monthly_charge, interruptions):
    "0.15 % of the month's charge for each excess hour."
    limits = interruption_limits(service, period)
    hours = excess_hours(interruptions, limits)
    return reduction(period, monthly_charge,
        hours * limits.reduction_per_hour,
        {'code': 'interruption', 'excess_hours': hours})


@dataclass(slots=True, frozen=True)
class TemperatureDeviation:
    "Hours during which hot water came at ``temperature`` °C."
    hours: Decimal
    temperature: Decimal
    night: bool = False


def temperature_steps(deviation, limits):
    "Whole steps of 3 °C beyond the allowed deviation."
    if deviation.temperature < limits.cold_tariff_below:
        raise CalculationError(
            f'hot water at {deviation.temperature} °C is below '
            f'{limits.cold_tariff_below} °C: it is billed at the cold-'
            f'water tariff, not reduced by the hour')
    allowed = limits.normative - (limits.night_deviation
        if deviation.night else limits.day_deviation)
    return max((allowed - deviation.temperature) // limits.step_degrees, 0)


def hot_water_temperature(period, monthly_charge, deviations):
    """0.1 % of the month's charge per hour for each 3 °C beyond the
    allowed deviation."""
    limits = quality_limits().on(period).hot_water_temperature
    step_hours = ZERO
    for deviation in deviations:
        require_not_negative(deviation.hours, 'deviation hours')
        step_hours += deviation.hours * temperature_steps(deviation, limits)
    return reduction(period, monthly_charge,
        step_hours * limits.reduction_per_step_hour,
        {'code': 'hot_water_temperature', 'step_hours': step_hours})


def billed_at_cold_tariff(period, volume, billed_amount, cold_tariff):
    "Hot water below 40 °C re-billed at the cold-water tariff."
    amount, _ = priced(volume, cold_tariff)
    return Delta(period, amount - billed_amount, basis={
        'code': 'below_minimum_temperature'})


# Corrected readings and tariff changes (п.61) ------------------------------

def corrected_reading(period, previous, corrected, tariff, billed_volume,
        billed_amount, digits=None):
    "Re-derive the consumption from a corrected reading and re-bill it."
    volume = metered_volume(previous, corrected, digits)
    amount, _ = priced(volume, tariff)
    return Delta(period, amount - billed_amount, volume - billed_volume, {
        'code': 'corrected_reading', 'volume': volume})


def rerated(period, volume, tariffs, billed_amount):
    """Re-rate a month's volume day by day at the tariff valid each day
    (volume × days / days in month per stretch of one tariff, rounded per
    stretch) and return the difference to what was billed."""
    start, stop = calendar.period_range(period)
    parts = []
    for part_start, part_stop in calendar.split(
            start, stop, tariffs.changes()):
        tariff = tariffs.on(part_start)
        amount, _ = priced(
            calendar.prorate(volume, part_start, part_stop), tariff)
        parts.append({'from': part_start,
            'days': (part_stop - part_start).days,
            'tariff': tariff, 'amount': amount})
    total = sum(part['amount'] for part in parts)
    return Delta(period, total - billed_amount, basis={
        'code': 'tariff_change', 'parts': parts})
