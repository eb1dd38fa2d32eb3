"""The database schema of the high-volume tables: every index costs each
insert its upkeep, so none may be one that another index serves."""
import uuid

import pytest

import town

pytestmark = pytest.mark.postgresql

# Tables that take millions of rows a month at 500,000 accounts.
HIGH_VOLUME = ('rkc_ledger_line', 'rkc_payment', 'rkc_meter_reading')


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    var = tmp_path_factory.mktemp('schema')
    env = town.environment(var)
    name = f'schema_{uuid.uuid4().hex[:8]}'
    town.unbilled(name, 5, env)
    yield name
    town.drop(name)


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


def test_update_drops_the_indexes_left_out(database, tmp_path):
    """A database of an earlier version loses the indexes now left out,
    readings included, though Tryton leaves a table's indexes alone when
    it declares none of its own."""
    town.execute(database,
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
