"CSV reports safe for spreadsheets, and registry files we write."
import csv
import datetime as dt
import io
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from rkc.payments.export import (
    RegistryWriteError,
    escape_cell,
    write_csv,
    write_debt_registry,
    write_registry,
)
from rkc.payments.registry import Debt, Payment, Reading, RegistryReader
from rkc.payments.registry_format import load_format

DEBTS = load_format('sberbank_debts')


@pytest.mark.parametrize('value, expected', [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ('+7 900 000-00-00', "'+7 900 000-00-00"),
    ('-2+3', "'-2+3"),
    ('@SUM(A1:A2)', "'@SUM(A1:A2)"),
    ('\tcmd', "'\tcmd"),
    ('\rcmd', "'\rcmd"),
    ('Иванов И.И.', 'Иванов И.И.'),
    ('a=b', 'a=b'),
    ('', ''),
    (Decimal('-5.00'), Decimal('-5.00')),
    (7, 7),
    (None, None),
    ])
def test_escape_cell(value, expected):
    assert escape_cell(value) == expected


def test_write_csv_escapes_header_and_cells_and_quotes_as_csv():
    out = io.StringIO()
    write_csv(out, [
        ['=1+1', 'ул. Мира; 3', Decimal('-12.50')],
        ['@cmd', 'plain', 3],
        ], header=['-name', 'address', 'amount'])
    assert out.getvalue() == (
        "'-name;address;amount\r\n"
        "'=1+1;\"ул. Мира; 3\";-12.50\r\n"
        "'@cmd;plain;3\r\n")
    rows = list(csv.reader(io.StringIO(out.getvalue()), delimiter=';'))
    assert rows[1] == ["'=1+1", 'ул. Мира; 3', '-12.50']


def debt_rows():
    return [
        dict(account='1000012345', payer='Иванов Иван Иванович',
            address='г. Тверь, ул. Ленина, д. 1, кв. 2',
            amount=Decimal('1234.50'), period=dt.date(2025, 5, 1)),
        dict(account='1000012346', payer='Петров П.П.', address='',
            amount=Decimal('0.00'), period=None),
        ]


def test_debt_registry_is_written_in_cp1251_with_a_trailer():
    out = io.BytesIO()
    assert write_debt_registry(out, DEBTS, debt_rows()) == 2
    assert out.getvalue() == (
        '1000012345;Иванов Иван Иванович;г. Тверь, ул. Ленина, д. 1, кв. 2;'
        '052025;1234,50\r\n'
        '1000012346;Петров П.П.;;;0,00\r\n'
        '=2;1234,50\r\n').encode('cp1251')


def test_debt_registry_reads_back_with_the_same_format():
    out = io.BytesIO()
    write_debt_registry(out, DEBTS, debt_rows())
    out.seek(0)
    reader = RegistryReader(out, DEBTS)
    records = list(reader)
    assert reader.summary.accepted
    assert records == [
        Debt(line=1, account='1000012345', payer='Иванов Иван Иванович',
            address='г. Тверь, ул. Ленина, д. 1, кв. 2',
            period=dt.date(2025, 5, 1), amount=Decimal('1234.50')),
        Debt(line=2, account='1000012346', payer='Петров П.П.',
            address='', period=None, amount=Decimal('0.00')),
        ]
    assert reader.summary.amount == Decimal('1234.50')


def payment(**changes):
    values = dict(
        line=0, accepted_at=dt.datetime(2025, 6, 20, 10, 15, 30),
        branch='8609', terminal='8609/0100', operation_id='1001',
        account='1000012345', payer='Иванов И.И.', address='ул. Мира, 3',
        period=dt.date(2025, 5, 1), amount=Decimal('1500.00'),
        commission=Decimal('15.00'),
        readings=(Reading('М-1', Decimal('12.345')),))
    values.update(changes)
    return Payment(**values)


@pytest.mark.parametrize('name', ['sberbank', 'csv_utf8'])
def test_payment_registry_reads_back(name):
    fmt = load_format(name)
    records = [payment(), payment(
        operation_id='1002', payer='Петров, П.', period=None, readings=(),
        commission=Decimal('0.00'), amount=Decimal('0.01'))]
    out = io.BytesIO()
    write_registry(out, fmt, records)
    out.seek(0)
    reader = RegistryReader(out, fmt)
    read = list(reader)
    assert reader.summary.accepted
    first_line = len(fmt.header) + 1
    assert read == [
        payment(line=first_line),
        replace(records[1], line=first_line + 1)]


@pytest.mark.parametrize('fmt_name, row, message', [
    ('sberbank_debts', {'account': '10;1'},
        "record 1: '10;1' contains the delimiter ';'"),
    ('sberbank_debts', {'account': ' '}, 'record 1: account is empty'),
    ('sberbank_debts', {'account': '=1'},
        'record 1: the line would read as the trailer'),
    ('sberbank_debts', {'payer': 'a\nb'},
        'record 1: a cell contains a line end'),
    ('sberbank_debts', {'payer': 'Smith 😀'},
        "record 1: '😀' cannot be written in cp1251"),
    ('sberbank_debts', {'amount': Decimal('1.005')},
        'record 1: amount 1.005 is not a non-negative kopeck amount'),
    ('sberbank_debts', {'amount': Decimal('-1.00')},
        'record 1: amount -1.00 is not a non-negative kopeck amount'),
    ])
def test_unwritable_debt_rows_are_refused(fmt_name, row, message):
    values = {**debt_rows()[0], **row}
    with pytest.raises(RegistryWriteError, match=re.escape(message)):
        write_debt_registry(io.BytesIO(), load_format(fmt_name), [values])


def test_payment_readings_that_cannot_be_written():
    fmt = load_format('csv_utf8')
    with pytest.raises(RegistryWriteError,
            match=re.escape(
                "record 1: meter 'M|1' contains a readings separator")):
        write_registry(io.BytesIO(), fmt, [payment(
            readings=(Reading('M|1', Decimal(1)),))])
    with pytest.raises(RegistryWriteError,
            match='needs a meter and a non-negative value'):
        write_registry(io.BytesIO(), fmt, [payment(
            readings=(Reading('M1', Decimal(-1)),))])


def test_debt_writer_needs_a_debt_format():
    with pytest.raises(RegistryWriteError,
            match="format 'sberbank' describes payments, not debts"):
        write_debt_registry(io.BytesIO(), load_format('sberbank'), [])
