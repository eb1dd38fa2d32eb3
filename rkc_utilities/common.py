# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Pieces shared by several business objects."
import datetime as dt

from psycopg.sql import SQL, Identifier, Literal
from sql import Column, For
from sql.operators import Any

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

from rkc import queue

from .exceptions import OverlapError


class LeanIndexesMixin:
    """Leaves out the indexes that another index or a unique key of the
    table serves. Tryton indexes by itself the column of each reference to
    a model that lists the records (partially, for an optional one); where
    a declared index or a unique key leads with that column, the extra
    index only costs every insert its upkeep, and these tables take
    millions of inserts a month.

    For a reference field Tryton also indexes the referenced id, to search
    the documents by their records (``lines.amount`` on the document);
    a model lists in ``_unsearched_references`` the reference fields that
    nothing searches through, and their index is left out too."""
    __slots__ = ()
    _unsearched_references = ()

    @classmethod
    def __setup_indexes__(cls):
        super().__setup_indexes__()
        keys = [_index_columns(i) for i in cls._sql_indexes
            if not i.options.get('where')]
        keys += [tuple(c.name for c in constraint.columns)
            for _, constraint, _ in cls._sql_constraints
            if isinstance(constraint, Unique)]
        cls._sql_indexes = {i for i in cls._sql_indexes
            if not _served(i, [k for k in keys if k])
            and not _reference_search(i, cls._unsearched_references)}


def _index_columns(index):
    """The column names of a plain index on columns for equality or range
    (which a b-tree on the same leading columns serves); else None."""
    names = []
    for expression, usage in index.expressions:
        if not isinstance(expression, Column) or not isinstance(
                usage, (Index.Equality, Index.Range)):
            return None
        names.append(expression.name)
    return tuple(names)


def _reference_search(index, names):
    "Whether ``index`` is Tryton's search index of a reference in ``names``."
    expression, usage = index.expressions[0]
    return (isinstance(usage, Index.Similarity)
        and isinstance(expression, Column) and expression.name in names)


def _served(index, keys):
    "Whether one of ``keys`` (column tuples, unconditional) serves ``index``."
    columns = _index_columns(index)
    if not columns:
        return False
    partial = bool(index.options.get('where'))
    return any(key[:len(columns)] == columns
        and (len(key) > len(columns) or partial) for key in keys)


class BulkReferencesMixin:
    """Checks the references listed in ``_bulk_references`` once per
    statement instead of once per row. A foreign key runs a query for each
    row a bulk job inserts: on a payment's subledger lines the keys to the
    centre, the service and the move cost as much as the rest of the
    insert. These references get a trigger after each insert or update
    statement that locks the referenced rows (FOR KEY SHARE, as a foreign
    key does) and refuses the statement if one is missing, and a trigger
    after each delete from the referenced table that refuses to delete a
    referenced row. The fields must be RESTRICT: Tryton itself refuses to
    delete a referenced record before it reaches the database.

    Unlike a foreign key, a delete that starts before a concurrent insert
    commits and ends after it is not seen by the delete trigger (it reads
    the snapshot of its transaction); the references listed are to
    reference data or to records of the same transaction, that nothing
    deletes while a job uses them, or to personal accounts, which are
    never deleted (rkc.account refuses it)."""
    __slots__ = ()
    _bulk_references = ()

    @classmethod
    def __table_handler__(cls, module_name=None, history=False):
        handler = super().__table_handler__(module_name, history=history)
        if cls._bulk_references and not history:
            add_fk = type(handler).add_fk

            def add_fk_unless_bulk(columns, *args, **kwargs):
                if columns not in cls._bulk_references:
                    add_fk(handler, columns, *args, **kwargs)
            handler.add_fk = add_fk_unless_bulk
        return handler

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        if backend.name != 'postgresql' or not cls._bulk_references:
            return
        pool = Pool()
        table = cls.__table_handler__(module)
        cursor = Transaction().connection.cursor()
        _install_reference_functions(cursor)
        targets = []
        for name in cls._bulk_references:
            field = cls._fields[name]
            assert field.ondelete == 'RESTRICT', (cls.__name__, name)
            # A database of an earlier version has the foreign key.
            table.drop_fk(name)
            target = pool.get(field.model_name)._table
            targets += [name, target]
            trigger = table.convert_name(f'{cls._table}_{name}_restrict')
            cursor.execute(SQL(
                    'CREATE OR REPLACE TRIGGER {trigger} AFTER DELETE ON '
                    '{target} REFERENCING OLD TABLE AS old_rows '
                    'FOR EACH STATEMENT EXECUTE FUNCTION '
                    'rkc_restrict_delete({table}, {column})').format(
                    trigger=Identifier(trigger),
                    target=Identifier(target),
                    table=Literal(cls._table), column=Literal(name)))
        for event in ('INSERT', 'UPDATE'):
            trigger = table.convert_name(
                f'{cls._table}_references_{event.lower()}')
            cursor.execute(SQL(
                    'CREATE OR REPLACE TRIGGER {trigger} AFTER ' + event
                    + ' ON {table} REFERENCING NEW TABLE AS new_rows '
                    'FOR EACH STATEMENT EXECUTE FUNCTION '
                    'rkc_check_references({arguments})').format(
                    trigger=Identifier(trigger),
                    table=Identifier(cls._table),
                    arguments=SQL(', ').join(map(Literal, targets))))


