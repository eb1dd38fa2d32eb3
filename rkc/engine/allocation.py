"""Payment allocation (rules.md §3; Supreme Court Plenum 22 of 27.06.2017
p.32): a payment goes to the period it names; otherwise (and with what is
left) to the oldest debt not yet time-barred, principal before penalties;
within a period pro rata across services. What is left stays an advance.
"""
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from .errors import CalculationError
from .money import kopecks

ZERO = Decimal('0.00')


def apportion(total, shares):
    """Split ``total`` (whole kopecks, not negative) into kopeck parts close
    to the exact ``shares`` (Decimal or Fraction) that add up to about it:
    each share rounded down, the missing kopecks to the largest remainders
    (the earlier share on a tie). The parts sum exactly to ``total``."""
    exact = [Fraction(share) * 100 for share in shares]
    parts = [math.floor(share) for share in exact]
    missing = kopecks(total) - sum(parts)
    if not 0 <= missing <= len(parts):
        raise CalculationError(
            f'cannot split {total} into parts close to the shares')
    by_remainder = sorted(range(len(parts)),
        key=lambda i: (parts[i] - exact[i], i))
    for i in by_remainder[:missing]:
        parts[i] += 1
    return [Decimal(part).scaleb(-2) for part in parts]


def pro_rata(total, weights):
    "Split ``total`` in proportion to ``weights``, to the kopeck exactly."
    integers = _common_integers(weights)
    if integers is None:
        whole = sum(Fraction(weight) for weight in weights)
        if not whole:
            return _nothing_to_split(total, weights)
        return apportion(total, [Fraction(total) * Fraction(weight) / whole
                for weight in weights])
    # The same largest-remainder split in integers: a payment registry
    # splits hundreds of thousands of payments, and Fractions cost most.
    whole = sum(integers)
    if not whole:
        return _nothing_to_split(total, weights)
    if whole < 0:
        integers, whole = [-i for i in integers], -whole
    amount = kopecks(total)
    divided = [divmod(amount * weight, whole) for weight in integers]
    parts = [quotient for quotient, _ in divided]
    missing = amount - sum(parts)
    if not 0 <= missing <= len(parts):
        raise CalculationError(
            f'cannot split {total} into parts close to the shares')
    for i in sorted(range(len(parts)),
            key=lambda i: (-divided[i][1], i))[:missing]:
        parts[i] += 1
    return [Decimal(part).scaleb(-2) for part in parts]


def _nothing_to_split(total, weights):
    if kopecks(total):
        raise CalculationError(
            f'cannot split {total} in proportion to nothing')
    return [ZERO for _ in weights]


def _common_integers(weights):
    """Integer (and Decimal) weights scaled by one common factor to
    integers, or None for other kinds of numbers."""
    ratios = []
    for weight in weights:
        if not isinstance(weight, (int, Decimal)) or (
                isinstance(weight, Decimal) and not weight.is_finite()):
            return None
        ratios.append(weight.as_integer_ratio())
    scale = math.lcm(*[denominator for _, denominator in ratios])
    return [numerator * (scale // denominator)
        for numerator, denominator in ratios]


@dataclasses.dataclass(frozen=True)
class PeriodDebt:
    "What is owed for one billing period (its first day)."
    period: dt.date
    due_date: dt.date
    principal: Mapping[str, Decimal]  # by service
    penalty: Decimal = ZERO


@dataclasses.dataclass(frozen=True)
class Payment:
    day: dt.date
    amount: Decimal
    period: dt.date | None = None  # the period the payer named


@dataclasses.dataclass(frozen=True)
class Part:
    "The share of one payment that went to one period's service or penalty."
    payment: Payment
    period: dt.date
    service: str | None  # None for the penalty
    amount: Decimal

    @property
    def is_penalty(self):
        return self.service is None


@dataclasses.dataclass(frozen=True)
class Allocation:
    parts: tuple[Part, ...]
    advance: Decimal

    def repayments(self, period):
        "(day, amount) of principal paid for ``period``, one per payment."
        paid = {}
        for part in self.parts:
            if part.period == period and not part.is_penalty:
                key = (part.payment.day, id(part.payment))
                paid[key] = paid.get(key, ZERO) + part.amount
        return [(day, amount) for (day, _), amount in paid.items()]


def allocate(debts, payments, regulations):
    """Allocate ``payments`` (in date order) to ``debts`` (PeriodDebt);
    ``regulations`` gives the limitation period."""
    owed = {}
    for debt in debts:
        if debt.period in owed:
            raise CalculationError(
                f'period {debt.period:%Y-%m} is listed twice')
        if None in debt.principal:
            raise CalculationError(
                f'the debt for {debt.period:%Y-%m} has a service without '
                'a name')
        if any(amount < 0 for amount in debt.principal.values()) \
                or debt.penalty < 0:
            raise CalculationError(
                f'the debt for {debt.period:%Y-%m} is negative')
        # Principal by service, the penalty under None.
        owed[debt.period] = {**debt.principal, None: debt.penalty}
    # (period, last day of its limitation period), oldest first
    oldest_first = sorted((debt.period,
            regulations.limitation_end(debt.due_date)) for debt in debts)
    parts = []
    advance = ZERO
    for payment in sorted(payments, key=lambda payment: payment.day):
        if payment.amount <= 0:
            raise CalculationError(
                f'the payment of {payment.day} must be positive, '
                f'got {payment.amount}')
        left = payment.amount
        if payment.period is not None:
            if payment.period not in owed:
                raise CalculationError(
                    f'the payment of {payment.day} names period '
                    f'{payment.period:%Y-%m}, which has no debt')
            for penalty in (False, True):
                left = _pay(owed, payment.period, penalty, left, payment,
                    parts)
        in_time = [period for period, limitation_end in oldest_first
            if payment.day <= limitation_end]
        for penalty in (False, True):
            for period in in_time:
                if not left:
                    break
                left = _pay(owed, period, penalty, left, payment, parts)
        advance += left
    return Allocation(tuple(parts), advance)


def _pay(owed, period, penalty, left, payment, parts):
    """Pay the principal (pro rata across services) or the penalty of one
    period from ``left``; record the parts and return what is left."""
    balance = owed[period]
    services = [s for s in balance if (s is None) == penalty and balance[s]]
    paid = min(left, sum((balance[s] for s in services), ZERO))
    if not paid:
        return left
    for service, amount in zip(services,
            pro_rata(paid, [balance[s] for s in services]), strict=True):
        if amount:
            balance[service] -= amount
            parts.append(Part(payment, period, service, amount))
    return left - paid
