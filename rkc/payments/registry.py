"""Streaming parser and checks for agents' registry files.

A registry is reconciled as a whole against the agent's bank transfer, so
one bad line, a missing trailer or a trailer mismatch quarantines the whole
file: the summary lists every problem at once and nothing is written.

To import, iterate a :class:`RegistryReader` (records and
:class:`LineError` items) straight into a transaction and keep what it
wrote only if ``reader.summary.accepted``; :func:`check_registry` reads a
file through for its summary alone.

Memory stays bounded by the longest allowed line, except the index of
operation keys for the duplicate check: one 64-bit hash per line.
"""
import csv
import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from rkc.engine.money import KOPECK
from rkc.payments.registry_format import KINDS

FIELDS = set().union(*(allowed for allowed, _ in KINDS.values()))

ZERO = Decimal('0.00')


class ErrorCode(StrEnum):
    "Stable codes of the problems a registry file can have."
    ENCODING = 'encoding'
    LINE_TOO_LONG = 'line_too_long'
    MISSING_HEADER = 'missing_header'
    FIELD_COUNT = 'field_count'
    BAD_DATE = 'bad_date'
    BAD_PERIOD = 'bad_period'
    BAD_AMOUNT = 'bad_amount'
    BAD_READING = 'bad_reading'
    EMPTY_ACCOUNT = 'empty_account'
    EMPTY_OPERATION = 'empty_operation'
    DUPLICATE = 'duplicate'
    MISSING_TRAILER = 'missing_trailer'
    BAD_TRAILER = 'bad_trailer'
    TRAILER_COUNT = 'trailer_count'
    TRAILER_AMOUNT = 'trailer_amount'
    TRAILER_COMMISSION = 'trailer_commission'
    AFTER_TRAILER = 'after_trailer'


@dataclass(frozen=True, slots=True)
class LineError:
    "A problem at a physical line (1-based; 0 for the file as a whole)."
    line: int
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Reading:
    meter: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment line. ``amount`` is what the consumer is credited; the
    agent's ``commission`` is kept beside it and never deducted."""
    line: int
    accepted_at: dt.datetime
    branch: str
    terminal: str
    operation_id: str
    account: str
    payer: str
    address: str
    period: dt.date | None
    amount: Decimal
    commission: Decimal
    readings: tuple = ()

    @property
    def operation_key(self):
        "The agent's identity of the operation: branch, number, date."
        return (self.branch, self.operation_id, self.accepted_at.date())


@dataclass(frozen=True, slots=True)
class Debt:
    "One line of an outgoing debt registry: what a consumer owes."
    line: int
    account: str
    payer: str
    address: str
    period: dt.date | None
    amount: Decimal

    @property
    def operation_key(self):
        return (self.account, self.period)


@dataclass(frozen=True)
class RegistrySummary:
    """What a whole pass found. ``records``, ``amount`` and ``commission``
    cover the well-formed lines; ``errors`` keeps the first problems,
    ``error_count`` counts them all."""
    format: str
    sha256: str
    size: int
    lines: int
    data_lines: int
    records: int
    amount: Decimal
    commission: Decimal
    error_count: int
    errors: tuple

    @property
    def accepted(self):
        return self.error_count == 0

    @property
    def verdict(self):
        return 'accept' if self.accepted else 'quarantine'


class RegistryChanged(Exception):
    "The file's bytes changed while it was being imported."


