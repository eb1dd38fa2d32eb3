"""A simulated fleet made from the meters stored in the database: each
active remote meter answers at its gateway address with its model's register
map and serial, counting on from its last valid reading, so that a poll of
the demo town reads every meter."""
from datetime import UTC, datetime
from decimal import Decimal

from . import simulator, store

# Services of the database whose ordinary use the simulator knows under
# another name.
SIMULATED_SERVICE = {'heating': 'heat'}

_QUERY = ('SELECT m.id, m.serial, s.code, m.digits, m.modbus_host, '
    'm.modbus_port, m.modbus_unit, r.read_at, r.value, r.value_t2, '
    f'r.value_t3, {store.MODEL_COLUMNS} '
    'FROM rkc_meter m JOIN rkc_meter_model o ON o.id = m.model '
    'JOIN rkc_service s ON s.id = m.service '
    'LEFT JOIN rkc_meter_reading r ON r.id = ('
    'SELECT l.id FROM rkc_meter_reading l '
    "WHERE l.meter = m.id AND l.state = 'valid' "
    'ORDER BY l.read_at DESC LIMIT 1) '
    "WHERE m.state = 'active' AND m.modbus_host IS NOT NULL "
    'ORDER BY m.modbus_host, m.modbus_port, m.modbus_unit')


def load(connection):
    """(fleet, models): the fleet description of the stored meters, as
    simulator.fleet makes, and their MeterModel by name."""
    cursor = connection.cursor()
    cursor.execute(store.sql(connection, _QUERY))
    fleet, models = [], {}
    for (_, serial, service, digits, host, port, unit, read_at, *row,
            ) in cursor.fetchall():
        values, model_row = row[:3], row[3:]
        name = model_row[0]
        if name not in models:
            models[name] = store.meter_model(model_row)
        zones = models[name].zones
        start = [Decimal(str(v)) if v is not None else Decimal(0)
            for v in values[:zones]]
        use = simulator.USE_PER_HOUR.get(
            SIMULATED_SERVICE.get(service, service), Decimal(0))
        fleet.append({
            'host': host, 'port': port, 'unit': unit, 'serial': serial,
            'model': name, 'service': service, 'digits': digits,
            'zones': zones, 'start': [str(s) for s in start],
            'use_per_hour': [str(use)] * zones, 'behaviour': 'normal',
            'epoch': _epoch(read_at),
            })
    return fleet, models


def _epoch(read_at):
    "Unix seconds of a stored (naive UTC) timestamp; now without one."
    if read_at is None:
        return int(datetime.now(UTC).timestamp())
    if isinstance(read_at, str):
        read_at = datetime.fromisoformat(read_at)
    return int(read_at.replace(tzinfo=UTC).timestamp())
