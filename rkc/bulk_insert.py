"""Many rows into a PostgreSQL table at COPY speed, optionally skipping
those whose unique key is already there.

COPY is the fastest way in (an order of magnitude above multi-row INSERT,
whose placeholders psycopg must parse) but knows no conflicts; so rows are
copied into a temporary twin of the table and moved with one
``INSERT … SELECT … ON CONFLICT DO NOTHING``.
"""
import re
import sqlite3

from psycopg import sql
from psycopg.errors import UniqueViolation


def copy_insert(cursor, table, columns, rows, conflict, returning=()):
    """Insert ``rows`` (sequences in ``columns`` order) into ``table``;
    rows clashing on the unique ``conflict`` columns are skipped. Returns
    the inserted rows' ``returning`` columns, or their count without."""
    staging = sql.Identifier(f'{table}_in')
    target = sql.Identifier(table)
    column_list = sql.SQL(', ').join(map(sql.Identifier, columns))
    cursor.execute(sql.SQL(
            'CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS '
            'SELECT {} FROM {} WITH NO DATA').format(
            staging, column_list, target))
    with cursor.copy(sql.SQL('COPY {} ({}) FROM STDIN').format(
                staging, column_list)) as copy:
        for row in rows:
            copy.write_row(row)
    statement = sql.SQL(
        'INSERT INTO {} ({}) SELECT {} FROM {} '
        'ON CONFLICT ({}) DO NOTHING').format(
        target, column_list, column_list, staging,
        sql.SQL(', ').join(map(sql.Identifier, conflict)))
    if returning:
        statement += sql.SQL(' RETURNING {}').format(
            sql.SQL(', ').join(map(sql.Identifier, returning)))
    cursor.execute(statement)
    result = cursor.fetchall() if returning else cursor.rowcount
    # The staging table lives as long as the connection: the next batch of
    # the same transaction must not find these rows again.
    cursor.execute(sql.SQL('DELETE FROM {}').format(staging))
    return result


def copy_into(cursor, table, columns, rows):
    """COPY ``rows`` (sequences in ``columns`` order, any iterable: the
    server inserts what it has received while the rest are made) straight
    into ``table``; the number of rows."""
    count = 0
    with cursor.copy(sql.SQL('COPY {} ({}) FROM STDIN').format(
                sql.Identifier(table),
                sql.SQL(', ').join(map(sql.Identifier, columns)))) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def copy_data(cursor, table, columns, text):
    """COPY ``text`` (made by rkc.copy_text.copy_text) into the
    ``columns`` of ``table``; the number of rows."""
    with cursor.copy(sql.SQL('COPY {} ({}) FROM STDIN').format(
                sql.Identifier(table),
                sql.SQL(', ').join(map(sql.Identifier, columns)))) as copy:
        copy.write(text)
    return text.count('\n')


def copy_new(cursor, table, columns, rows, conflict, returning=()):
    """Insert ``rows`` (a list, as for copy_insert) that are new as a rule:
    they are copied straight into ``table`` in a savepoint, and only when
    one clashes on the unique ``conflict`` columns do they go through
    copy_insert, which skips those already there. Returns as copy_insert;
    an ``id`` among ``returning`` is taken from the table's sequence
    before the copy."""
    copied_columns, copied = list(columns), rows
    if 'id' in returning:
        cursor.execute(
            'SELECT nextval(pg_get_serial_sequence(%s, %s)) '
            'FROM generate_series(1, %s)', (table, 'id', len(rows)))
        copied_columns.insert(0, 'id')
        copied = [[id_, *row] for (id_,), row in zip(
                cursor.fetchall(), rows, strict=True)]
    cursor.execute('SAVEPOINT copy_new')
    try:
        count = copy_into(cursor, table, copied_columns, copied)
    except UniqueViolation:
        cursor.execute('ROLLBACK TO SAVEPOINT copy_new')
        cursor.execute('RELEASE SAVEPOINT copy_new')
        return copy_insert(cursor, table, columns, rows, conflict, returning)
    cursor.execute('RELEASE SAVEPOINT copy_new')
    if not returning:
        return count
    positions = [copied_columns.index(c) for c in returning]
    return [tuple(row[i] for i in positions) for row in copied]


def execute_returning(cursor, query):
    """Execute a python-sql ``INSERT … RETURNING`` on PostgreSQL or SQLite.
    python-sql names the returned columns by the table's alias, which
    SQLite refuses (no such column: a.id)."""
    statement, params = tuple(query)
    if isinstance(cursor, sqlite3.Cursor):
        head, returned = statement.split(' RETURNING ', 1)
        statement = head + ' RETURNING ' + re.sub(r'"\w+"\.', '', returned)
    cursor.execute(statement, params)
