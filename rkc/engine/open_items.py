"""An account's open items: what the allocation of a payment reads of its
subledger (rules.md §3), kept folded so that it does not add up years of
settled months for every payment.

The sums are rows (account, period, service, principal, penalty, charged),
one per period and service, the amounts as text or None (see
:class:`rkc.engine.payment_lines.LedgerSums`). The open items of an account
are its rows that are debts (a positive principal or penalty) and those of
its latest charged period, which say how an advance is spread.

A fold is an account's open items at some point; the periods its lines
changed in since say where it is out of date. From a period on, the sums
are read again from the lines, and the fold's rows of the months before
still hold: no line of theirs was written since.
"""
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal


def _date(period):
    "A period as a date (a database may return ISO text)."
    return dt.date.fromisoformat(period) if isinstance(period, str) else period


def _positive(amount):
    return amount is not None and Decimal(amount) > 0


def open_rows(rows):
    """The open items among one account's sum rows (each period and service
    once), by period and service: ordered, so that a tie in a pro rata
    split goes to the same service whatever the database's plan."""
    latest = max((r[1] for r in rows if r[5] is not None), default=None)
    return sorted(
        (r for r in rows
            if r[1] == latest or _positive(r[3]) or _positive(r[4])),
        key=lambda r: (r[1], r[2]))


def merge(folds, read, since):
    """The open items of the accounts, by account, period and service, from
    their ``folds`` ({account: rows}) and the sum rows ``read`` from their
    lines (open rows by account, period and service) of the periods from
    ``since`` ({account: period}, None for all of them) on; a fold holds
    for an account that is not in ``since``."""
    by_account = defaultdict(list)
    for row in read:
        by_account[row[0]].append(row)
    result = []
    for account in sorted(by_account.keys() | folds.keys()):
        if account not in since:
            result.extend(folds[account])
            continue
        rows = by_account.get(account, [])
        start = since[account]
        if start is not None and account in folds:
            # The only rows to add up again: most accounts were read whole
            # or not at all, as the database filtered and ordered them.
            rows = open_rows(
                [r for r in folds[account] if r[1] < start]
                + [(a, _date(p), *rest) for a, p, *rest in rows])
        result.extend(rows)
    return result


def to_read(account_ids, folded, changes):
    """{account: the period its sums are read from the lines from} of the
    accounts: None (all of them) for an account never folded, the earliest
    period ``changes`` ((account, period) pairs) name since its fold; an
    account folded and unchanged is left out."""
    since = {}
    for account, period in changes:
        period = _date(period)
        if account in since:
            since[account] = min(since[account], period)
        else:
            since[account] = period
    for account in account_ids:
        if account not in folded:
            since[account] = None
    return {a: p for a, p in since.items() if a in account_ids}


def earliest_periods(rows):
    """{account: earliest period} of subledger rows (dicts), the change
    that writing them makes to their accounts' open items."""
    earliest = {}
    for row in rows:
        account, period = row['account'], row['period']
        if account not in earliest or period < earliest[account]:
            earliest[account] = period
    return earliest


def unrecorded(earliest, recorded):
    """The changes among ``earliest`` ({account: period}) that the changes
    ``recorded`` before (the same) do not hold already; ``recorded`` takes
    them in. The earliest period is all a change says: a registry's later
    batches of an account record nothing more."""
    new = {account: period for account, period in earliest.items()
        if account not in recorded or period < recorded[account]}
    recorded.update(new)
    return new


def dump(rows):
    "One account's open items as the text a fold keeps."
    return json.dumps([[_date(r[1]).isoformat(), *r[2:]] for r in rows],
        separators=(',', ':'))


def load(account, text):
    "The rows of one account's fold (see dump)."
    return [(account, dt.date.fromisoformat(period), *rest)
        for period, *rest in json.loads(text)]
