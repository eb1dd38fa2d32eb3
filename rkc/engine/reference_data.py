"""Reference data files shipped in ``engine/data``."""
import json
from pathlib import Path

DATA = Path(__file__).parent / 'data'


def read_json(name):
    "The decoded content of ``engine/data/<name>``."
    with open(DATA / name, encoding='utf-8') as file:
        return json.load(file)
