"""Printed documents of a centre's cash desk, in Russian on A4 with the
receipts' fonts: the slip handed to the payer and the shift report."""
import datetime as dt
import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from .fonts import BOLD
from .receipt import money, period_name
from .subsidy_decision import HEIGHT, TOP, _Page

CHANNELS = {'cash': 'наличными', 'card': 'банковской картой'}
BOTTOM = 60


@dataclass(frozen=True)
class SlipLine:
    period: dt.date
    service: str
    amount: object
    penalty: bool = False
    advance: bool = False


@dataclass(frozen=True)
class Slip:
    centre: str
    desk: str
    cashier: str
    number: int
    accepted_at: dt.datetime
    account_number: str
    payer: str
    address: str
    channel: str
    amount: object
    lines: tuple  # SlipLine
    balance: object  # debt (positive) or advance after the payment


@dataclass(frozen=True)
class ShiftPayment:
    number: int
    accepted_at: dt.datetime
    account_number: str
    channel: str
    amount: object


@dataclass(frozen=True)
class ShiftReport:
    centre: str
    desk: str
    cashier: str
    opened_at: dt.datetime
    closed_at: dt.datetime
    opening_cash: object
    cash_total: object
    card_total: object
    payments: tuple  # ShiftPayment


def payment_slip(slip):
    "The payer's slip of one desk payment, as PDF bytes."
    return _pdf(lambda page: _slip(page, slip))


def shift_report(report):
    "The report of a closed cash-desk shift, as PDF bytes."
    return _pdf(lambda page: _shift(page, report))


def _pdf(draw):
    stream = io.BytesIO()
    canvas = Canvas(stream, pagesize=A4, invariant=True)
    page = _Page(canvas)
    page.canvas = canvas
    draw(page)
    page.flush()
    canvas.showPage()
    canvas.save()
    return stream.getvalue()


def _slip(page, slip):
    page.line(slip.centre, BOLD)
    page.line(f'Касса: {slip.desk}. Кассир: {slip.cashier}')
    page.skip(2)
    page.line(f'КВИТАНЦИЯ ОБ ОПЛАТЕ № {slip.number}', BOLD, 12, 'centre')
    page.line(f'от {slip.accepted_at:%d.%m.%Y %H:%M}', align='centre')
    page.skip()
    page.line(f'Лицевой счёт № {slip.account_number}')
    page.line(f'Плательщик: {slip.payer}')
    page.paragraph(f'Адрес: {slip.address}')
    page.line(f'Принято {CHANNELS[slip.channel]}: {money(slip.amount)} руб.',
        BOLD)
    page.skip()
    page.line('Зачтено:', BOLD)
    for line in slip.lines:
        what = ('пени' if line.penalty
            else 'аванс' if line.advance else line.service)
        if line.penalty or line.advance:
            what = f'{line.service}, {what}'
        page.line(f'{period_name(line.period)} — {what}: '
            f'{money(line.amount)} руб.')
    page.skip()
    if slip.balance > 0:
        page.line(f'Остаток задолженности: {money(slip.balance)} руб.')
    else:
        page.line(f'Переплата (аванс): {money(-slip.balance)} руб.')
    page.skip(2)
    page.line('Кассир ____________________')


def _shift(page, report):
    page.line(report.centre, BOLD)
    page.skip(2)
    page.line('ОТЧЁТ КАССИРА ЗА СМЕНУ', BOLD, 12, 'centre')
    page.line(f'Касса: {report.desk}. Кассир: {report.cashier}',
        align='centre')
    page.line(f'Смена с {report.opened_at:%d.%m.%Y %H:%M} по '
        f'{report.closed_at:%d.%m.%Y %H:%M}', align='centre')
    page.skip()
    for number, payment in enumerate(report.payments, 1):
        if page.y < BOTTOM:
            page.flush()
            page.canvas.showPage()
            page.y = HEIGHT - TOP
        page.line(f'{number}. № {payment.number}, '
            f'{payment.accepted_at:%H:%M}, л/с {payment.account_number}, '
            f'{CHANNELS[payment.channel]}: {money(payment.amount)} руб.')
    page.skip()
    closing = report.opening_cash + report.cash_total
    for label, amount in (
            ('Остаток наличных на начало смены', report.opening_cash),
            ('Принято наличными', report.cash_total),
            ('Принято банковскими картами', report.card_total),
            ('Итого принято', report.cash_total + report.card_total),
            ('Остаток наличных на конец смены', closing)):
        page.line(f'{label}: {money(amount)} руб.', BOLD)
    page.line(f'Количество платежей: {len(report.payments)}')
    page.skip(2)
    page.line('Кассир ____________________   '
        'Старший кассир ____________________')
