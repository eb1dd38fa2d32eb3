"""``rkc calc <kind>``: one JSON object on stdin, one JSON object on stdout.

Each kind is a module of this package with a ``calculate(payload)`` function
that reads its inputs through :class:`Payload` and returns a plain dict
(Decimals are printed as strings). The contract is
``shared/domain/calc-cli.md``; bad input exits with status 2 and
``{"error": "<specific message>"}``.
"""
import datetime as dt
import importlib
import json
import re
import sys
from decimal import Decimal, InvalidOperation

from rkc.engine.errors import CalculationError

KINDS = (
    'charge', 'recalculation', 'penalty', 'duty', 'subsidy',
    'restructuring')

_NUMBER = re.compile(r'^-?\d+(\.\d+)?$')
_PERIOD = re.compile(r'^(\d{4})-(\d{2})$')


class CalcInputError(ValueError):
    "The input does not follow the contract; the message says how."


class Payload:
    """Typed access to one JSON object that remembers which keys were read,
    so that :meth:`finish` can refuse unknown keys."""

    def __init__(self, data, where=''):
        if not isinstance(data, dict):
            raise CalcInputError(
                f'{where or "input"} must be a JSON object')
        self._data = data
        self._used = set()
        self._where = where

    def _name(self, key):
        return f'{self._where}.{key}' if self._where else key

    def has(self, key):
        return key in self._data

    def raw(self, key, default=..., required=True):
        if key not in self._data:
            if default is not ... or not required:
                self._used.add(key)
                return None if default is ... else default
            raise CalcInputError(f'missing key "{self._name(key)}"')
        self._used.add(key)
        return self._data[key]

    def decimal(self, key, default=..., required=True):
        "A decimal number given as a JSON string such as \"436.15\"."
        value = self.raw(key, default, required)
        if value is None or isinstance(value, Decimal):
            return value
        return parse_decimal(value, self._name(key))

    def integer(self, key, default=..., required=True, minimum=None):
        value = self.raw(key, default, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise CalcInputError(
                f'"{self._name(key)}" must be a whole number, '
                f'got {json.dumps(value)}')
        if minimum is not None and value < minimum:
            raise CalcInputError(
                f'"{self._name(key)}" must be at least {minimum}, '
                f'got {value}')
        return value

    def date(self, key, default=..., required=True):
        value = self.raw(key, default, required)
        if value is None or isinstance(value, dt.date):
            return value
        return parse_date(value, self._name(key))

    def period(self, key, default=..., required=True):
        "A billing period ``YYYY-MM``, returned as its first day."
        value = self.raw(key, default, required)
        if value is None or isinstance(value, dt.date):
            return value
        return parse_period(value, self._name(key))

    def choice(self, key, choices, default=..., required=True):
        value = self.raw(key, default, required)
        if value is not None and value not in choices:
            raise CalcInputError(
                f'"{self._name(key)}" must be one of '
                f'{", ".join(sorted(choices))}, got {json.dumps(value)}')
        return value

    def list(self, key, default=..., required=True):
        value = self.raw(key, default, required)
        if value is not None and not isinstance(value, list):
            raise CalcInputError(
                f'"{self._name(key)}" must be a list')
        return value

    def decimals(self, key, default=..., required=True):
        values = self.list(key, default, required)
        if values is None:
            return None
        return [parse_decimal(v, f'{self._name(key)}[{i}]')
            for i, v in enumerate(values)]

    def objects(self, key, default=..., required=True):
        "A list of JSON objects, each wrapped in its own Payload."
        values = self.list(key, default, required)
        if values is None:
            return None
        return [Payload(v, f'{self._name(key)}[{i}]')
            for i, v in enumerate(values)]

    def object(self, key, default=..., required=True):
        value = self.raw(key, default, required)
        if value is None:
            return None
        return Payload(value, self._name(key))

    def finish(self):
        "Refuse keys the calculation did not read."
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            names = ', '.join(f'"{self._name(k)}"' for k in unknown)
            raise CalcInputError(f'unknown key {names}')


def parse_decimal(value, name):
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CalcInputError(
            f'"{name}" must be a decimal number in a JSON string, '
            f'got {json.dumps(value)}')
    text = str(value).strip()
    if not _NUMBER.match(text):
        raise CalcInputError(
            f'"{name}" is not a decimal number: {json.dumps(value)}')
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern excludes it
        raise CalcInputError(f'"{name}" is not a decimal number') from None


def parse_date(value, name):
    if not isinstance(value, str):
        raise CalcInputError(
            f'"{name}" must be an ISO date string, got {json.dumps(value)}')
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CalcInputError(
            f'"{name}" is not a valid date (YYYY-MM-DD): '
            f'{json.dumps(value)}') from None


def parse_period(value, name):
    match = _PERIOD.match(value) if isinstance(value, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise CalcInputError(
            f'"{name}" is not a billing period (YYYY-MM): '
            f'{json.dumps(value)}')
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def to_json(value):
    "Decimals and dates as strings, recursively, for the JSON output."
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def calculate(kind, data):
    "Run one calculation on already decoded JSON; return the output dict."
    if kind not in KINDS:
        raise CalcInputError(
            f'unknown calculation "{kind}", expected one of '
            f'{", ".join(KINDS)}')
    module = importlib.import_module(f'{__name__}.{kind}')
    payload = Payload(data)
    result = module.calculate(payload)
    payload.finish()
    return to_json(result)


def run(kind, stdin=sys.stdin, stdout=sys.stdout):
    "The command: returns the process exit status."
    try:
        try:
            data = json.loads(stdin.read())
        except json.JSONDecodeError as exc:
            raise CalcInputError(f'input is not valid JSON: {exc}') from None
        result = calculate(kind, data)
    except (CalcInputError, CalculationError) as exc:
        json.dump({'error': str(exc)}, stdout, ensure_ascii=False)
        stdout.write('\n')
        return 2
    json.dump(result, stdout, ensure_ascii=False)
    stdout.write('\n')
    return 0
