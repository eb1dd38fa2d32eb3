"""The layout of an agent's registry file, as plain configuration data.

No national format exists: each agent contract fixes one, so a layout is a
JSON object (see ``formats/``) turned into a :class:`RegistryFormat`; adding
an agent never needs code. Layout field names:

``accepted_date``, ``accepted_time`` or ``accepted_at`` (the moment the
agent accepted the money: the payment date), ``branch``, ``terminal``,
``operation_id``, ``account``, ``payer``, ``address``, ``period``,
``amount``, ``commission``, ``readings`` and ``skip`` for an ignored column.
"""
import codecs
import json
import re
from dataclasses import dataclass
from importlib import resources

KINDS = {
    # kind: (fields it may use, fields it needs)
    'payments': (
        {'accepted_date', 'accepted_time', 'accepted_at', 'branch',
            'terminal', 'operation_id', 'account', 'payer', 'address',
            'period', 'amount', 'commission', 'readings'},
        {'operation_id', 'account', 'amount'}),
    'debts': (
        {'account', 'payer', 'address', 'period', 'amount'},
        {'account', 'amount'}),
    }
SKIP = 'skip'
TRAILER_FIELDS = {'count', 'amount', 'commission'}
MONEY_UNITS = {'roubles', 'kopecks'}
READING_PARTS = {'meter', 'value', SKIP}

_DIRECTIVES = {
    '%d': ('day', r'(\d{2})'),
    '%m': ('month', r'(\d{2})'),
    '%Y': ('year', r'(\d{4})'),
    '%H': ('hour', r'(\d{2})'),
    '%M': ('minute', r'(\d{2})'),
    '%S': ('second', r'(\d{2})'),
    }
_TOKEN = re.compile('|'.join(_DIRECTIVES) + '|%')


class RegistryFormatError(ValueError):
    "The layout configuration is unusable; the message says which key."


@dataclass(frozen=True)
class DatePattern:
    """A strict date/time layout built from the directives %d %m %Y %H %M
    %S: fixed widths, so that parsing is one regex match and writing is the
    exact inverse."""
    text: str
    parts: tuple
    regex: re.Pattern

    @classmethod
    def compile(cls, text, needed, key):
        if not isinstance(text, str) or not text:
            raise RegistryFormatError(f'"{key}" must be a non-empty string')
        parts, pattern, position = [], [], 0
        for match in _TOKEN.finditer(text):
            if match.group() == '%':
                raise RegistryFormatError(
                    f'"{key}": unsupported directive at position '
                    f'{match.start()} of {text!r} (use %d %m %Y %H %M %S)')
            pattern.append(re.escape(text[position:match.start()]))
            name, group = _DIRECTIVES[match.group()]
            if name in parts:
                raise RegistryFormatError(
                    f'"{key}": {match.group()} appears twice in {text!r}')
            parts.append(name)
            pattern.append(group)
            position = match.end()
        pattern.append(re.escape(text[position:]))
        missing = [n for n in needed if n not in parts]
        if missing:
            raise RegistryFormatError(
                f'"{key}" {text!r} lacks {", ".join(missing)}')
        return cls(text, tuple(parts), re.compile(''.join(pattern) + r'\Z'))

    def format(self, value):
        "Write a date, time or datetime in this layout."
        text = self.text
        for directive, (name, _) in _DIRECTIVES.items():
            if directive in text:
                width = 4 if name == 'year' else 2
                text = text.replace(
                    directive, f'{getattr(value, name):0{width}d}')
        return text


@dataclass(frozen=True)
class Trailer:
    """The closing line: starts with ``prefix``; ``fields`` name its
    columns (count, amount, commission or skip)."""
    prefix: str
    fields: tuple

    def position(self, name):
        return self.fields.index(name) if name in self.fields else None


@dataclass(frozen=True)
class Readings:
    """Where meter readings sit. ``group`` set: repeated groups of columns
    after the fixed fields (e.g. meter, value). Otherwise a ``readings``
    column holding ``meter<pair_separator>value`` items joined by
    ``separator``."""
    group: tuple = ()
    separator: str = ''
    pair_separator: str = ''


