"""Bulk, idempotent storing of meter readings and poll summaries with plain
SQL on a DB-API connection (psycopg 3 or sqlite3, as Tryton's backends use).

A reading is unique per (meter, read_at): storing the same poll slot again
inserts nothing twice. The caller owns the transaction.
"""
import sqlite3
from datetime import datetime
from decimal import Decimal

from rkc.bulk_insert import copy_new

from .registers import MeterModel

READING_COLUMNS = (
    'meter', 'read_at', 'value', 'value_t2', 'value_t3', 'source', 'state',
    'reason', 'poll', 'create_uid', 'create_date')
_COLUMN_LIST = ', '.join(READING_COLUMNS)

# A meter model's register map as stored, in MeterModel's order, for
# queries that join rkc_meter_model as ``o``.
MODEL_COLUMNS = ', '.join(f'o.{column}' for column in (
    'name', 'register_kind', 'value_address', 'zones', 'word_order',
    'scale', 'status_address', 'serial_address', 'read_gap'))


def meter_model(row):
    "The MeterModel of a row of MODEL_COLUMNS."
    (name, kind, value_address, zones, word_order, scale, status_address,
        serial_address, read_gap) = row
    return MeterModel(name, kind, value_address, zones, word_order,
        Decimal(str(scale)), status_address, serial_address, read_gap or 0)


# The module's tables as far as metering uses them, with the index the
# poll finds meters by, for benchmarks and tests that run without Tryton.
SCHEMA = '''
CREATE TABLE rkc_centre (id {id}, code INTEGER);
CREATE TABLE rkc_building (id {id}, centre INTEGER);
CREATE TABLE rkc_premise (id {id}, building INTEGER);
CREATE TABLE rkc_service (id {id}, code VARCHAR);
CREATE TABLE rkc_meter_model (
    id {id}, name VARCHAR, register_kind VARCHAR, value_address INTEGER,
    zones INTEGER, word_order VARCHAR, scale NUMERIC,
    status_address INTEGER, serial_address INTEGER, read_gap INTEGER);
CREATE TABLE rkc_meter (
    id {id}, serial VARCHAR, model INTEGER, service INTEGER,
    premise INTEGER, building INTEGER, installed_on DATE, digits INTEGER,
    zones INTEGER, modbus_host VARCHAR, modbus_port INTEGER,
    modbus_unit INTEGER, state VARCHAR);
CREATE TABLE rkc_meter_poll (
    id {id}, started_at TIMESTAMP, finished_at TIMESTAMP, scope VARCHAR,
    read_count INTEGER, failed_count INTEGER, rejected_count INTEGER,
    review_count INTEGER, state VARCHAR, summary TEXT, create_uid INTEGER,
    create_date TIMESTAMP);
CREATE TABLE rkc_meter_reading (
    id {id}, meter INTEGER, read_at TIMESTAMP, value NUMERIC,
    value_t2 NUMERIC, value_t3 NUMERIC, source VARCHAR, state VARCHAR,
    reason VARCHAR, poll INTEGER, create_uid INTEGER,
    create_date TIMESTAMP, UNIQUE (meter, read_at));
CREATE INDEX rkc_meter_gateway ON rkc_meter (modbus_host, modbus_port);
'''


# Bound parameters a statement of SQLite's default build may take (on
# PostgreSQL, long lists go as one array).
MAX_PARAMETERS = 32766


def is_sqlite(connection):
    return isinstance(connection, sqlite3.Connection)


def sql(connection, query):
    "``query`` written with %s placeholders in the connection's style."
    return query.replace('%s', '?') if is_sqlite(connection) else query


def create_tables(connection):
    "Create the metering tables in an empty scratch database."
    identity = ('INTEGER PRIMARY KEY AUTOINCREMENT' if is_sqlite(connection)
        else 'SERIAL PRIMARY KEY')
    cursor = connection.cursor()
    for statement in SCHEMA.format(id=identity).split(';'):
        if statement.strip():
            cursor.execute(statement)


