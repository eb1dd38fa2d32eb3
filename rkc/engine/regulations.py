"""Dated regulatory parameters of housing penalties and payment allocation
(rules.md §3), loaded from ``data/penalty_rules.json``.

A :class:`Regulations` object is passed to the calculations; tests replace
parts of it with :func:`dataclasses.replace` (e.g. no rate cap).
"""
import dataclasses
import datetime as dt
import functools
from decimal import Decimal

from .calendar import ONE_DAY
from .dated import DatedTable, add_months
from .errors import CalculationError
from .keyrate import default_key_rates
from .reference_data import read_json


@dataclasses.dataclass(frozen=True)
class PenaltyScale:
    """Days 1…grace_days after the due date accrue nothing; from each
    ``(from_day, denominator)`` on, 1/denominator of the rate per day."""
    grace_days: int
    fractions: tuple[tuple[int, int], ...]

    def __post_init__(self):
        if not self.fractions or self.fractions[0][0] != self.grace_days + 1:
            raise CalculationError(
                'a penalty scale must start its first fraction on the day '
                'after the grace days')

    def denominator(self, day_number):
        "1/denominator applies on that day after the due date; None: grace."
        current = None
        for from_day, denominator in self.fractions:
            if day_number >= from_day:
                current = denominator
        return current


@dataclasses.dataclass(frozen=True)
class RateCap:
    "On accrual days start…end the rate is at most ``max_rate`` %."
    start: dt.date
    end: dt.date
    max_rate: Decimal


@dataclasses.dataclass(frozen=True)
class Moratorium:
    """No penalty accrues on days start…end (the day count keeps running);
    with ``debts_due_before`` only for debts due before that date."""
    start: dt.date
    end: dt.date
    debts_due_before: dt.date | None = None

    def applies(self, due_date, day):
        return (self.start <= day <= self.end
            and (self.debts_due_before is None
                or due_date < self.debts_due_before))


@dataclasses.dataclass(frozen=True)
class Regulations:
    due_days: DatedTable  # by bill period: day of the following month
    penalty_scales: DatedTable  # by accrual day
    key_rates: DatedTable
    rate_caps: tuple[RateCap, ...]
    moratoria: tuple[Moratorium, ...]
    limitation_years: int

    def due_date(self, period):
        "The last day to pay the bill of ``period`` (its first day)."
        following = add_months(period.replace(day=1), 1)
        return following.replace(day=self.due_days.on(period))

    def rate(self, rate_day, accrual_day):
        """The rate in % per year for an accrual day, the key rate being
        taken on ``rate_day`` (payment day or calculation date)."""
        rate = self.key_rates.on(rate_day)
        for cap in self.rate_caps:
            if cap.start <= accrual_day <= cap.end:
                rate = min(rate, cap.max_rate)
        return rate

    def moratorium(self, due_date, day):
        "The moratorium covering ``day`` for a debt due then, or None."
        for moratorium in self.moratoria:
            if moratorium.applies(due_date, day):
                return moratorium
        return None

    def accrual_changes(self, due_date):
        """The days on which something that depends on the accrual day may
        change for a debt due on ``due_date``: fraction thresholds, scale
        changes, caps and moratoria starting or ending."""
        days = set(self.penalty_scales.changes())
        for scale in self.penalty_scales.values():
            days.add(due_date + dt.timedelta(days=scale.grace_days + 1))
            days.update(due_date + dt.timedelta(days=from_day)
                for from_day, _ in scale.fractions)
        for span in (*self.rate_caps, *self.moratoria):
            days.update((span.start, span.end + ONE_DAY))
        return days

    def limitation_end(self, due_date):
        "The last day of the limitation period of a debt due then."
        return add_months(due_date, 12 * self.limitation_years)


def _date(text):
    return dt.date.fromisoformat(text) if text else None


def load_regulations(data=None, key_rates=None):
    "Regulations from decoded JSON (default: data/penalty_rules.json)."
    data = data or read_json('penalty_rules.json')
    return Regulations(
        due_days=DatedTable(
            [(_date(row['bills_from'] + '-01'),
                    row['day_of_following_month'])
                for row in data['due_day']],
            'due-date rule'),
        penalty_scales=DatedTable(
            [(_date(row['from']), PenaltyScale(row['grace_days'],
                        tuple((f['from_day'], f['denominator'])
                            for f in row['fractions'])))
                for row in data['penalty_scale']],
            'penalty scale'),
        key_rates=key_rates or default_key_rates(),
        rate_caps=tuple(
            RateCap(_date(row['from']), _date(row['to']),
                Decimal(row['max_rate_percent']))
            for row in data['rate_caps']),
        moratoria=tuple(
            Moratorium(_date(row['from']), _date(row['to']),
                _date(row['debts_due_before']))
            for row in data['moratoria']),
        limitation_years=data['limitation_years'])


@functools.cache
def default_regulations():
    return load_regulations()
