"""Judging a remote reading against the meter's last valid one.

Pure: plain values in, a :class:`Verdict` out. Reason codes are stable
strings that the desk translates.
"""
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources

VALID = 'valid'
REVIEW = 'review'
REJECTED = 'rejected'

ROLLOVER = 'rollover'
NEGATIVE = 'negative'
SPIKE = 'spike'
SERIAL_MISMATCH = 'serial_mismatch'
STALE = 'stale'
METER_ERROR = 'meter_error'

SECONDS_PER_DAY = Decimal(86400)


@dataclass(frozen=True)
class Rules:
    "Plausibility limits; see data/validation.json for the defaults."
    # Largest plausible consumption per meter and day, by service code.
    spike_per_day: dict
    # An unchanged counter for this many months is flagged.
    stale_months: int
    # Status word bits that mean the meter itself reports a fault.
    status_error_mask: int


def load_rules(path=None):
    "The validation rules from JSON (default: the bundled ones)."
    if path is None:
        text = resources.files('rkc.metering').joinpath(
            'data/validation.json').read_text()
    else:
        with open(path) as file:
            text = file.read()
    data = json.loads(text)
    return Rules(
        spike_per_day={
            service: Decimal(limit)
            for service, limit in data['spike_per_day'].items()},
        stale_months=data['stale_months'],
        status_error_mask=data['status_error_mask'])


@dataclass(frozen=True)
class Meter:
    serial: str
    service: str
    # Integer digits of the display: the counter wraps at 10 ** digits.
    digits: int


@dataclass(frozen=True)
class Previous:
    "The last valid reading and since when its values have not changed."
    values: tuple
    read_at: datetime
    unchanged_since: datetime


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str | None
    # Consumption per zone since the previous reading, None without one.
    consumption: tuple | None = None


def validate(meter, values, status, serial, read_at, previous, rules):
    """The verdict on ``values`` (per zone, in the meter's units) read at
    ``read_at`` with ``status`` and ``serial``."""
    if serial != meter.serial:
        return Verdict(REJECTED, SERIAL_MISMATCH)
    if status & rules.status_error_mask:
        return Verdict(REVIEW, METER_ERROR)
    if previous is None:
        return Verdict(VALID, None)
    if len(values) != len(previous.values):
        raise ValueError(
            f'{len(values)} zones read, the previous reading has '
            f'{len(previous.values)}')
    try:
        limit = rules.spike_per_day[meter.service]
    except KeyError:
        raise ValueError(
            f'no plausibility limit for service {meter.service!r}') from None
    days = max(
        Decimal((read_at - previous.read_at).total_seconds())
        / SECONDS_PER_DAY, Decimal(1))
    plausible = limit * days
    modulus = Decimal(10) ** meter.digits
    consumption = []
    wrapped = False
    for value, before in zip(values, previous.values, strict=True):
        delta = value - before
        if delta < 0:
            # A counter that passed its last digit starts again from zero.
            if delta + modulus > plausible:
                return Verdict(REVIEW, NEGATIVE)
            delta += modulus
            wrapped = True
        consumption.append(delta)
    consumption = tuple(consumption)
    if sum(consumption) > plausible:
        return Verdict(REVIEW, SPIKE, consumption)
    if not any(consumption) and _months_between(
            previous.unchanged_since, read_at) >= rules.stale_months:
        return Verdict(REVIEW, STALE, consumption)
    return Verdict(VALID, ROLLOVER if wrapped else None, consumption)


def _months_between(start, end):
    "Whole calendar months from ``start`` to ``end``."
    months = (end.year - start.year) * 12 + end.month - start.month
    if (end.day, end.time()) < (start.day, start.time()):
        months -= 1
    return months