def store_readings(connection, rows):
    """Insert readings, a list of tuples in READING_COLUMNS order (read
    twice if a rerun clashes), skipping any (meter, read_at) already
    stored; return how many were inserted."""
    if not rows:
        return 0
    if is_sqlite(connection):
        return _store_sqlite(connection, rows)
    return _store_postgresql(connection, rows)


def _store_postgresql(connection, rows):
    # A slot is stored once as a rule; a rerun's clash with what is there
    # sends the rows through a staging table that skips what is stored.
    with connection.cursor() as cursor:
        return copy_new(cursor, 'rkc_meter_reading', READING_COLUMNS, rows,
            conflict=('meter', 'read_at'))


def _store_sqlite(connection, rows):
    placeholders = ', '.join('?' * len(READING_COLUMNS))
    cursor = connection.cursor()
    before = connection.total_changes
    cursor.executemany(
        f'INSERT INTO rkc_meter_reading ({_COLUMN_LIST}) '
        f'VALUES ({placeholders}) ON CONFLICT (meter, read_at) DO NOTHING',
        ([_sqlite_value(v) for v in row] for row in rows))
    return connection.total_changes - before


def _sqlite_value(value):
    # Tryton's SQLite backend keeps numerics and timestamps as text.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(' ')
    return value


def open_poll(connection, scope, started_at, user=None):
    """The id of the poll summary row for ``scope``, created as 'running'
    unless a rerun of the same scope finds it."""
    cursor = connection.cursor()
    cursor.execute(sql(connection,
        'SELECT id FROM rkc_meter_poll WHERE scope = %s'), (scope,))
    row = cursor.fetchone()
    if row:
        return row[0]
    started_at = _param(connection, started_at)
    cursor.execute(sql(connection,
        'INSERT INTO rkc_meter_poll (started_at, scope, read_count, '
        'failed_count, rejected_count, review_count, state, create_uid, '
        'create_date) VALUES (%s, %s, 0, 0, 0, 0, %s, %s, %s) '
        'RETURNING id'), (started_at, scope, 'running', user, started_at))
    return cursor.fetchone()[0]


def close_poll(connection, poll, finished_at, counts, summary):
    "Record the figures of a finished poll; ``summary`` is JSON text."
    cursor = connection.cursor()
    cursor.execute(sql(connection,
        'UPDATE rkc_meter_poll SET finished_at = %s, read_count = %s, '
        'failed_count = %s, rejected_count = %s, review_count = %s, '
        'state = %s, summary = %s WHERE id = %s'), (
            _param(connection, finished_at), counts['read'],
            counts['failed'], counts['rejected'], counts['review'], 'done',
            summary, poll))


def _param(connection, value):
    return _sqlite_value(value) if is_sqlite(connection) else value


def create_meters(connection, meters, services, models):
    """Insert a fleet description (simulator.fleet) into scratch tables:
    its services, models and active meters; ``services`` maps service codes
    to ids. Returns the meter ids in fleet order."""
    cursor = connection.cursor()
    for code, service in services.items():
        cursor.execute(sql(connection,
            'INSERT INTO rkc_service (id, code) VALUES (%s, %s)'),
            (service, code))
    model_ids = {}
    for name in sorted({meter['model'] for meter in meters}):
        model = models[name]
        cursor.execute(sql(connection,
            'INSERT INTO rkc_meter_model (name, register_kind, '
            'value_address, zones, word_order, scale, status_address, '
            'serial_address, read_gap) '
            'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id'), (
                name, model.register_kind, model.value_address, model.zones,
                model.word_order, str(model.scale), model.status_address,
                model.serial_address, model.read_gap))
        model_ids[name] = cursor.fetchone()[0]
    ids = []
    for meter in meters:
        cursor.execute(sql(connection,
            'INSERT INTO rkc_meter (serial, model, service, digits, zones, '
            'modbus_host, modbus_port, modbus_unit, state) '
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'active') "
            'RETURNING id'), (
                meter['serial'], model_ids[meter['model']],
                services[meter['service']], meter['digits'], meter['zones'],
                meter['host'], meter['port'], meter['unit']))
        ids.append(cursor.fetchone()[0])
    return ids
