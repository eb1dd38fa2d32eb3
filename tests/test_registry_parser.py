"Registry layouts, the streaming parser and its checks."
import datetime as dt
import hashlib
import io
import re
from decimal import Decimal

import pytest

from rkc.payments.registry import (
    ErrorCode,
    LineError,
    Payment,
    Reading,
    RegistryReader,
)
from rkc.payments.registry_format import (
    RegistryFormat,
    RegistryFormatError,
    load_format,
)

SBERBANK = load_format('sberbank')
CSV_UTF8 = load_format('csv_utf8')

LINE_1 = ('20-06-2025;10-15-30;8609;8609/0100;1001;1000012345;'
    'Иванов Иван Иванович;г. Тверь, ул. Ленина, д. 1, кв. 2;052025;'
    '1500,00;1485,00;15,00;МТ-123456;1234,567;ХВ-77;12,5')
LINE_2 = ('20-06-2025;18-01-02;8609;8609/0101;1002;1000012346;'
    'Петров П.П.;ул. Мира, 3;;99,99;99,99;0,00')
TRAILER = '=2;1599,99;1584,99;15,00;4711;21-06-2025'


def sberbank_file(*lines):
    return '\r\n'.join(lines).encode('cp1251') + b'\r\n'


def parse(data, fmt=SBERBANK):
    reader = RegistryReader(io.BytesIO(data), fmt)
    items = list(reader)
    return items, reader.summary


def errors_of(data, fmt=SBERBANK):
    items, summary = parse(data, fmt)
    errors = [i for i in items if isinstance(i, LineError)]
    assert summary.error_count == len(errors)
    assert summary.verdict == ('accept' if not errors else 'quarantine')
    return [(e.line, e.code, e.message) for e in errors]


def test_shipped_formats_load_and_round_trip_as_configuration():
    for name in ('sberbank', 'csv_utf8', 'sberbank_debts'):
        fmt = load_format(name)
        assert fmt.name == name
        assert RegistryFormat.from_dict(fmt.to_dict()) == fmt


def test_sberbank_file_parses_to_exact_payments():
    data = sberbank_file(LINE_1, LINE_2, TRAILER)
    items, summary = parse(data)
    assert items == [
        Payment(
            line=1, accepted_at=dt.datetime(2025, 6, 20, 10, 15, 30),
            branch='8609', terminal='8609/0100', operation_id='1001',
            account='1000012345', payer='Иванов Иван Иванович',
            address='г. Тверь, ул. Ленина, д. 1, кв. 2',
            period=dt.date(2025, 5, 1), amount=Decimal('1500.00'),
            commission=Decimal('15.00'),
            readings=(
                Reading('МТ-123456', Decimal('1234.567')),
                Reading('ХВ-77', Decimal('12.5')))),
        Payment(
            line=2, accepted_at=dt.datetime(2025, 6, 20, 18, 1, 2),
            branch='8609', terminal='8609/0101', operation_id='1002',
            account='1000012346', payer='Петров П.П.',
            address='ул. Мира, 3', period=None,
            amount=Decimal('99.99'), commission=Decimal('0.00')),
        ]
    # The commission is kept beside the amount, never deducted from it.
    assert items[0].amount == Decimal('1500.00')
    assert summary.accepted and summary.verdict == 'accept'
    assert summary.sha256 == hashlib.sha256(data).hexdigest()
    assert summary.size == len(data)
    assert (summary.lines, summary.data_lines, summary.records) == (3, 2, 2)
    assert summary.amount == Decimal('1599.99')
    assert summary.commission == Decimal('15.00')
    assert items[0].operation_key == ('8609', '1001', dt.date(2025, 6, 20))


def test_csv_utf8_file_with_bom_header_quotes_and_kopecks():
    data = (
        '\ufeffaccepted_at,branch,terminal,operation_id,account,payer,'
        'address,period,amount_kopecks,commission_kopecks,readings\n'
        '2025-06-20T10:15:30,77,T-9,A-1,1000012345,"Иванов, Иван",'
        '"Тверь, ул. Мира, 3",2025-05,150000,1500,M1:10.5|M2:7\n'
        '2025-06-21T00:00:00,77,T-9,A-2,1000012346,Петров,,,1,0,\n'
        ).encode('utf-8')
    items, summary = parse(data, CSV_UTF8)
    assert summary.accepted and summary.records == 2
    first, second = items
    assert first.payer == 'Иванов, Иван'
    assert first.address == 'Тверь, ул. Мира, 3'
    assert first.amount == Decimal('1500.00')
    assert first.commission == Decimal('15.00')
    assert first.period == dt.date(2025, 5, 1)
    assert first.readings == (
        Reading('M1', Decimal('10.5')), Reading('M2', Decimal('7')))
    assert (second.amount, second.readings) == (Decimal('0.01'), ())
    assert summary.amount == Decimal('1500.01')