@dataclass(frozen=True)
class RegistryFormat:
    name: str
    kind: str
    encoding: str
    delimiter: str
    quote: str | None
    header: tuple
    fields: tuple
    date: DatePattern | None
    time: DatePattern | None
    accepted_at: DatePattern | None
    period: DatePattern | None
    decimal_separator: str
    money_unit: str
    trailer: Trailer | None
    readings: Readings | None
    max_line_bytes: int

    @classmethod
    def from_dict(cls, data):
        "Build and check a layout from decoded JSON."
        return _Reader(data).format()

    def to_dict(self):
        "The JSON-ready configuration (the inverse of :meth:`from_dict`)."
        data = {
            'name': self.name, 'kind': self.kind,
            'encoding': self.encoding, 'delimiter': self.delimiter,
            'quote': self.quote, 'header': list(self.header),
            'fields': list(self.fields),
            'decimal_separator': self.decimal_separator,
            'money_unit': self.money_unit,
            'max_line_bytes': self.max_line_bytes,
            'trailer': self.trailer and {
                'prefix': self.trailer.prefix,
                'fields': list(self.trailer.fields)},
            }
        for key in ('date', 'time', 'accepted_at', 'period'):
            pattern = getattr(self, key)
            if pattern is not None:
                data[f'{key}_format'] = pattern.text
        if self.readings is not None:
            data['readings'] = {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in vars(self.readings).items() if v}
        return data


