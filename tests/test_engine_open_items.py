"""Open items (rkc.engine.open_items): a fold and the periods changed since
give what the whole history gives, whatever lines come after the fold."""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from rkc.engine import open_items

D = Decimal
MONTHS = [dt.date(2026, m, 1) for m in range(1, 7)]
APRIL, MAY, JUNE = MONTHS[3:]
HEAT, WATER = 1, 2


def sum_rows(lines, start=None):
    """What the database returns (rkc_utilities.open_items._line_sums) for
    ``lines`` (account, period, service, kind, amount) from ``start`` on."""
    sums = defaultdict(lambda: [None, None, None])
    for account, period, service, kind, amount in lines:
        if start is not None and period < start:
            continue
        key = (account, period, service)
        column = 1 if kind == 'penalty' else 0
        sums[key][column] = (sums[key][column] or 0) + amount
        if kind == 'charge':
            sums[key][2] = (sums[key][2] or 0) + amount
    by_account = defaultdict(list)
    for (account, period, service), values in sums.items():
        by_account[account].append((account, period, service, *(
                    None if v is None else str(v) for v in values)))
    return [row for rows in by_account.values()
        for row in open_items.open_rows(rows)]


def whole(lines):
    "The open items read from every line."
    accounts = {line[0] for line in lines}
    return open_items.merge({}, sum_rows(lines), dict.fromkeys(accounts))


def folded(lines):
    "{account: rows} of a fold of ``lines``, through its stored text."
    by_account = defaultdict(list)
    for row in whole(lines):
        by_account[row[0]].append(row)
    return {account: open_items.load(account, open_items.dump(rows))
        for account, rows in by_account.items()}


def read(folds, lines, later):
    """The open items of the accounts of ``lines`` from ``folds`` and the
    changes that ``later`` (lines written after the fold) recorded."""
    accounts = {line[0] for line in lines}
    changes = open_items.earliest_periods(
        {'account': line[0], 'period': line[1]} for line in later)
    since = open_items.to_read(accounts, folds, changes.items())
    read = [row for start in set(since.values())
        for row in sum_rows([line for line in lines
                if since.get(line[0], 'unread') == start], start)]
    return open_items.merge(folds, read, since)


def test_open_items_are_debts_and_the_latest_charged_period():
    rows = [
        (7, APRIL, HEAT, '100.00', None, '100.00'),
        (7, APRIL, WATER, '0.00', None, '50.00'),
        (7, MAY, HEAT, '-5.00', '2.50', '100.00'),
        (7, MAY, WATER, '-20.00', None, '50.00'),
        (7, JUNE, HEAT, '-30.00', None, None),
        ]
    assert open_items.open_rows(list(reversed(rows))) == [
        rows[0], rows[2], rows[3]]


def test_a_fold_holds_before_the_earliest_change_and_is_read_after():
    lines = [
        (7, APRIL, HEAT, 'charge', D('100.00')),
        (7, APRIL, HEAT, 'payment', D('-100.00')),
        (7, MAY, HEAT, 'charge', D('80.00')),
        (8, MAY, WATER, 'charge', D('10.00')),
        ]
    folds = folded(lines)
    assert folds == {
        7: [(7, MAY, HEAT, '80.00', None, '80.00')],
        8: [(8, MAY, WATER, '10.00', None, '10.00')]}
    # April is paid back (a cancelled payment) and June is charged.
    later = [(7, APRIL, HEAT, 'payment', D('100.00')),
        (7, JUNE, HEAT, 'charge', D('90.00'))]
    assert read(folds, lines + later, later) == whole(lines + later) == [
        (7, APRIL, HEAT, '100.00', None, '100.00'),
        (7, MAY, HEAT, '80.00', None, '80.00'),
        (7, JUNE, HEAT, '90.00', None, '90.00'),
        (8, MAY, WATER, '10.00', None, '10.00')]


def test_an_account_never_folded_is_read_whole_and_one_unchanged_not():
    assert open_items.to_read({7, 8, 9}, {7: [], 8: []},
        [(8, '2026-05-01'), (8, APRIL), (10, APRIL)]) == {
        8: APRIL, 9: None}


def test_the_text_of_a_fold_keeps_each_value():
    rows = [(7, APRIL, HEAT, '-0.10', None, '12.34'),
        (7, MAY, WATER, None, '1.00', None)]
    assert open_items.load(7, open_items.dump(rows)) == rows
    assert open_items.load(7, open_items.dump([])) == []


LINES = st.lists(st.tuples(
        st.sampled_from([7, 8]), st.sampled_from(MONTHS),
        st.sampled_from([HEAT, WATER]),
        st.sampled_from(['charge', 'payment', 'penalty', 'recalculation']),
        st.decimals(min_value=-200, max_value=200, places=2)),
    max_size=30)


@settings(max_examples=300, deadline=None)
@given(before=LINES, after=LINES, second=LINES)
def test_folds_and_changes_read_as_the_whole_history(before, after, second):
    # Lines in any period after a fold, then again after a second fold.
    folds = folded(before)
    assert read(folds, before + after, after) == whole(before + after)
    folds = folded(before + after)
    everything = before + after + second
    assert read(folds, everything, second) == whole(everything)


def test_a_change_recorded_before_in_the_transaction_is_not_again():
    recorded = {7: MAY}
    assert open_items.unrecorded({7: JUNE, 8: JUNE}, recorded) == {8: JUNE}
    assert open_items.unrecorded({7: APRIL, 8: JUNE}, recorded) == {7: APRIL}
    assert recorded == {7: APRIL, 8: JUNE}
