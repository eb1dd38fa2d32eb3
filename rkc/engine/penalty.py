"""Housing penalties (Housing Code art. 155 part 14, rules.md §3).

Day 1 is the day after the due date; the penalty scale (dated) says which
fraction of the rate applies on each day count. Each part of the debt
accrues until the end of the day it is paid, at the key rate in force on
that day (what is still unpaid: on the calculation date), capped and
suspended by the dated rules of :mod:`.regulations`.

The period's penalty is the exact sum of the unrounded daily amounts,
rounded half-up once. Bands (the rows of the court's debt-and-penalty
table) carry their exact amount and a display amount in kopecks: the
period's penalty apportioned over the bands by largest remainder, so each
display amount is its exact amount rounded up or down and the displayed
bands add up exactly to the period's penalty.
"""
import dataclasses
import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

from .allocation import Payment, PeriodDebt, allocate, apportion
from .calendar import ONE_DAY
from .errors import CalculationError
from .regulations import default_regulations

ZERO = Decimal('0.00')


@dataclasses.dataclass
class Band:
    """Consecutive days with the same fraction, rate and base; during a
    moratorium the exact amount is zero."""
    start: dt.date
    end: dt.date
    denominator: int  # the fraction is 1/denominator of the rate per day
    rate: Decimal  # % per year
    base: Decimal
    moratorium: bool
    exact: Fraction = Fraction(0)
    amount: Decimal = ZERO  # exact, apportioned to kopecks for display

    @property
    def days(self):
        return (self.end - self.start).days + 1


@dataclasses.dataclass(frozen=True)
class PeriodPenalty:
    period: dt.date
    due_date: dt.date
    principal: Decimal
    repayments: tuple[tuple[dt.date, Decimal], ...]
    penalty: Decimal
    bands: tuple[Band, ...]


@dataclasses.dataclass(frozen=True)
class _Portion:
    "A part of the debt that accrues until ``end``, at the rate of that day."
    amount: Decimal
    end: dt.date


def period_penalty(period, principal, repayments, as_of, regulations=None):
    """The penalty on one period's debt of ``principal`` repaid by
    ``repayments`` ((day, amount), adding up to at most the principal),
    calculated on ``as_of``."""
    regulations = regulations or default_regulations()
    due_date = regulations.due_date(period)
    repayments = tuple(sorted(repayments))
    unpaid = principal - sum((amount for _, amount in repayments), ZERO)
    if unpaid < 0:
        raise CalculationError(
            f'the repayments of {period:%Y-%m} exceed its debt')
    portions = [_Portion(amount, day) for day, amount in repayments]
    if unpaid:
        portions.append(_Portion(unpaid, as_of))
    bands = _bands(due_date, portions, regulations)
    exact = sum((band.exact for band in bands), Fraction(0))
    penalty = Decimal(math.floor(exact * 100 + Fraction(1, 2))).scaleb(-2)
    for band, amount in zip(bands, apportion(penalty,
                [band.exact for band in bands]), strict=True):
        band.amount = amount
    return PeriodPenalty(period, due_date, principal, repayments, penalty,
        tuple(bands))


def _bands(due_date, portions, regulations):
    first = due_date + ONE_DAY
    last = max((portion.end for portion in portions), default=due_date)
    changes = regulations.accrual_changes(due_date) | {
        portion.end + ONE_DAY for portion in portions}
    starts = [first, *sorted(day for day in changes if first < day <= last)]
    ends = [start - ONE_DAY for start in starts[1:]] + [last]
    bands, previous = [], {}
    for start, end in zip(starts, ends, strict=True):
        current = {}
        denominator = regulations.penalty_scales.on(start).denominator(
            (start - due_date).days)
        if denominator is None:
            continue
        moratorium = regulations.moratorium(due_date, start) is not None
        bases = {}
        for portion in portions:
            if portion.end >= start:
                rate = regulations.rate(portion.end, start)
                bases[rate] = bases.get(rate, ZERO) + portion.amount
        for rate, base in sorted(bases.items(), reverse=True):
            key = (denominator, rate, base, moratorium)
            band = previous.get(key)
            if band is None:
                band = Band(start, end, *key)
                bands.append(band)
            band.end = end
            if not moratorium:
                band.exact += (Fraction(base) * Fraction(rate)
                    * ((end - start).days + 1) / (100 * denominator))
            current[key] = band
        previous = current
    return bands


def penalties(debts, payments, as_of, regulations=None):
    """Penalties on ``debts`` ({period: {service: amount}}) after
    ``payments`` (allocation.Payment), calculated on ``as_of``.

    Returns the PeriodPenalty of each period (oldest first) and the
    Allocation of the payments.
    """
    regulations = regulations or default_regulations()
    for period in debts:
        if as_of < period:
            raise CalculationError(
                f'the calculation date {as_of} is before debt period '
                f'{period:%Y-%m}')
    for payment in payments:
        if payment.day > as_of:
            raise CalculationError(
                f'the payment of {payment.day} is after the calculation '
                f'date {as_of}')
    allocation = allocate(
        [PeriodDebt(period, regulations.due_date(period), principal)
            for period, principal in debts.items()],
        payments, regulations)
    return [period_penalty(period, sum(principal.values(), ZERO),
                allocation.repayments(period), as_of, regulations)
            for period, principal in sorted(debts.items())], allocation


__all__ = ['Band', 'Payment', 'PeriodPenalty', 'penalties', 'period_penalty']