@pytest.mark.parametrize('line, code, message', [
    (LINE_2 + ';1', ErrorCode.FIELD_COUNT,
        '13 fields, expected 12 + a multiple of 2'),
    ('20-06-2025;18-01-02;8609', ErrorCode.FIELD_COUNT,
        '3 fields, expected 12 + a multiple of 2'),
    (LINE_2.replace('99,99;99,99', '99.99;99,99'), ErrorCode.BAD_AMOUNT,
        "amount '99.99' is not a non-negative amount in roubles with "
        '"," before kopecks'),
    (LINE_2.replace('99,99;99,99', '9,999;99,99'), ErrorCode.BAD_AMOUNT,
        "amount '9,999' is not a non-negative amount in roubles with "
        '"," before kopecks'),
    (LINE_2.replace('99,99;99,99', '-5,00;99,99'), ErrorCode.BAD_AMOUNT,
        "amount '-5,00' is not a non-negative amount in roubles with "
        '"," before kopecks'),
    (LINE_2.replace('99,99;99,99', '0,00;0,00'), ErrorCode.BAD_AMOUNT,
        'amount is zero'),
    (LINE_2.replace(';0,00', ';x'), ErrorCode.BAD_AMOUNT,
        "commission 'x' is not a non-negative amount in roubles with "
        '"," before kopecks'),
    (LINE_2.replace('20-06-2025', '31-02-2025'), ErrorCode.BAD_DATE,
        "acceptance date '31-02-2025': day is out of range for month"),
    (LINE_2.replace('20-06-2025', '2025-06-20'), ErrorCode.BAD_DATE,
        "acceptance date '2025-06-20' does not match '%d-%m-%Y'"),
    (LINE_2.replace('18-01-02', '25-00-00'), ErrorCode.BAD_DATE,
        "acceptance time '25-00-00': hour must be in 0..23"),
    (LINE_2.replace('Мира, 3;;', 'Мира, 3;132025;'), ErrorCode.BAD_PERIOD,
        "period '132025': month must be in 1..12"),
    (LINE_2.replace('Мира, 3;;', 'Мира, 3;05-2025;'), ErrorCode.BAD_PERIOD,
        "period '05-2025' does not match '%m%Y'"),
    (LINE_2.replace('1000012346', ' '), ErrorCode.EMPTY_ACCOUNT,
        'account is empty'),
    (LINE_2.replace('1002', ''), ErrorCode.EMPTY_OPERATION,
        'operation_id is empty'),
    (LINE_2 + ';М-1;abc', ErrorCode.BAD_READING,
        "meter reading 'М-1'='abc' needs a meter and a non-negative number"),
    (LINE_2 + ';;5', ErrorCode.BAD_READING,
        "meter reading ''='5' needs a meter and a non-negative number"),
    ])
def test_each_bad_line_gets_its_code_and_message(line, code, message):
    trailer = '=1;99,99;;0,00;;'
    errors = errors_of(sberbank_file(line, trailer))
    assert errors[0] == (1, code, message)


def test_padding_reading_groups_are_not_readings():
    items, summary = parse(sberbank_file(LINE_2 + ';;', '=1;99,99;;0,00;;'))
    assert summary.accepted and items[0].readings == ()


def test_undecodable_bytes_are_an_encoding_error_with_the_position():
    # 0x98 is the one byte cp1251 leaves undefined.
    data = sberbank_file(LINE_2).replace(b'8609/', b'86\x98/') + (
        b'=1;99,99;;0,00;;\r\n')
    assert errors_of(data) == [
        (1, ErrorCode.ENCODING,
            'byte 0x98 at position 28 is not valid cp1251')]


