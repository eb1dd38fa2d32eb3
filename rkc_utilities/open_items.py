# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The open items of each account's subledger, folded nightly, and the
periods its lines changed in since (rkc.engine.open_items): a payment reads
the months that changed, not the account's whole history."""
import datetime as dt
from collections import defaultdict

from sql import Cast, Null, Union, Window
from sql.aggregate import Max, Sum
from sql.conditionals import Case, Coalesce
from sql.operators import NotIn

from trytond import backend
from trytond.model import Index, ModelSQL, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from rkc.bulk_insert import copy_into
from rkc.engine import open_items

from .common import BulkReferencesMixin, LeanIndexesMixin, among


class OpenItems(BulkReferencesMixin, LeanIndexesMixin, ModelSQL):
    __name__ = 'rkc.ledger.open_items'
    _bulk_references = ('account',)

    account = fields.Many2One(
        'rkc.account', "Account", required=True, readonly=True,
        ondelete='RESTRICT')
    items = fields.Text(
        "Items", required=True, readonly=True,
        help="The account's debts by period and service and its latest "
        "charged period, when they were last folded (JSON).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('account_unique', Unique(t, t.account),
                'rkc_utilities.msg_open_items_account_unique'),
            ]

    @classmethod
    def sum_rows(cls, account_ids):
        """The open items of the accounts as sum rows (see
        rkc.engine.open_items), ordered by account, period and service."""
        return cls._read(account_ids)[0]

    @classmethod
    def _read(cls, account_ids):
        """The accounts' open items and the ids of the changes they count
        in."""
        Change = Pool().get('rkc.ledger.open_items.change')
        account_ids = set(account_ids)
        folds = cls._folds(account_ids)
        change_ids, changes = Change.of_accounts(account_ids)
        since = open_items.to_read(account_ids, folds, changes)
        by_start = defaultdict(list)
        for account, start in since.items():
            by_start[start].append(account)
        read = []
        for start, accounts in by_start.items():
            read.extend(_line_sums(sorted(accounts), start))
        return open_items.merge(folds, read, since), change_ids

    @classmethod
    def _folds(cls, account_ids):
        "{account: rows} of the folds of the accounts that have one."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        folds = {}
        for ids in grouped_slice(sorted(account_ids),
                backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(table.account, table.items,
                    where=among(table.account, list(ids))))
            for account, text in cursor:
                folds[account] = open_items.load(account, text)
        return folds

    @classmethod
    def fold(cls, account_ids):
        """Fold the open items of the accounts: their changes are counted
        in, and their sums read from the fold alone until they change
        again."""
        Change = Pool().get('rkc.ledger.open_items.change')
        account_ids = sorted(set(account_ids))
        rows, change_ids = cls._read(account_ids)
        by_account = defaultdict(list)
        for row in rows:
            by_account[row[0]].append(row)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for ids in grouped_slice(account_ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.delete(
                    where=among(table.account, list(ids))))
        _insert(cls, ['account', 'items'],
            [(a, open_items.dump(by_account[a])) for a in account_ids])
        Change.forget(change_ids)

    @classmethod
    def fold_changed(cls, batch=2000):
        """Fold the accounts changed since their fold, and those never
        folded (ir.cron, nightly: the day's payments then read only the
        months changed after it)."""
        pool = Pool()
        Account = pool.get('rkc.account')
        Change = pool.get('rkc.ledger.open_items.change')
        account = Account.__table__()
        change = Change.__table__()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*Union(
                change.select(change.account, group_by=[change.account]),
                account.select(account.id,
                    where=NotIn(account.id, table.select(table.account)))))
        accounts = sorted(a for a, in cursor)
        for ids in grouped_slice(accounts, batch):
            cls.fold(list(ids))


