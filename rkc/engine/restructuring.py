"""Debt restructuring (rules.md §5): instalment schedules and the Decree
354 p.72 check for bills that rose sharply."""
import dataclasses
import datetime as dt
import functools
from decimal import ROUND_DOWN, Decimal

from .dated import add_months
from .errors import CalculationError
from .keyrate import rate_on
from .money import KOPECK, round_money
from .reference_data import read_json

ZERO = Decimal('0.00')


@dataclasses.dataclass(frozen=True)
class Instalment:
    due: dt.date
    principal: Decimal
    interest: Decimal = ZERO

    @property
    def amount(self):
        return self.principal + self.interest


@dataclasses.dataclass(frozen=True)
class Schedule:
    down_payment: Decimal
    instalments: tuple[Instalment, ...]

    @property
    def total_interest(self):
        return sum((i.interest for i in self.instalments), ZERO)


def due_dates(first_due, months):
    """The same day of each month from ``first_due``, clamped to the end
    of shorter months (31.01 → 28.02 → 31.03)."""
    return [add_months(first_due, n) for n in range(months)]


def equal_parts(amount, months):
    """``months`` equal parts in whole kopecks; the last absorbs the
    kopecks left over, so the parts sum exactly to ``amount``."""
    part = (amount / months).quantize(KOPECK, rounding=ROUND_DOWN)
    return [part] * (months - 1) + [amount - part * (months - 1)]


def schedule(debt, months, first_due, down_payment_share=ZERO,
        annual_rate=None):
    """A down payment of ``down_payment_share`` of the debt, then equal
    monthly parts of the rest; with ``annual_rate`` (% per year) each
    instalment adds the month's interest on the balance before it."""
    if debt <= 0:
        raise CalculationError(f'the debt must be positive, got {debt}')
    if months < 1:
        raise CalculationError(
            f'the schedule needs at least one month, got {months}')
    if not 0 <= down_payment_share < 1:
        raise CalculationError(
            'the down payment share must be at least 0 and below 1, '
            f'got {down_payment_share}')
    if annual_rate is not None and annual_rate < 0:
        raise CalculationError(
            f'the annual rate must not be negative, got {annual_rate}')
    down_payment = round_money(debt * down_payment_share)
    balance = debt - down_payment
    instalments = []
    for due, principal in zip(due_dates(first_due, months),
            equal_parts(balance, months), strict=True):
        interest = ZERO if annual_rate is None else round_money(
            balance * annual_rate / 12 / 100)
        instalments.append(Instalment(due, principal, interest))
        balance -= principal
    return Schedule(down_payment, tuple(instalments))


@dataclasses.dataclass(frozen=True)
class BillRiseRule:
    "Decree 354 p.72 parameters."
    rise_threshold: Decimal
    parts: int
    max_rate_over_key_rate: Decimal


@dataclasses.dataclass(frozen=True)
class BillRiseOffer:
    "The instalments that must be offered: equal parts, rate at most."
    parts: int
    max_annual_rate: Decimal


def load_bill_rise_rule(data=None):
    "The rule from decoded JSON (default: data/bill_rise_instalments.json)."
    data = data or read_json('bill_rise_instalments.json')
    return BillRiseRule(Decimal(data['rise_threshold']), data['parts'],
        Decimal(data['max_rate_over_key_rate']))


@functools.cache
def default_bill_rise_rule():
    return load_bill_rise_rule()


def bill_rise_offer(bill, same_month_last_year, on_date, rule=None,
        key_rates=None):
    """The p.72 offer when ``bill`` rose more than the threshold over the
    same month of last year, else None; the rate cap is the key rate on
    ``on_date`` plus the margin."""
    rule = rule or default_bill_rise_rule()
    if bill < 0 or same_month_last_year < 0:
        raise CalculationError('bills must not be negative')
    if bill <= same_month_last_year * (1 + rule.rise_threshold):
        return None
    return BillRiseOffer(rule.parts,
        rate_on(on_date, key_rates) + rule.max_rate_over_key_rate)
