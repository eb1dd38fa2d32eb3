"""The Bank of Russia key rate by the date it took effect
(``data/key_rate.csv``), the base of housing penalties."""
import csv
import datetime as dt
import functools
from decimal import Decimal
from pathlib import Path

from .dated import DatedTable

DEFAULT_PATH = Path(__file__).parent / 'data' / 'key_rate.csv'


def load_key_rates(path=DEFAULT_PATH):
    "A DatedTable of the key rate in % per year."
    with open(path, encoding='utf-8', newline='') as file:
        # The file starts with comment lines explaining its columns.
        lines = (line for line in file if not line.startswith('#'))
        rows = csv.DictReader(lines)
        return DatedTable(
            [(dt.date.fromisoformat(row['effective_from']),
                    Decimal(row['rate_percent']))
                for row in rows],
            'key rate')


@functools.cache
def default_key_rates():
    return load_key_rates()


def rate_on(day, key_rates=None):
    "The key rate in % per year in force on ``day``."
    return (key_rates or default_key_rates()).on(day)
