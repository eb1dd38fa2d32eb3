"""How a metered service is billed for a period (Decree 354 п.59–60,
rules.md §1): the reading, the average of past months, or the norm.

The limits are a dated :class:`EstimatePolicy` loaded from
``engine/data/estimate_policy.json``.
"""
import datetime as dt
import functools
from dataclasses import dataclass

from .dated import DatedTable
from .reference_data import read_json

# Meter states as the meter register records them.
WORKING = 'working'
FAILED = 'failed'
VERIFICATION_EXPIRED = 'verification_expired'
NO_METER = 'none'
STATES = (WORKING, FAILED, VERIFICATION_EXPIRED, NO_METER)


@dataclass(slots=True, frozen=True)
class EstimatePolicy:
    """Limits of estimated billing.

    Averages need ``history_months`` of history, or
    ``young_meter_history_months`` for a meter younger than that; they
    last at most ``residential_periods`` / ``non_residential_periods``
    in a row for a working meter without a reading, then the norm
    without coefficient; for a failed meter ``failed_meter_periods``,
    then the norm, raised when ``failed_meter_norm_raised``. Between
    ``verification_grace_from`` and ``verification_grace_until``
    (exclusive) an expired verification leaves the meter working.
    """
    history_months: int
    young_meter_history_months: int
    residential_periods: int
    non_residential_periods: int
    failed_meter_periods: int
    failed_meter_norm_raised: bool
    verification_grace_from: dt.date
    verification_grace_until: dt.date


@dataclass(slots=True, frozen=True)
class Estimate:
    """The method chosen for one period: ``'actual'``, ``'average'`` over
    ``months`` or ``'norm'`` (``raised``: with the raising coefficient);
    ``reason`` is a code for the receipt: ``reading``, ``no_reading``,
    ``estimate_limit``, ``short_history``, ``meter_failed``,
    ``no_meter``."""
    method: str
    reason: str
    months: int = 0
    raised: bool = False


def _policy(row):
    dates = ('verification_grace_from', 'verification_grace_until')
    values = {k: v for k, v in row.items() if k != 'from'}
    for key in dates:
        values[key] = dt.date.fromisoformat(values[key])
    return EstimatePolicy(**values)


@functools.cache
def estimate_policies():
    "The dated policy shipped in ``engine/data``."
    return DatedTable(
        [(dt.date.fromisoformat(row['from']), _policy(row))
            for row in read_json('estimate_policy.json')['rows']],
        'estimate policy')


def counts_as_failed(state, day, policy):
    "Whether readings of a meter in this state are refused on ``day``."
    if state == VERIFICATION_EXPIRED:
        return not (policy.verification_grace_from <= day
            < policy.verification_grace_until)
    return state == FAILED


def average_months(history_length, age_months, policy):
    """How many of the latest months to average, or 0 when the history is
    too short for an average."""
    if history_length >= policy.history_months:
        return policy.history_months
    if (age_months < policy.history_months
            and history_length >= policy.young_meter_history_months):
        return history_length
    return 0


def choose(day, state, has_reading, history_length, age_months,
        estimated_in_row, residential, meter_installable, policy):
    """The method for the period containing ``day``; ``estimated_in_row``
    counts the periods already estimated since the last reading."""
    if state == NO_METER:
        return Estimate('norm', 'no_meter', raised=meter_installable)
    failed = counts_as_failed(state, day, policy)
    if has_reading and not failed:
        return Estimate('actual', 'reading')
    if failed:
        limit, reason = policy.failed_meter_periods, 'meter_failed'
    elif residential:
        limit, reason = policy.residential_periods, 'no_reading'
    else:
        limit, reason = policy.non_residential_periods, 'no_reading'
    months = average_months(history_length, age_months, policy)
    if estimated_in_row < limit and months:
        return Estimate('average', reason, months=months)
    if failed:
        return Estimate(
            'norm', reason, raised=policy.failed_meter_norm_raised)
    return Estimate(
        'norm', 'estimate_limit' if months else 'short_history')
