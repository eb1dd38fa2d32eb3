"INSERT … RETURNING as python-sql writes it, on SQLite."
import sqlite3

from sql import Conflict, Flavor, Table

from rkc.bulk_insert import execute_returning


def test_returning_on_sqlite_skips_conflicts():
    connection = sqlite3.connect(':memory:')
    connection.execute('CREATE TABLE payment (id INTEGER PRIMARY KEY, '
        'operation_key TEXT UNIQUE, amount TEXT)')
    table = Table('payment')
    previous = Flavor.get()
    Flavor.set(Flavor(paramstyle='qmark'))
    try:
        def insert(key, amount):
            cursor = connection.cursor()
            execute_returning(cursor, table.insert(
                    [table.operation_key, table.amount], [[key, amount]],
                    on_conflict=Conflict(
                        table, indexed_columns=[table.operation_key]),
                    returning=[table.id, table.operation_key]))
            return cursor.fetchall()
        assert insert('op-1', '10.00') == [(1, 'op-1')]
        assert insert('op-1', '99.00') == []
        assert insert('op-2', '5.00') == [(2, 'op-2')]
    finally:
        Flavor.set(previous)
    assert connection.execute(
        'SELECT amount FROM payment ORDER BY id').fetchall() == [
        ('10.00',), ('5.00',)]