class OpenItemsChange(BulkReferencesMixin, LeanIndexesMixin, ModelSQL):
    __name__ = 'rkc.ledger.open_items.change'
    _bulk_references = ('account',)

    account = fields.Many2One(
        'rkc.account', "Account", required=True, readonly=True,
        ondelete='RESTRICT')
    period = fields.Date(
        "Period", required=True, readonly=True,
        help="The earliest period of the lines written to the account's "
        "subledger since its open items were folded.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # A payment reads the changes of its account.
        cls._sql_indexes.add(Index(t, (t.account, Index.Range())))

    @classmethod
    def record(cls, earliest):
        """Record the changes {account: earliest period} that lines written
        make to their accounts' open items."""
        _insert(cls, ['account', 'period'], list(earliest.items()))

    @classmethod
    def of_accounts(cls, account_ids):
        "The ids and the (account, period) of the accounts' changes."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids, changes = [], []
        for accounts in grouped_slice(sorted(account_ids),
                backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(table.id, table.account,
                    table.period, where=among(table.account, list(accounts))))
            for id_, account, period in cursor:
                ids.append(id_)
                changes.append((account, period))
        return ids, changes

    @classmethod
    def forget(cls, ids):
        "Delete the changes counted into a fold."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for sub_ids in grouped_slice(sorted(ids), backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.delete(
                    where=among(table.id, list(sub_ids))))


def _insert(Model, columns, values):
    "Insert ``values`` (tuples in ``columns`` order) into Model's table."
    if not values:
        return
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    now = dt.datetime.now()
    values = [(*v, transaction.user, now) for v in values]
    columns = [*columns, 'create_uid', 'create_date']
    if backend.name == 'postgresql':
        copy_into(cursor, Model._table, columns, values)
        return
    table = Model.__table__()
    sql, _ = tuple(table.insert([getattr(table, c) for c in columns],
            values=[[None] * len(columns)]))
    cursor.executemany(sql, values)


def _line_sums(account_ids, start):
    """The accounts' subledger summed by the database to one row per
    period and service (an account's history has several lines for each),
    from the period ``start`` on (all of them for None): (account, period,
    service, principal, penalty, charged). Only the rows that the
    allocation reads are returned (rkc.engine.open_items.open_rows) of the
    periods read: a debt, and the latest charged period among them."""
    Line = Pool().get('rkc.ledger.line')
    line = Line.__table__()
    cursor = Transaction().connection.cursor()
    # Penalties and the payments of them are a balance apart (a line
    # without a method is not one: the coalesce keeps NULL out of NOT).
    is_penalty = ((line.kind == 'penalty')
        | (Coalesce(line.method, '') == 'penalty'))

    def total(condition):
        return Sum(Case((condition, line.amount), else_=Null))
    rows = []
    for ids in grouped_slice(account_ids, backend.MAX_QUERY_PARAMS):
        where = among(line.account, list(ids))
        if start is not None:
            where &= line.period >= start
        sums = line.select(
            line.account, line.period, line.service,
            total(~is_penalty).as_('principal'),
            total(is_penalty).as_('penalty'),
            total(line.kind == 'charge').as_('charged'),
            where=where,
            group_by=[line.account, line.period, line.service])
        latest = sums.select(
            sums.account, sums.period, sums.service, sums.principal,
            sums.penalty, sums.charged,
            Max(sums.period, filter_=sums.charged != Null,
                window=Window([sums.account])).as_('latest'))
        # The sums as text: a registry import sends them to its allocation
        # process, and text pickles twenty times faster than Decimal
        # (build_ledgers reads either). Ordered as open_rows orders them.
        cursor.execute(*latest.select(
                latest.account, latest.period, latest.service,
                Cast(latest.principal, 'TEXT'), Cast(latest.penalty, 'TEXT'),
                Cast(latest.charged, 'TEXT'),
                where=(latest.principal > 0) | (latest.penalty > 0)
                | (latest.period == latest.latest),
                order_by=[latest.account, latest.period, latest.service]))
        rows.extend(cursor)
    return rows


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('rkc.ledger.open_items|fold_changed',
                "Fold the Subledger's Open Items"))
