"""Property tests: whatever bytes arrive, the parser answers only with
records and its documented errors; files we write read back unchanged."""
import datetime as dt
import hashlib
import io
from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rkc.payments.export import write_registry
from rkc.payments.registry import (
    Debt,
    ErrorCode,
    LineError,
    Payment,
    Reading,
    RegistryReader,
)
from rkc.payments.registry_format import load_format

FORMATS = {name: load_format(name)
    for name in ('sberbank', 'csv_utf8', 'sberbank_debts')}
SETTINGS = settings(
    max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])


def read(data, fmt):
    reader = RegistryReader(io.BytesIO(data), fmt)
    return list(reader), reader.summary


def check_answer(data, fmt):
    "Everything the parser says is one of its documented results."
    items, summary = read(data, fmt)
    record_type = Payment if fmt.kind == 'payments' else Debt
    for item in items:
        assert isinstance(item, record_type | LineError)
        if isinstance(item, LineError):
            assert item.code in set(ErrorCode) and item.message
    errors = [i for i in items if isinstance(i, LineError)]
    assert summary.error_count == len(errors)
    assert summary.records == len(items) - len(errors)
    assert summary.sha256 == hashlib.sha256(data).hexdigest()
    assert summary.size == len(data)
    assert summary.accepted == (not errors)
    return items, summary


def text(fmt, min_size=0):
    "Cell text the layout can carry: encodable, no line ends, stripped."
    if fmt.encoding == 'cp1251':
        alphabet = bytes(range(0x20, 0x100)).decode('cp1251', 'ignore')
        alphabet = alphabet.replace(fmt.delimiter, '')
        chars = st.sampled_from(alphabet)
    else:
        chars = st.characters(
            blacklist_categories=('Cs',), blacklist_characters='\r\n')
    return st.text(chars, min_size=min_size, max_size=20).map(
        str.strip).filter(lambda t: len(t) >= min_size)


def money(minimum=0):
    return st.integers(minimum, 10**11).map(
        lambda kopecks: Decimal(kopecks).scaleb(-2))


periods = st.none() | st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 1)
    ).map(lambda d: d.replace(day=1))


def meters(fmt):
    separators = (
        fmt.readings.separator + fmt.readings.pair_separator
        if fmt.readings and not fmt.readings.group else '')
    return text(fmt, 1).filter(lambda t: not set(t) & set(separators))


@st.composite
def payments(draw, fmt):
    return Payment(
        line=0,
        accepted_at=draw(st.datetimes(
            dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31))).replace(
            microsecond=0),
        branch=draw(text(fmt)), terminal=draw(text(fmt)),
        operation_id=draw(text(fmt, 1)), account=draw(text(fmt, 1)),
        payer=draw(text(fmt)), address=draw(text(fmt)),
        period=draw(periods), amount=draw(money(1)),
        commission=draw(money()),
        readings=tuple(draw(st.lists(st.builds(
            Reading, meters(fmt),
            st.decimals(0, 10**9, places=3)), max_size=3))))


@st.composite
def debts(draw, fmt):
    return Debt(
        line=0, account=draw(text(fmt, 1)), payer=draw(text(fmt)),
        address=draw(text(fmt)), period=draw(periods),
        amount=draw(money()))


@st.composite
def registries(draw):
    "A layout and records it can carry, with distinct operation keys."
    fmt = FORMATS[draw(st.sampled_from(sorted(FORMATS)))]
    records = draw(st.lists(
        (payments if fmt.kind == 'payments' else debts)(fmt),
        max_size=8, unique_by=lambda r: r.operation_key))
    if fmt.trailer:
        # A first cell that starts like the trailer cannot be written.
        records = [r for r in records if not str(
            getattr(r, fmt.fields[0], '')).startswith(fmt.trailer.prefix)]
    return fmt, records


def written(fmt, records):
    out = io.BytesIO()
    write_registry(out, fmt, records)
    return out.getvalue()


@SETTINGS
@given(st.sampled_from(sorted(FORMATS)), st.binary(max_size=2000))
def test_random_bytes_get_only_documented_answers(name, data):
    check_answer(data, FORMATS[name])


@SETTINGS
@given(registries())
def test_written_files_read_back_unchanged(registry):
    fmt, records = registry
    items, summary = check_answer(written(fmt, records), fmt)
    first = len(fmt.header) + 1
    assert items == [
        replace(record, line=first + i)
        for i, record in enumerate(records)]
    assert summary.accepted
    assert summary.amount == sum((r.amount for r in records), Decimal(0))


mutations = st.one_of(
    st.tuples(st.just('flip'), st.integers(0), st.integers(0, 255)),
    st.tuples(st.just('delete'), st.integers(0), st.integers(1, 40)),
    st.tuples(
        st.just('insert'), st.integers(0), st.binary(min_size=1, max_size=20)),
    st.tuples(st.just('truncate'), st.integers(0), st.just(None)),
    st.tuples(st.just('repeat_line'), st.integers(0), st.just(None)),
    st.tuples(st.just('swap_lines'), st.integers(0), st.integers(0)),
    )


def mutate(data, mutation):
    kind, where, what = mutation
    at = where % (len(data) + 1)
    if kind == 'flip':
        return data[:at] + bytes([what]) + data[at + 1:]
    if kind == 'delete':
        return data[:at] + data[at + what:]
    if kind == 'insert':
        return data[:at] + what + data[at:]
    if kind == 'truncate':
        return data[:at]
    lines = data.splitlines(keepends=True) or [b'']
    i = where % len(lines)
    if kind == 'repeat_line':
        return b''.join(lines[:i + 1] + lines[i:])
    j = what % len(lines)
    lines[i], lines[j] = lines[j], lines[i]
    return b''.join(lines)


@SETTINGS
@given(registries(), st.lists(mutations, min_size=1, max_size=4))
def test_mutated_files_get_only_documented_answers(registry, changes):
    fmt, records = registry
    data = written(fmt, records)
    for mutation in changes:
        data = mutate(data, mutation)
    check_answer(data, fmt)


@SETTINGS
@given(registries(), st.integers(0))
def test_a_repeated_payment_line_is_never_accepted(registry, where):
    fmt, records = registry
    data = written(fmt, records)
    if not records:
        return
    lines = data.splitlines(keepends=True)
    i = len(fmt.header) + where % len(records)
    _, summary = check_answer(
        b''.join(lines[:i + 1] + lines[i:]), fmt)
    codes = {e.code for e in summary.errors}
    assert ErrorCode.DUPLICATE in codes
