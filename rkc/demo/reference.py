"""The regional reference data the demo town is billed with: services,
dated tariffs and norms (rkc/demo/data/reference.json)."""
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

_PATH = Path(__file__).parent / 'data' / 'reference.json'
_AMOUNTS = {'rate', 'rate_t2', 'heat_rate', 'value'}


def _dated(rows):
    return [{key: dt.date.fromisoformat(value) if key == 'valid_from'
            else Decimal(value) if key in _AMOUNTS else value
            for key, value in row.items()} for row in rows]


def reference_data(path=_PATH):
    """Services, tariffs, norms and the electricity norm table, with dates
    as ``date`` and amounts as ``Decimal``. Each tariff and norm carries
    its values as rows with ``valid_from``; a row applies until the next."""
    data = json.loads(Path(path).read_text(encoding='utf-8'))
    for tariff in data['tariffs']:
        tariff['rates'] = _dated(tariff['rates'])
    for norm in data['norms']:
        norm['values'] = _dated(norm['values'])
    electricity = data['electricity_norms']
    electricity['valid_from'] = dt.date.fromisoformat(
        electricity['valid_from'])
    electricity['per_resident'] = {
        int(rooms): tuple(Decimal(v) for v in values)
        for rooms, values in electricity['per_resident'].items()}
    return data