def test_trailer_mismatches_are_each_reported():
    data = sberbank_file(LINE_1, LINE_2, '=3;1600,00;;15,01;;')
    assert errors_of(data) == [
        (3, ErrorCode.TRAILER_COUNT, 'trailer says 3 lines, the file has 2'),
        (3, ErrorCode.TRAILER_AMOUNT,
            'trailer total amount 1600.00, the lines sum to 1599.99'),
        (3, ErrorCode.TRAILER_COMMISSION,
            'trailer total commission 15.01, the lines sum to 15.00'),
        ]


def test_totals_are_not_compared_when_a_line_amount_is_unreadable():
    bad = LINE_2.replace('99,99;99,99', 'abc;99,99')
    data = sberbank_file(LINE_1, bad, '=2;1;;2;;')
    assert [code for _, code, _ in errors_of(data)] == [
        ErrorCode.BAD_AMOUNT]
    data = sberbank_file(LINE_1, 'LINE', '=2;1;;2;;').replace(
        b'LINE', b'\x98')
    assert [code for _, code, _ in errors_of(data)] == [ErrorCode.ENCODING]


@pytest.mark.parametrize('trailer, message', [
    ('=2;1599,99;;15,00', 'trailer has 4 fields, expected 6'),
    ('=two;1599,99;;15,00;;', "trailer line count 'two' is not a whole "
        'number'),
    ('=2;1599.99;;15,00;;', "trailer amount '1599.99' is not a non-negative "
        'amount in roubles with "," before kopecks'),
    ])
def test_malformed_trailer(trailer, message):
    data = sberbank_file(LINE_1, LINE_2, trailer)
    assert errors_of(data) == [(3, ErrorCode.BAD_TRAILER, message)]


def test_missing_trailer_quarantines_the_file():
    items, summary = parse(sberbank_file(LINE_1, LINE_2))
    assert summary.verdict == 'quarantine'
    assert summary.errors == (LineError(
        0, ErrorCode.MISSING_TRAILER, "no trailer line starting with '='"),)
    # The lines themselves are still readable for the operator's review.
    assert summary.records == 2


def test_text_after_the_trailer():
    data = sberbank_file(LINE_2, '=1;99,99;;0,00;;', '', LINE_1, '  ')
    assert errors_of(data) == [
        (4, ErrorCode.AFTER_TRAILER, 'text after the trailer line')]


def test_blank_lines_carry_nothing_and_are_not_counted():
    data = sberbank_file('', LINE_2, '  ', '=1;99,99;;0,00;;', '')
    assert errors_of(data) == []


def test_duplicate_operation_within_the_file():
    again = LINE_2.replace('18-01-02', '19-00-00').replace('99,99', '1,00')
    other_day = LINE_2.replace('20-06-2025', '21-06-2025')
    data = sberbank_file(
        LINE_2, again, other_day, '=3;200,98;;0,00;;')
    assert errors_of(data) == [
        (2, ErrorCode.DUPLICATE,
            "the same operation appears earlier in the file: branch '8609', "
            "operation '1002', date 2025-06-20")]


def test_header_lines_are_skipped_and_a_short_file_reported():
    header = CSV_UTF8.header[0].encode() + b'\n'
    assert errors_of(header, CSV_UTF8) == []
    assert errors_of(b'', CSV_UTF8) == [
        (0, ErrorCode.MISSING_HEADER, 'the file ends inside its 1-line '
            'header')]


def test_csv_badly_quoted_and_wrong_field_count():
    data = (CSV_UTF8.header[0] + '\n'
        '2025-06-20T10:15:30,77,T,A-1,1,"P"x",,,100,0,\n'
        '2025-06-20T10:15:30,77,T,A-2,1,P,,,100,0\n').encode()
    assert errors_of(data, CSV_UTF8) == [
        (2, ErrorCode.FIELD_COUNT,
            "badly quoted line: ',' expected after '\"'"),
        (3, ErrorCode.FIELD_COUNT, '10 fields, expected 11'),
        ]


def test_csv_bad_kopecks_readings_column_and_date():
    data = (CSV_UTF8.header[0] + '\n'
        '2025-06-20T10:15:30,77,T,A-1,1,P,,,100.5,0,\n'
        '2025-06-20T10:15:30,77,T,A-2,1,P,,,100,0,M1\n'
        '2025-06-20 10:15:30,77,T,A-3,1,P,,,100,0,\n').encode()
    assert errors_of(data, CSV_UTF8) == [
        (2, ErrorCode.BAD_AMOUNT,
            "amount '100.5' is not a non-negative amount in whole kopecks"),
        (3, ErrorCode.BAD_READING,
            "meter reading 'M1'='' needs a meter and a non-negative number"),
        (4, ErrorCode.BAD_DATE,
            "acceptance date/time '2025-06-20 10:15:30' does not match "
            "'%Y-%m-%dT%H:%M:%S'"),
        ]