def _install_reference_functions(cursor):
    """The trigger functions of BulkReferencesMixin: the arguments of
    rkc_check_references are pairs of column and referenced table, those
    of rkc_restrict_delete the referencing table and column."""
    cursor.execute("""
        CREATE OR REPLACE FUNCTION rkc_check_references() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            i integer := 0;
            referenced bigint;
            locked bigint;
        BEGIN
            WHILE i < TG_NARGS LOOP
                EXECUTE format(
                    'SELECT (SELECT count(DISTINCT %1$I) FROM new_rows), '
                    '(SELECT count(*) FROM (SELECT FROM %2$I WHERE id IN '
                    '(SELECT %1$I FROM new_rows) FOR KEY SHARE) AS locked)',
                    TG_ARGV[i], TG_ARGV[i + 1]) INTO referenced, locked;
                IF referenced <> locked THEN
                    RAISE foreign_key_violation USING
                        MESSAGE = format('%s.%s refers to a missing %s row',
                            TG_TABLE_NAME, TG_ARGV[i], TG_ARGV[i + 1]),
                        TABLE = TG_TABLE_NAME, COLUMN = TG_ARGV[i];
                END IF;
                i := i + 2;
            END LOOP;
            RETURN NULL;
        END $$""")
    cursor.execute("""
        CREATE OR REPLACE FUNCTION rkc_restrict_delete() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            referenced boolean;
        BEGIN
            EXECUTE format('SELECT EXISTS (SELECT FROM %I WHERE %I IN '
                '(SELECT id FROM old_rows))', TG_ARGV[0], TG_ARGV[1])
                INTO referenced;
            IF referenced THEN
                RAISE foreign_key_violation USING
                    MESSAGE = format('deleted %s rows are used by %s.%s',
                        TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]),
                    TABLE = TG_ARGV[0], COLUMN = TG_ARGV[1];
            END IF;
            RETURN NULL;
        END $$""")


