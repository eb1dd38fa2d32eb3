"""The cash desk's printed documents in Russian: the payer's slip shows
what the money was credited to, the shift report its payments and totals
and runs onto more pages when the shift was long."""
import datetime as dt
from decimal import Decimal

from test_receipt_pdf import pages_of, text_of

from rkc.documents.cash_desk import (
    ShiftPayment, ShiftReport, Slip, SlipLine, payment_slip, shift_report)

AT = dt.datetime(2026, 11, 26, 10, 15)


def flat(text):
    return ' '.join(text.split())


def test_slip_shows_what_the_payment_paid(tmp_path):
    slip = Slip('РКЦ «Центральный»', 'Окно 1', 'Петрова А. А.', 42, AT,
        '0100000016', 'Иванов Иван Иванович', 'Город, ул. Ленина, 1, кв. 5',
        'card', Decimal('1300.00'), (
            SlipLine(dt.date(2026, 9, 1), 'Отопление', Decimal('1000.00')),
            SlipLine(dt.date(2026, 9, 1), 'Отопление', Decimal('50.00'),
                penalty=True),
            SlipLine(dt.date(2026, 11, 1), 'Отопление', Decimal('250.00'),
                advance=True)),
        Decimal('-250.00'))
    path = tmp_path / 'slip.pdf'
    path.write_bytes(payment_slip(slip))
    text = flat(text_of(path))
    assert 'КВИТАНЦИЯ ОБ ОПЛАТЕ № 42' in text
    assert 'от 26.11.2026 10:15' in text
    assert 'Лицевой счёт № 0100000016' in text
    assert 'Принято банковской картой: 1 300,00 руб.' in text
    assert 'сентябрь 2026 г. — отопление: 1 000,00 руб.' in text.lower()
    assert 'Отопление, пени: 50,00 руб.' in text
    assert 'Отопление, аванс: 250,00 руб.' in text
    assert 'Переплата (аванс): 250,00 руб.' in text


def test_shift_report_totals_and_pages(tmp_path):
    payments = tuple(ShiftPayment(n, AT + dt.timedelta(minutes=n),
            f'01000000{n:02d}', 'cash' if n % 2 else 'card',
            Decimal('100.00')) for n in range(1, 81))
    report = ShiftReport('РКЦ «Центральный»', 'Окно 1', 'Петрова А. А.',
        AT, AT + dt.timedelta(hours=8), Decimal('500.00'),
        Decimal('4000.00'), Decimal('4000.00'), payments)
    path = tmp_path / 'shift.pdf'
    path.write_bytes(shift_report(report))
    text = flat(text_of(path))
    assert pages_of(path) == 2
    assert 'ОТЧЁТ КАССИРА ЗА СМЕНУ' in text
    assert 'Смена с 26.11.2026 10:15 по 26.11.2026 18:15' in text
    assert '80. № 80, 11:35, л/с 0100000080, банковской картой: ' \
        '100,00 руб.' in text
    assert 'Принято наличными: 4 000,00 руб.' in text
    assert 'Итого принято: 8 000,00 руб.' in text
    assert 'Остаток наличных на конец смены: 4 500,00 руб.' in text
    assert 'Количество платежей: 80' in text