class OnlyReadline(io.RawIOBase):
    """A stream of one huge line that refuses to be read in any way but
    bounded readline calls, and remembers the largest one."""

    def __init__(self, data):
        self.inner = io.BytesIO(data)
        self.largest = 0

    def readline(self, size=-1):
        assert 0 < size, 'unbounded readline'
        self.largest = max(self.largest, size)
        return self.inner.readline(size)

    def read(self, size=-1):
        raise AssertionError('the parser must read line by line')


def test_overlong_line_is_read_through_in_bounded_pieces():
    huge = b'1' * (3 * 1024 * 1024 + 5)
    data = huge + b'\n' + sberbank_file(LINE_2, '=2;99,99;;0,00;;')
    stream = OnlyReadline(data)
    reader = RegistryReader(stream, SBERBANK)
    items = list(reader)
    assert stream.largest == SBERBANK.max_line_bytes
    assert items[0] == LineError(
        1, ErrorCode.LINE_TOO_LONG, 'line longer than 65536 bytes')
    assert isinstance(items[1], Payment) and items[1].line == 2
    # The overlong line counts as a data line of unknown amount.
    assert len(items) == 2
    assert reader.summary.sha256 == hashlib.sha256(data).hexdigest()
    assert reader.summary.size == len(data)


def test_summary_keeps_the_first_errors_and_counts_all():
    lines = [LINE_2.replace('1002', str(n)).replace('99,99;', 'x;')
        for n in range(5)]
    reader = RegistryReader(
        io.BytesIO(sberbank_file(*lines, '=5;0;;0;;')), SBERBANK,
        max_errors=2)
    list(reader)
    assert reader.summary.error_count == 5
    assert [e.line for e in reader.summary.errors] == [1, 2]


def test_summary_is_refused_before_the_end():
    reader = RegistryReader(io.BytesIO(b''), SBERBANK)
    with pytest.raises(RuntimeError, match='not been read to its end'):
        assert reader.summary


def base_config(**changes):
    config = SBERBANK.to_dict()
    config.update(changes)
    return config


@pytest.mark.parametrize('changes, message', [
    ({'kind': 'refunds'}, '"kind" must be one of payments, debts, '
        "got 'refunds'"),
    ({'fields': ['account', 'amount']},
        '"fields" lacks accepted_at or accepted_date, operation_id'),
    ({'fields': ['accepted_date', 'operation_id', 'account', 'amount',
        'colour']}, '"fields": unknown field \'colour\''),
    ({'fields': ['accepted_date', 'operation_id', 'account', 'amount',
        'amount']}, '"fields": field \'amount\' appears twice'),
    ({'encoding': 'utf-16'}, "encoding 'utf-16' is not ASCII-compatible"),
    ({'encoding': 'klingon'}, "unknown encoding 'klingon'"),
    ({'delimiter': ';;'}, '"delimiter" must be one character'),
    ({'decimal_separator': ';'}, '"decimal_separator" must be "." or ","'),
    ({'money_unit': 'dollars'}, '"money_unit" must be one of kopecks, '
        "roubles, got 'dollars'"),
    ({'date_format': '%d.%m.%y'}, '"date_format": unsupported directive '
        "at position 6 of '%d.%m.%y'"),
    ({'date_format': '%d.%m'}, '"date_format" \'%d.%m\' lacks year'),
    ({'period_format': None}, 'missing key "period_format"'),
    ({'trailer': {'prefix': '=', 'fields': ['amount']}},
        '"trailer.fields" lacks count'),
    ({'readings': {'separator': ',', 'pair_separator': ':'}},
        '"readings" needs either "group" or a readings column'),
    ({'colour': 'red'}, 'unknown key "colour"'),
    ])
def test_unusable_layouts_are_refused_with_the_reason(changes, message):
    with pytest.raises(RegistryFormatError, match=re.escape(message)):
        RegistryFormat.from_dict(base_config(**changes))


def test_unknown_shipped_format():
    with pytest.raises(RegistryFormatError,
            match="no registry format named 'vtb'"):
        load_format('vtb')
