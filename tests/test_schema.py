"""The database schema of the high-volume tables: every index costs each
insert its upkeep, so none may be one that another index serves, and the
references to reference data are checked once per statement, not per
row."""
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg import errors

from rkc import tryton_job

import town

pytestmark = pytest.mark.postgresql

# Tables that take millions of rows a month at 500,000 accounts.
HIGH_VOLUME = ('rkc_ledger_line', 'rkc_payment', 'rkc_meter_reading')


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    with town.unbilled_town(tmp_path_factory, 'schema', 5) as name:
        yield name


def btree_indexes(database, table):
    """{name: (columns, partial)} of the table's b-tree indexes on plain
    columns (an index on an expression has no entry)."""
    indexes = {}
    for name, columns, partial in town.rows(database, """
            SELECT i.relname,
                array_agg(a.attname ORDER BY k.ordinality),
                x.indpred IS NOT NULL
            FROM pg_index x
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_am m ON m.oid = i.relam
            CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY k(attnum)
            LEFT JOIN pg_attribute a
                ON a.attrelid = t.oid AND a.attnum = k.attnum
            WHERE t.relname = %s AND m.amname = 'btree'
                AND x.indexprs IS NULL
            GROUP BY i.relname, x.indpred""", table):
        indexes[name] = (tuple(columns), partial)
    return indexes


def served_indexes(database, table):
    "{index: another index that serves it} of the table."
    indexes = btree_indexes(database, table)
    return {
        name: other
        for name, (columns, partial) in indexes.items()
        for other, (wider, other_partial) in indexes.items()
        if other != name and not other_partial
        and wider[:len(columns)] == columns
        and (len(wider) > len(columns) or partial)}


@pytest.mark.parametrize('table', HIGH_VOLUME)
def test_no_index_is_served_by_another(database, table):
    assert btree_indexes(database, table)
    assert served_indexes(database, table) == {}


def test_lookups_keep_their_index(database):
    "What the jobs look up by still has an index leading with it."
    leading = {table: {columns[0] for columns, _ in btree_indexes(
                database, table).values()} for table in HIGH_VOLUME}
    assert {'account', 'origin', 'period', 'move'} <= leading[
        'rkc_ledger_line']
    assert {'account', 'agent', 'registry_import', 'shift'} <= leading[
        'rkc_payment']
    assert 'meter' in leading['rkc_meter_reading']


def expression_indexes(database, table):
    "The definitions of the table's indexes on expressions."
    return [definition for definition, in town.rows(database, """
            SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = %s AND x.indexprs IS NOT NULL""", table)]


def test_ledger_lines_have_no_index_to_search_through_origins(database):
    "Payments read their lines by origin; nothing searches through them."
    assert not [d for d in expression_indexes(database, 'rkc_ledger_line')
        if 'origin' in d]
    assert foreign_keys(database, 'rkc_ledger_line') == set()


def test_update_drops_what_is_left_out(database, tmp_path):
    """A database of an earlier version loses the indexes now left out,
    readings included, though Tryton leaves a table's indexes alone when
    it declares none of its own, and the foreign keys that triggers
    replace."""
    town.execute(database,
        ('ALTER TABLE rkc_ledger_line ADD CONSTRAINT '
            'rkc_ledger_line_service_fkey FOREIGN KEY (service) '
            'REFERENCES rkc_service (id) ON DELETE RESTRICT', ()),
        ('CREATE INDEX idx_rkc_meter_reading_meter_old '
            'ON rkc_meter_reading (meter)', ()),
        ('CREATE INDEX idx_rkc_ledger_line_account_old '
            'ON rkc_ledger_line (account)', ()),
        ('CREATE INDEX idx_rkc_ledger_line_origin_old ON rkc_ledger_line '
            "(origin varchar_pattern_ops, (substring(origin from "
            "position(',' in origin) + 1)::integer))", ()))
    assert served_indexes(database, 'rkc_meter_reading')
    town.rkc(database, 'db', 'update', env=town.environment(tmp_path))
    for table in HIGH_VOLUME:
        assert served_indexes(database, table) == {}, table
    assert not [d for d in expression_indexes(database, 'rkc_ledger_line')
        if 'origin' in d]
    assert foreign_keys(database, 'rkc_ledger_line') == set()


def foreign_keys(database, table):
    "The columns of the table that have a foreign key."
    return {column for column, in town.rows(database, """
            SELECT a.attname FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            JOIN pg_attribute a
                ON a.attrelid = t.oid AND a.attnum = ANY (c.conkey)
            WHERE t.relname = %s AND c.contype = 'f'""", table)}


def test_references_to_reference_data_have_no_foreign_key(database):
    """Nor those to accounts, which are never deleted; a cash payment's
    shift keeps its foreign key."""
    assert foreign_keys(database, 'rkc_ledger_line') == set()
    assert foreign_keys(database, 'rkc_payment') == {'shift'}


LINE = """INSERT INTO rkc_ledger_line (account, centre, service, period,
        date, kind, amount, origin, part, move)
    SELECT a.id, a.centre, %s, '2026-05-01', '2026-05-01', 'charge',
        10.00, 'rkc.billing.run,' || %s, 0, %s
    FROM rkc_account a ORDER BY a.id LIMIT %s"""


def some_service(connection):
    return connection.execute(
        'SELECT min(id), max(id) FROM rkc_service').fetchone()


def line_count(connection):
    return connection.execute(
        'SELECT count(*) FROM rkc_ledger_line').fetchone()[0]


