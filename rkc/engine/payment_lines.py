"""Payment lines of the subledger (rules.md §3): what a batch of payments
writes, from the sums of their accounts' subledger. Plain data in and out,
nothing read: the registry import runs it in a process of its own.

Each account's payments are allocated together in date order
(:func:`rkc.engine.allocation.allocate`); a penalty paid is spread over the
services that carry it, and what a payment overpays stays an advance on
the period it names (or its month), spread over the services in
proportion to their latest charges.
"""
import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from . import allocation
from .money import read_money

# The part of a payment line in the subledger's key (account, service,
# period, kind, origin, part): what the money paid. A cancellation's line
# reverses part n as part n + REVERSAL.
PRINCIPAL, PENALTY, ADVANCE = 0, 1, 2
REVERSAL = 3
METHODS = {PRINCIPAL: 'principal', PENALTY: 'penalty', ADVANCE: 'advance'}
ZERO = Decimal('0.00')


@dataclasses.dataclass(frozen=True)
class Allocated:
    "The figures of one payment that its allocation needs."
    id: int
    account: int
    centre: int
    date: dt.date
    amount: Decimal
    period: dt.date | None = None


@dataclasses.dataclass
class AccountLedger:
    "An account's subledger balances, as allocation sees them."
    principal: dict = dataclasses.field(
        default_factory=dict)  # (period, service): balance
    penalty: dict = dataclasses.field(
        default_factory=dict)  # (period, service): balance
    charged: dict = dataclasses.field(
        default_factory=dict)  # period: {service: charges}


@dataclasses.dataclass
class LedgerSums:
    """What the allocation of payments reads of their accounts' subledger:
    the balances by account, period and service that are debts, and those
    of each account's latest charged period, as rows (account, period,
    service, principal, penalty, charged), the period and the sums as the
    database returned them (dates or ISO text; Decimal, float or text);
    and the subscribed services of the accounts never charged."""
    rows: list
    subscribed: dict


class AdvanceWithoutService(Exception):
    """An overpayment of an account that has neither charges nor services
    to spread it over; the caller makes it a user error."""

    def __init__(self, amount):
        super().__init__(amount)
        self.amount = amount


def subledger_rows(payments, sums, regulations, moves=None):
    """The payment lines of ``payments`` (Allocated) as subledger rows
    (dicts of the line's columns), from ``sums`` (LedgerSums of their
    accounts); ``moves`` ({centre: move id}) puts each line in the move
    prepared for its centre."""
    by_account = defaultdict(list)
    for payment in payments:
        by_account[payment.account].append(payment)
    ledgers = build_ledgers(sums.rows)
    rows = []
    for account, account_payments in by_account.items():
        rows.extend(_account_rows(account_payments, ledgers[account],
                sums.subscribed.get(account), regulations))
    for row in rows:
        row['move'] = moves[row['centre']] if moves else None
    return rows


def unwritten_sums(rows, account_ids):
    """The sum rows that subledger rows not yet written add, for the
    accounts among ``account_ids``. They must be credits: the sums read
    leave out the balances that are not debts, which a credit cannot make
    one."""
    for row in rows:
        if row['account'] in account_ids:
            amount = row['amount']
            if amount > 0 or row['kind'] == 'charge':
                raise ValueError(
                    f'an unwritten subledger row must be a credit: {row}')
            penalty = row['kind'] == 'penalty' or row['method'] == 'penalty'
            yield (row['account'], row['period'], row['service'],
                None if penalty else amount, amount if penalty else None,
                None)


def build_ledgers(sum_rows):
    "{account: AccountLedger} of sum rows, several per key added up."
    ledgers = defaultdict(AccountLedger)
    for account, period, service, principal, penalty, charged in sum_rows:
        ledger = ledgers[account]
        if isinstance(period, str):  # read as text (see LedgerSums)
            period = dt.date.fromisoformat(period)
        key = (period, service)
        if principal is not None:
            ledger.principal[key] = (
                ledger.principal.get(key, ZERO) + read_money(principal))
        if penalty is not None:
            ledger.penalty[key] = (
                ledger.penalty.get(key, ZERO) + read_money(penalty))
        if charged is not None:
            by_service = ledger.charged.setdefault(period, {})
            by_service[service] = (
                by_service.get(service, ZERO) + read_money(charged))
    return ledgers


def period_debts(ledger, regulations):
    "An account's debts by period (allocation.PeriodDebt), oldest first."
    principal = defaultdict(dict)
    for (period, service), amount in ledger.principal.items():
        if amount > 0:
            principal[period][service] = amount
    penalty = defaultdict(lambda: ZERO)
    for (period, _), amount in ledger.penalty.items():
        if amount > 0:
            penalty[period] += amount
    return [allocation.PeriodDebt(period, regulations.due_date(period),
            principal.get(period, {}), penalty.get(period, ZERO))
        for period in sorted(principal.keys() | penalty.keys())]


def advance_weights(ledger, subscribed):
    """How an advance is spread: the latest charges by service, or the
    subscribed services equally when the account was never charged."""
    if ledger.charged:
        latest = ledger.charged[max(ledger.charged)]
        weights = {s: a for s, a in latest.items() if a > 0}
        if weights:
            return weights
    return {service: 1 for service in subscribed or ()}


def _account_rows(payments, ledger, subscribed, regulations):
    "The subledger rows of one account's payments."
    debts = period_debts(ledger, regulations)
    owed = {debt.period for debt in debts}
    engine_payments = {}
    for payment in payments:
        engine_payments[payment.id] = allocation.Payment(
            payment.date, payment.amount,
            payment.period if payment.period in owed else None)
    by_engine = {id(p): i for i, p in engine_payments.items()}
    result = allocation.allocate(
        debts, list(engine_payments.values()), regulations)
    amounts = defaultdict(Decimal)  # (payment, service, period, part)
    paid = defaultdict(Decimal)
    penalties = {k: a for k, a in ledger.penalty.items() if a > 0}
    for part in result.parts:
        payment = by_engine[id(part.payment)]
        paid[payment] += part.amount
        if not part.is_penalty:
            amounts[payment, part.service, part.period, PRINCIPAL] += (
                part.amount)
            continue
        services = sorted(s for p, s in penalties if p == part.period)
        for service, amount in zip(services, allocation.pro_rata(
                    part.amount,
                    [penalties[part.period, s] for s in services]),
                strict=True):
            penalties[part.period, service] -= amount
            amounts[payment, service, part.period, PENALTY] += amount
    weights = advance_weights(ledger, subscribed)
    for payment in payments:
        advance = payment.amount - paid[payment.id]
        if not advance:
            continue
        if not weights:
            raise AdvanceWithoutService(advance)
        period = (payment.period or payment.date).replace(day=1)
        services = sorted(weights)
        for service, amount in zip(services, allocation.pro_rata(
                    advance, [weights[s] for s in services]), strict=True):
            amounts[payment.id, service, period, ADVANCE] += amount
    centres = {p.id: p.centre for p in payments}
    dates = {p.id: p.date for p in payments}
    return [{
            'account': payments[0].account, 'centre': centres[payment],
            'service': service, 'period': period, 'date': dates[payment],
            'kind': 'payment', 'amount': -amount, 'volume': None,
            'tariff': None, 'excess': None, 'method': METHODS[part],
            'basis': None, 'origin': f'rkc.payment,{payment}',
            'part': part}
        for (payment, service, period, part), amount in amounts.items()
        if amount]