class _Reader:
    "Reads one configuration dict, refusing unknown keys."

    def __init__(self, data):
        if not isinstance(data, dict):
            raise RegistryFormatError('a registry format must be an object')
        self.data = data
        self.used = set()

    def get(self, key, kind, default=...):
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise RegistryFormatError(f'missing key "{key}"')
            return default
        value = self.data[key]
        if value is not None and not isinstance(value, kind):
            raise RegistryFormatError(
                f'"{key}" must be of type {kind.__name__}, got {value!r}')
        return value

    def names(self, key, allowed, values):
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, str) for v in values)):
            raise RegistryFormatError(
                f'"{key}" must be a non-empty list of names')
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise RegistryFormatError(
                f'"{key}": unknown field {unknown[0]!r}, expected one of '
                f'{", ".join(sorted(allowed))}')
        repeated = [v for v in set(values) if v != SKIP
            and values.count(v) > 1]
        if repeated:
            raise RegistryFormatError(
                f'"{key}": field {repeated[0]!r} appears twice')
        return tuple(values)

    def format(self):
        kind = self.get('kind', str)
        if kind not in KINDS:
            raise RegistryFormatError(
                f'"kind" must be one of {", ".join(KINDS)}, got {kind!r}')
        allowed, needed = KINDS[kind]
        fields = self.names('fields', allowed | {SKIP}, self.get(
            'fields', list))
        missing = sorted(needed - set(fields))
        if kind == 'payments' and not (
                {'accepted_at', 'accepted_date'} & set(fields)):
            missing.insert(0, 'accepted_at or accepted_date')
        if missing:
            raise RegistryFormatError(
                f'"fields" lacks {", ".join(missing)}')
        if 'accepted_at' in fields and (
                {'accepted_date', 'accepted_time'} & set(fields)):
            raise RegistryFormatError(
                '"fields": give accepted_at or accepted_date/accepted_time, '
                'not both')
        if 'accepted_time' in fields and 'accepted_date' not in fields:
            raise RegistryFormatError(
                '"fields": accepted_time needs accepted_date')
        encoding = self.encoding()
        delimiter = self.get('delimiter', str)
        if len(delimiter) != 1 or delimiter in '\r\n':
            raise RegistryFormatError(
                '"delimiter" must be one character other than a line end')
        quote = self.get('quote', str, None)
        if quote is not None and (len(quote) != 1 or quote == delimiter):
            raise RegistryFormatError(
                '"quote" must be one character other than the delimiter')
        header = self.get('header', list, [])
        if not all(isinstance(h, str) for h in header):
            raise RegistryFormatError('"header" must be a list of lines')
        decimal_separator = self.get('decimal_separator', str, '.')
        if decimal_separator not in {'.', ','} or (
                decimal_separator == delimiter):
            raise RegistryFormatError(
                '"decimal_separator" must be "." or "," and differ from '
                'the delimiter')
        money_unit = self.get('money_unit', str, 'roubles')
        if money_unit not in MONEY_UNITS:
            raise RegistryFormatError(
                f'"money_unit" must be one of {", ".join(sorted(MONEY_UNITS))}'
                f', got {money_unit!r}')
        max_line_bytes = self.get('max_line_bytes', int, 65536)
        if max_line_bytes < 64:
            raise RegistryFormatError('"max_line_bytes" must be at least 64')
        result = RegistryFormat(
            name=self.get('name', str), kind=kind, encoding=encoding,
            delimiter=delimiter, quote=quote, header=tuple(header),
            fields=fields,
            date=self.pattern(
                'date_format', 'accepted_date' in fields,
                ('day', 'month', 'year')),
            time=self.pattern(
                'time_format', 'accepted_time' in fields,
                ('hour', 'minute')),
            accepted_at=self.pattern(
                'accepted_at_format', 'accepted_at' in fields,
                ('day', 'month', 'year', 'hour', 'minute')),
            period=self.pattern(
                'period_format', 'period' in fields, ('month', 'year')),
            decimal_separator=decimal_separator, money_unit=money_unit,
            trailer=self.trailer(), readings=self.readings(fields),
            max_line_bytes=max_line_bytes)
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise RegistryFormatError(f'unknown key "{unknown[0]}"')
        return result

    def encoding(self):
        encoding = self.get('encoding', str)
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise RegistryFormatError(
                f'unknown encoding {encoding!r}') from None
        # Lines are split on the byte b'\n' before decoding.
        if '\n;'.encode(encoding, 'replace') != b'\n;':
            raise RegistryFormatError(
                f'encoding {encoding!r} is not ASCII-compatible')
        return encoding

    def pattern(self, key, used, needed):
        text = self.get(key, str, None)
        if text is None:
            if used:
                raise RegistryFormatError(f'missing key "{key}"')
            return None
        return DatePattern.compile(text, needed, key)

    def trailer(self):
        data = self.get('trailer', dict, None)
        if data is None:
            return None
        prefix = data.get('prefix')
        if not isinstance(prefix, str) or not prefix:
            raise RegistryFormatError(
                '"trailer.prefix" must be a non-empty string')
        fields = self.names(
            'trailer.fields', TRAILER_FIELDS | {SKIP}, data.get('fields'))
        if 'count' not in fields:
            raise RegistryFormatError('"trailer.fields" lacks count')
        unknown = sorted(set(data) - {'prefix', 'fields'})
        if unknown:
            raise RegistryFormatError(f'unknown key "trailer.{unknown[0]}"')
        return Trailer(prefix, fields)

    def readings(self, fields):
        data = self.get('readings', dict, None)
        if data is None:
            if 'readings' in fields:
                raise RegistryFormatError(
                    '"fields" has readings but "readings" is not configured')
            return None
        if 'group' in data:
            if 'readings' in fields or set(data) != {'group'}:
                raise RegistryFormatError(
                    '"readings.group" (trailing column groups) excludes a '
                    'readings column and other readings keys')
            group = self.names('readings.group', READING_PARTS, data['group'])
            if not {'meter', 'value'} <= set(group):
                raise RegistryFormatError(
                    '"readings.group" needs meter and value')
            return Readings(group=group)
        separator = data.get('separator')
        pair_separator = data.get('pair_separator')
        if (set(data) != {'separator', 'pair_separator'}
                or 'readings' not in fields
                or not isinstance(separator, str)
                or not isinstance(pair_separator, str)
                or len(separator) != 1 or len(pair_separator) != 1
                or separator == pair_separator):
            raise RegistryFormatError(
                '"readings" needs either "group" or a readings column with '
                'two different one-character "separator" and '
                '"pair_separator"')
        return Readings(separator=separator, pair_separator=pair_separator)


def load_format(name):
    "One of the shipped layouts in ``formats/<name>.json``."
    if not re.fullmatch(r'[a-z0-9_]+', name):
        raise RegistryFormatError(f'bad format name {name!r}')
    path = resources.files(__package__) / 'formats' / f'{name}.json'
    if not path.is_file():
        raise RegistryFormatError(f'no registry format named {name!r}')
    return RegistryFormat.from_dict(json.loads(path.read_text('utf-8')))