@pytest.mark.parametrize('column', ['service', 'centre', 'move', 'account'])
def test_a_statement_referring_to_a_missing_row_is_refused(
        database, column):
    """One line of a statement refers to a row that is not there: none of
    the statement's lines is written."""
    with town.connect(database) as connection:
        first, last = some_service(connection)
        before = line_count(connection)
        connection.execute(LINE, (first, 1, None, 3))
        bad = {'service': (last + 1000, 2, None),
            'centre': (first, 3, None), 'move': (first, 4, 10 ** 9),
            'account': (first, 8, None)}[column]
        statement = {'centre': LINE.replace('a.centre', '-1'),
            'account': LINE.replace('SELECT a.id', 'SELECT a.id + 1000000000'),
            }.get(column, LINE)
        connection.execute('SAVEPOINT bad')
        with pytest.raises(errors.ForeignKeyViolation,
                match=f'rkc_ledger_line.{column} refers to a missing'):
            connection.execute(statement, (*bad, 3))
        connection.execute('ROLLBACK TO SAVEPOINT bad')
        assert line_count(connection) == before + 3
        connection.rollback()


def test_an_update_to_a_missing_row_is_refused(database):
    with town.connect(database) as connection:
        first, _ = some_service(connection)
        connection.execute(LINE, (first, 5, None, 2))
        with pytest.raises(errors.ForeignKeyViolation,
                match='rkc_ledger_line.move refers to a missing'):
            connection.execute('UPDATE rkc_ledger_line SET move = %s '
                "WHERE origin = 'rkc.billing.run,5'", (10 ** 9,))
        connection.rollback()


def test_a_referenced_row_is_not_deleted(database):
    """The service of a line cannot be deleted, not even by SQL; an agent
    that no payment refers to can."""
    with town.connect(database) as connection:
        first, _ = some_service(connection)
        connection.execute(LINE, (first, 6, None, 1))
        connection.execute('SAVEPOINT used')
        with pytest.raises(errors.ForeignKeyViolation,
                match='deleted rkc_service rows are used by '
                'rkc_ledger_line.service'):
            connection.execute(
                'DELETE FROM rkc_service WHERE id = %s', (first,))
        connection.execute('ROLLBACK TO SAVEPOINT used')
        agent, = connection.execute("""
            INSERT INTO rkc_payment_agent (name, code, account, active)
            SELECT 'Unused', 'UNUSED', id, true FROM account_account
            WHERE code = '57' RETURNING id""").fetchone()
        deleted = connection.execute(
            'DELETE FROM rkc_payment_agent WHERE id = %s', (agent,))
        assert deleted.rowcount == 1
        connection.rollback()


def test_an_account_is_never_deleted(database):
    """Not at the desk, even one without a line: it is closed. Nor by SQL
    once a subledger line refers to it."""
    from trytond.pool import Pool

    from rkc_utilities.exceptions import AccountDeletionError

    def delete_unused():
        Account = Pool().get('rkc.account')
        account, = Account.search([], order=[('id', 'DESC')], limit=1)
        Account.delete([account])
    with pytest.raises(AccountDeletionError, match='нельзя удалить'):
        tryton_job.transaction(delete_unused, database=database, user=1)
    with town.connect(database) as connection:
        first, _ = some_service(connection)
        connection.execute(LINE, (first, 9, None, 1))
        with pytest.raises(errors.ForeignKeyViolation,
                match='deleted rkc_account rows are used by '
                'rkc_ledger_line.account'):
            connection.execute("""DELETE FROM rkc_account WHERE id IN (
                    SELECT account FROM rkc_ledger_line
                    WHERE origin = 'rkc.billing.run,9')""")
        connection.rollback()
    assert town.rows(database, 'SELECT count(*) FROM rkc_account') == [(5,)]


def test_an_insert_locks_the_rows_it_refers_to(database):
    """As a foreign key does: until the inserting transaction ends, no
    other one may delete or lock for update the service it refers to."""
    with town.connect(database) as inserting, \
            town.connect(database) as other:
        first, _ = some_service(inserting)
        inserting.execute(LINE, (first, 7, None, 1))
        with pytest.raises(errors.LockNotAvailable):
            other.execute('SELECT id FROM rkc_service WHERE id = %s '
                'FOR UPDATE NOWAIT', (first,))
        other.rollback()
        inserting.rollback()
        other.execute('SELECT id FROM rkc_service WHERE id = %s '
            'FOR UPDATE NOWAIT', (first,))
        other.rollback()


def test_the_subledger_is_partitioned_and_its_indexes_rebuilt(
        database, tmp_path):
    """The subledger is partitioned by period, each partition with the
    table's indexes; trytond-admin --indexes, which builds indexes
    concurrently, a thing PostgreSQL refuses on a partitioned table,
    builds a dropped one again."""
    assert town.rows(database, "SELECT relkind FROM pg_class "
        "WHERE relname = 'rkc_ledger_line'") == [('p',)]
    dropped, = [name for name in btree_indexes(database, 'rkc_ledger_line')
        if name.startswith('idx_')][:1]
    indexes = btree_indexes(database, 'rkc_ledger_line')
    town.execute(database, (f'DROP INDEX "{dropped}"', ()))
    env = dict(town.environment(tmp_path), TRYTOND_DATABASE__URI=town.PG_URI)
    admin = subprocess.run(
        [str(Path(sys.executable).parent / 'trytond-admin'), '-d', database,
            '--indexes'], env=env, capture_output=True, text=True)
    assert admin.returncode == 0, admin.stderr
    assert btree_indexes(database, 'rkc_ledger_line') == indexes
    partitions = town.rows(database, "SELECT c.relname FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'rkc_ledger_line'::regclass")
    assert ('rkc_ledger_line_default',) in partitions
    for partition, in partitions:
        assert len(btree_indexes(database, partition)) == len(indexes)