class DatedMixin:
    """A value valid from a date until another (or further notice).

    Records with the same ``_dated_scope`` fields must not cover the same
    day: a tariff, norm or residents count has exactly one value per day.
    """
    __slots__ = ()
    _dated_scope = ()

    valid_from = fields.Date(
        "Valid From", required=True,
        help="The first day the value applies.")
    valid_to = fields.Date(
        "Valid To",
        domain=[
            If(Bool(Eval('valid_to')),
                ('valid_to', '>=', Eval('valid_from', None)),
                ()),
            ],
        help="The last day the value applies; empty until further notice.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('valid_from', 'DESC'))

    def covers(self, date):
        "Whether the value applies on the date."
        return (self.valid_from <= date
            and (self.valid_to is None or date <= self.valid_to))

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        if field_names is None or field_names & (
                {'valid_from', 'valid_to'} | set(cls._dated_scope)):
            cls.check_overlap(records)

    @classmethod
    def check_overlap(cls, records):
        for record in records:
            domain = [
                ('id', '!=', record.id),
                ['OR',
                    ('valid_to', '=', None),
                    ('valid_to', '>=', record.valid_from),
                    ],
                ]
            if record.valid_to:
                domain.append(('valid_from', '<=', record.valid_to))
            for name in cls._dated_scope:
                value = getattr(record, name)
                domain.append(
                    (name, '=', value.id if hasattr(value, 'id') else value))
            others = cls.search(domain, limit=1)
            if others:
                other, = others
                raise OverlapError(gettext(
                        'rkc_utilities.msg_dated_overlap',
                        record=record.rec_name,
                        other=other.rec_name,
                        start=record.valid_from,
                        end=record.valid_to or '…'))

    def get_rec_name(self, name):
        end = self.valid_to.isoformat() if self.valid_to else '…'
        return f'{self.valid_from.isoformat()} – {end}'


class JobFailureMixin:
    """A batch record whose own jobs (closing it after its chunks,
    invoicing) can fail: rkc.jobs.call records why here, for the desk,
    and clears it when a job of the record succeeds."""
    __slots__ = ()

    failure = fields.Text(
        "Failure", readonly=True,
        help="Why the record's last job failed; Resume runs it again.")


def today():
    return dt.date.today()


def among(column, values):
    """``column`` is one of ``values`` (a list): on PostgreSQL one array
    parameter, as psycopg parses a query with thousands of placeholders
    for longer than the server takes to run it; IN elsewhere (the caller
    keeps the list under backend.MAX_QUERY_PARAMS)."""
    if backend.name == 'postgresql':
        return column == Any(values)
    return column.in_(values)


def queue_after_commit(job, records):
    """Queue the job ``job`` (a dotted path) once per record, when the
    transaction that asks is committed: the job must see what it made."""
    transaction = Transaction()
    transaction.atexit(queue.enqueue_all, job, [
            (transaction.database.name, transaction.user,
                {'company': transaction.context.get('company')}, r.id)
            for r in records])


def queue_call_after_commit(records, method, *args):
    """Queue a job calling the classmethod ``method(record_id, *args)`` of
    the records' model once per record, when the transaction that asks is
    committed."""
    transaction = Transaction()
    transaction.atexit(queue.enqueue_all, 'rkc.jobs.call', [
            (transaction.database.name, transaction.user,
                {'company': transaction.context.get('company')},
                r.__name__, method, r.id, *args)
            for r in records])


def close_when_chunks_done(record, Chunk, unfinished, running, close):
    """Call ``close(record)`` if no chunk matches the domain ``unfinished``
    and the record is still in the state ``running``. The record is locked
    only then: of two chunks finishing at once, one closes it."""
    if Chunk.search(unfinished, limit=1):
        return
    if locked_in_state(record, running):
        close(record)


def locked_in_state(record, state):
    """Lock the record's row, waiting for a job that holds it, and tell
    whether it is still in ``state``.

    Not Tryton's ``lock()``: that restarts the transaction to take the
    lock at its start without waiting, and a closing job restarts again
    for the locks of posting its move. Two workers then took the row from
    each other at every restart, and a billing run of 100,000 accounts
    stayed unclosed for minutes. Waiting here, the second job finds the
    state changed once the first commits."""
    table = record.__table__()
    query = table.select(table.state, where=table.id == record.id)
    if backend.name == 'postgresql':
        query.for_ = For('UPDATE')
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    row = cursor.fetchone()
    return bool(row) and row[0] == state