class _Problem(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


# Problems that leave unknown whether the line was a payment, and its amount.
_UNREAD = {ErrorCode.ENCODING, ErrorCode.LINE_TOO_LONG}


class RegistryReader:
    """Iterate over a binary file object, line by line, yielding records
    (:class:`Payment` or :class:`Debt`, by the format's kind) and
    :class:`LineError` items; :attr:`summary` is ready at the end."""

    def __init__(self, stream, fmt, max_errors=1000):
        self.stream = stream
        self.fmt = fmt
        self.max_errors = max_errors
        self._summary = None
        fields = fmt.fields
        # Fields the layout lacks read the empty cell appended after the
        # fixed ones.
        self._at = {name: fields.index(name) if name in fields
            else len(fields) for name in FIELDS}
        self._moment_at = self._at[
            'accepted_at' if fmt.accepted_at else 'accepted_date']
        if fmt.accepted_at is not None:
            self._moment = _memo(_date_parser(
                fmt.accepted_at, dt.datetime, ErrorCode.BAD_DATE,
                'acceptance date/time'))
        if fmt.date is not None:
            self._moment = _memo(_date_parser(
                fmt.date, dt.datetime, ErrorCode.BAD_DATE,
                'acceptance date'))
        if fmt.time is not None:
            self._time = _memo(_date_parser(
                fmt.time, dt.time, ErrorCode.BAD_DATE, 'acceptance time'))
        if fmt.period is not None:
            self._period = _memo(_date_parser(
                fmt.period, functools.partial(dt.date, day=1),
                ErrorCode.BAD_PERIOD, 'period'))
        self._money = _money_parser(fmt)
        self._reading_value = _number_parser(fmt, 12, 6)
        if fmt.quote:
            self._split = self._split_quoted
        if fmt.kind == 'payments':
            self._record = self._payment
        else:
            self._record = self._debt

    @property
    def summary(self):
        if self._summary is None:
            raise RuntimeError('the registry has not been read to its end')
        return self._summary

    def __iter__(self):
        fmt = self.fmt
        digest = hashlib.sha256()
        self._seen = set()
        self._totals = [ZERO, ZERO]
        self._totals_known = True
        self._size = 0
        errors = []
        error_count = number = data_lines = records = 0
        amount = commission = ZERO
        trailer_seen = False
        for number, raw in self._raw_lines(digest):
            if number <= len(fmt.header):
                continue
            found = ()
            try:
                text = self._decode(raw, number)
                if not text.strip():
                    continue
                if trailer_seen:
                    raise _Problem(
                        ErrorCode.AFTER_TRAILER,
                        'text after the trailer line')
                if fmt.trailer and text.startswith(fmt.trailer.prefix):
                    trailer_seen = True
                    found = self._check_trailer(number, text, data_lines)
                else:
                    data_lines += 1
                    record = self._data_line(number, text)
                    records += 1
                    amount += record.amount
                    commission += getattr(record, 'commission', ZERO)
                    yield record
            except _Problem as problem:
                if problem.code in _UNREAD and not trailer_seen:
                    # Maybe a payment: its amount and the count are unknown.
                    data_lines += 1
                    self._totals_known = False
                found = [LineError(number, problem.code, problem.message)]
            for error in found:
                error_count += 1
                if len(errors) < self.max_errors:
                    errors.append(error)
                yield error
        ends = []
        if number < len(fmt.header):
            ends.append(LineError(
                0, ErrorCode.MISSING_HEADER,
                f'the file ends inside its {len(fmt.header)}-line header'))
        elif fmt.trailer and not trailer_seen:
            ends.append(LineError(
                0, ErrorCode.MISSING_TRAILER,
                f'no trailer line starting with {fmt.trailer.prefix!r}'))
        for error in ends:
            error_count += 1
            if len(errors) < self.max_errors:
                errors.append(error)
            yield error
        self._summary = RegistrySummary(
            format=fmt.name, sha256=digest.hexdigest(), size=self._size,
            lines=number, data_lines=data_lines, records=records,
            amount=amount, commission=commission,
            error_count=error_count, errors=tuple(errors))

    def _data_line(self, number, text):
        """The record of a line, checked against the earlier ones. Lines
        whose amounts could not be read make the file's totals unknown."""
        self._amounts_read = False
        try:
            record = self._record(number, text)
        except _Problem:
            if not self._amounts_read:
                self._totals_known = False
            raise
        # A 64-bit hash, not the key, keeps memory per line small; a false
        # duplicate needs a collision: odds about 3e-8 for 10^6 lines.
        key = hash(record.operation_key)
        if key in self._seen:
            raise _Problem(
                ErrorCode.DUPLICATE,
                'the same operation appears earlier in the file: '
                + _describe(record))
        self._seen.add(key)
        return record

    def _raw_lines(self, digest):
        """(number, bytes without the line end) for each physical line;
        bytes is None for a line longer than the format allows, which is
        read through in bounded pieces."""
        read = self.stream.readline
        limit = self.fmt.max_line_bytes
        number = 0
        while raw := read(limit):
            number += 1
            digest.update(raw)
            self._size += len(raw)
            if raw[-1:] != b'\n' and len(raw) == limit:
                while (rest := read(limit)):
                    digest.update(rest)
                    self._size += len(rest)
                    if rest[-1:] == b'\n':
                        break
                yield number, None
                continue
            yield number, raw.rstrip(b'\r\n')

    def _decode(self, raw, number):
        if raw is None:
            raise _Problem(
                ErrorCode.LINE_TOO_LONG,
                f'line longer than {self.fmt.max_line_bytes} bytes')
        try:
            text = raw.decode(self.fmt.encoding)
        except UnicodeDecodeError as exc:
            raise _Problem(
                ErrorCode.ENCODING,
                f'byte 0x{raw[exc.start]:02x} at position {exc.start + 1} '
                f'is not valid {self.fmt.encoding}') from None
        if number == 1 and text.startswith('\ufeff'):
            text = text[1:]
        return text

    def _split(self, text):
        return [cell.strip() for cell in text.split(self.fmt.delimiter)]

    def _split_quoted(self, text):
        try:
            cells = next(csv.reader(
                [text], delimiter=self.fmt.delimiter,
                quotechar=self.fmt.quote, strict=True))
        except csv.Error as exc:
            raise _Problem(
                ErrorCode.FIELD_COUNT, f'badly quoted line: {exc}') from None
        return [cell.strip() for cell in cells]

    def _cells(self, text):
        """The fixed cells plus one empty cell, and the trailing reading
        groups of a line."""
        fmt = self.fmt
        cells = self._split(text)
        expected = len(fmt.fields)
        group = fmt.readings.group if fmt.readings else ()
        extra = len(cells) - expected
        if extra == 0 or (group and extra > 0 and extra % len(group) == 0):
            fixed = cells[:expected]
            fixed.append('')
            return fixed, cells[expected:]
        wanted = (
            f'{expected} + a multiple of {len(group)}' if group
            else str(expected))
        raise _Problem(
            ErrorCode.FIELD_COUNT,
            f'{len(cells)} fields, expected {wanted}')

    def _payment(self, number, text):
        cells, extra = self._cells(text)
        at = self._at
        amount, commission = self._amounts(cells)
        account = cells[at['account']]
        if not account:
            raise _Problem(ErrorCode.EMPTY_ACCOUNT, 'account is empty')
        operation_id = cells[at['operation_id']]
        if not operation_id:
            raise _Problem(
                ErrorCode.EMPTY_OPERATION, 'operation_id is empty')
        accepted_at = self._moment(cells[self._moment_at])
        if self.fmt.time is not None:
            accepted_at = dt.datetime.combine(
                accepted_at, self._time(cells[at['accepted_time']]))
        period = cells[at['period']]
        return Payment(
            number, accepted_at, cells[at['branch']],
            cells[at['terminal']], operation_id, account,
            cells[at['payer']], cells[at['address']],
            self._period(period) if period else None, amount, commission,
            self._readings(cells[at['readings']], extra))

    def _debt(self, number, text):
        cells, _ = self._cells(text)
        at = self._at
        amount, _ = self._amounts(cells)
        account = cells[at['account']]
        if not account:
            raise _Problem(ErrorCode.EMPTY_ACCOUNT, 'account is empty')
        period = cells[at['period']]
        return Debt(
            number, account, cells[at['payer']], cells[at['address']],
            self._period(period) if period else None, amount)

    def _amounts(self, cells):
        """Amount and commission, added to the running totals that the
        trailer is compared with."""
        at = self._at
        amount = self._money(cells[at['amount']], 'amount')
        if self.fmt.kind == 'payments' and not amount:
            raise _Problem(ErrorCode.BAD_AMOUNT, 'amount is zero')
        commission = ZERO
        if at['commission'] < len(self.fmt.fields):
            commission = self._money(cells[at['commission']], 'commission')
        self._totals[0] += amount
        self._totals[1] += commission
        self._amounts_read = True
        return amount, commission

    def _readings(self, column, groups):
        readings = self.fmt.readings
        if readings is None or not (column or groups):
            return ()
        if readings.group:
            size = len(readings.group)
            meter = readings.group.index('meter')
            value = readings.group.index('value')
            pairs = zip(
                groups[meter::size], groups[value::size], strict=True)
        else:
            pairs = [
                item.partition(readings.pair_separator)[::2]
                for item in column.split(readings.separator) if item]
        result = []
        for meter_id, text in pairs:
            meter_id, text = meter_id.strip(), text.strip()
            if not meter_id and not text:
                continue  # agents pad the reading columns
            number = self._reading_value(text) if meter_id else None
            if number is None:
                raise _Problem(
                    ErrorCode.BAD_READING,
                    f'meter reading {meter_id!r}={text!r} needs a meter and '
                    f'a non-negative number')
            result.append(Reading(meter_id, number))
        return tuple(result)

    def _check_trailer(self, number, text, data_lines):
        fmt = self.fmt
        trailer = fmt.trailer
        cells = [c.strip() for c in text[len(trailer.prefix):].split(
            fmt.delimiter)]
        if len(cells) != len(trailer.fields):
            return [LineError(
                number, ErrorCode.BAD_TRAILER,
                f'trailer has {len(cells)} fields, expected '
                f'{len(trailer.fields)}')]
        count = cells[trailer.position('count')]
        if not count.isascii() or not count.isdigit():
            return [LineError(
                number, ErrorCode.BAD_TRAILER,
                f'trailer line count {count!r} is not a whole number')]
        errors = []
        if int(count) != data_lines:
            errors.append(LineError(
                number, ErrorCode.TRAILER_COUNT,
                f'trailer says {int(count)} lines, the file has '
                f'{data_lines}'))
        if not self._totals_known:
            return errors
        for name, code, total in (
                ('amount', ErrorCode.TRAILER_AMOUNT, self._totals[0]),
                ('commission', ErrorCode.TRAILER_COMMISSION,
                    self._totals[1])):
            position = trailer.position(name)
            if position is None:
                continue
            try:
                declared = self._money(cells[position], f'trailer {name}')
            except _Problem as problem:
                errors.append(LineError(
                    number, ErrorCode.BAD_TRAILER, problem.message))
                continue
            if declared != total:
                errors.append(LineError(
                    number, code,
                    f'trailer total {name} {declared}, the lines sum to '
                    f'{total}'))
        return errors


def _date_parser(pattern, build, code, what):
    "Text in the pattern to ``build(**parts)``, or a problem."
    match, names = pattern.regex.match, pattern.parts

    def parse(text):
        found = match(text)
        if found is None:
            raise _Problem(
                code, f'{what} {text!r} does not match {pattern.text!r}')
        try:
            return build(**dict(zip(
                names, map(int, found.groups()), strict=True)))
        except ValueError as exc:
            raise _Problem(code, f'{what} {text!r}: {exc}') from None
    return parse


def _memo(parse, size=4096):
    """Registries repeat a few dates, times and periods over and over;
    remember the last few thousand (bounded, so memory stays flat)."""
    cache = {}

    def cached(text):
        value = cache.get(text)
        if value is None:
            value = parse(text)
            if len(cache) >= size:
                cache.clear()
            cache[text] = value
        return value
    return cached


def _describe(record):
    key = record.operation_key
    if isinstance(record, Payment):
        return (f'branch {key[0]!r}, operation {key[1]!r}, '
            f'date {key[2].isoformat()}')
    return f'account {key[0]!r}, period {key[1]}'


def _number_parser(fmt, digits, places):
    "Non-negative decimal text in the format's notation, or None."
    pattern = re.compile(
        rf'\d{{1,{digits}}}(?:{re.escape(fmt.decimal_separator)}'
        rf'\d{{1,{places}}})?\Z')
    separator = fmt.decimal_separator

    def parse(text):
        if not pattern.match(text):
            return None
        return Decimal(text.replace(separator, '.'))
    return parse


def _money_parser(fmt):
    """Money in roubles with up to two decimals, or whole kopecks, as
    roubles quantized to the kopeck."""
    if fmt.money_unit == 'kopecks':
        pattern = re.compile(r'\d{1,14}\Z')
        unit = 'whole kopecks'

        def convert(text):
            if pattern.match(text):
                return Decimal(int(text)).scaleb(-2)
    else:
        number = _number_parser(fmt, 12, 2)
        unit = f'roubles with "{fmt.decimal_separator}" before kopecks'

        def convert(text):
            value = number(text)
            return None if value is None else value.quantize(KOPECK)

    def parse(text, name):
        value = convert(text)
        if value is None:
            raise _Problem(
                ErrorCode.BAD_AMOUNT,
                f'{name} {text!r} is not a non-negative amount in {unit}')
        return value
    return parse


def check_registry(stream, fmt, max_errors=1000):
    "Read the whole file, keep only its summary."
    reader = RegistryReader(stream, fmt, max_errors)
    for _ in reader:
        pass
    return reader.summary
