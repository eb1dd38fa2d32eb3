"""The receipt (единый платёжный документ, ЕПД) as plain data, and its
fast A4 rendering with ReportLab's low-level canvas (rules.md §7).

The page layout is fixed like a printed form: everything that does not
depend on the receipt is drawn once per file as a form XObject; each page
adds only its values, one text object and the QR code as one path.
"""
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from rkc.engine.errors import CalculationError
from rkc.engine.qr import Payee, Payer, payment_payload

from . import qr_symbol
from .fonts import BOLD, REGULAR, TextSetter

ZERO = Decimal(0)
MONTHS = (
    'январь', 'февраль', 'март', 'апрель', 'май', 'июнь', 'июль', 'август',
    'сентябрь', 'октябрь', 'ноябрь', 'декабрь')


@dataclass(frozen=True)
class Address:
    locality: str
    street: str
    house: str
    flat: str = ''

    def __str__(self):
        flat = f', кв. {self.flat}' if self.flat else ''
        return f'{self.locality}, {self.street}, д. {self.house}{flat}'

    @property
    def delivery_key(self):
        "Postmen walk street by street, house by house, flat by flat."
        return (self.locality, self.street, _natural(self.house),
            _natural(self.flat))


def _natural(text):
    "Sort '2' before '10' and '12' before '12а'."
    return tuple(
        (0, int(part), '') if part.isdigit() else (1, 0, part)
        for part in re.findall(r'\d+|\D+', text))


@dataclass(frozen=True)
class ServiceLine:
    """One service of the period. ``charged`` includes the raising
    coefficient's ``excess``, shown separately as the law requires."""
    service: str
    unit: str
    volume: Decimal
    tariff: Decimal
    charged: Decimal
    norm: Decimal | None = None
    excess: Decimal = ZERO
    recalculation: Decimal = ZERO
    recalculation_reason: str = ''
    benefit: Decimal = ZERO

    @property
    def total(self):
        return self.charged + self.recalculation - self.benefit


@dataclass(frozen=True)
class MeterReading:
    meter: str
    service: str
    previous: Decimal
    current: Decimal

    @property
    def volume(self):
        return self.current - self.previous


@dataclass(frozen=True)
class Receipt:
    """A receipt for one personal account and period. ``opening_balance``
    is the debt at the start of the period (negative: an advance)."""
    account_number: str
    last_name: str
    first_name: str
    middle_name: str
    address: Address
    area: Decimal
    residents: int
    period: dt.date
    payee: Payee
    lines: tuple
    issue_date: dt.date
    due_date: dt.date
    opening_balance: Decimal = ZERO
    paid: Decimal = ZERO
    penalties: Decimal = ZERO
    readings: tuple = ()
    instalment: str = ''
    # Proves to the consumers' portal that the reader holds the receipt.
    portal_code: str = ''
    payer_full_name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, 'payer_full_name', ' '.join(
            part for part in (self.last_name, self.first_name,
                self.middle_name) if part))

    @property
    def charged(self):
        return sum((line.total for line in self.lines), ZERO)

    @property
    def total_to_pay(self):
        return self.opening_balance - self.paid + self.charged + self.penalties

    @property
    def recalculations(self):
        return [line for line in self.lines if line.recalculation]

    def qr_payload(self):
        payer = Payer(
            self.account_number, self.last_name, self.first_name,
            self.middle_name, str(self.address))
        return payment_payload(
            self.payee, payer,
            purpose=f'Оплата ЖКУ за {self.period:%m.%Y}, '
            f'л/с {self.account_number}',
            period=self.period, amount=max(self.total_to_pay, ZERO),
            penalty=self.penalties)


def money(amount):
    "1 234,56 — Russian grouping and decimal comma."
    return f'{amount:,.2f}'.replace(',', ' ').replace('.', ',')


def number(value, places):
    return '' if value is None else f'{value:.{places}f}'.replace('.', ',')


def as_read(value):
    "A reading with the meter's own resolution."
    return f'{value:,f}'.replace(',', ' ').replace('.', ',')


def period_name(period):
    return f'{MONTHS[period.month - 1]} {period.year} г.'


# Layout, in points from the top-left corner of an A4 page.
WIDTH, HEIGHT = A4
LEFT, RIGHT = 28, WIDTH - 28
PAYER_TOP, PAYMENT_TOP, CHARGES_TOP = 70, 190, 345
ROW = 12.5
SERVICE_ROWS, READING_ROWS, RECALCULATION_ROWS = 14, 7, 7
QR_SIZE = 116
SUBTITLE = 'для внесения платы за жилое помещение и коммунальные услуги'
# Charges table: (title lines, right edge, value alignment).
COLUMNS = (
    (('Вид услуги',), 150, 'left'),
    (('Ед.', 'изм.'), 178, 'left'),
    (('Объём', 'услуги'), 216, 'right'),
    (('Норма-', 'тив'), 250, 'right'),
    (('Тариф,', 'руб.'), 290, 'right'),
    (('Начислено', 'по тарифу'), 341, 'right'),
    (('в т.ч. повыш.', 'коэфф.'), 393, 'right'),
    (('Пере-', 'расчёты'), 439, 'right'),
    (('Льготы,', 'субсидии'), 486, 'right'),
    (('Итого', 'к оплате'), RIGHT, 'right'),
    )
TABLE_TOP = CHARGES_TOP + 14
BODY_TOP = TABLE_TOP + 24
TOTAL_TOP = BODY_TOP + SERVICE_ROWS * ROW
LOWER_TOP = TOTAL_TOP + ROW + 14
MIDDLE = 300
# Lower tables: (x, alignment) of each column.
READING_COLUMNS = ((LEFT, 'left'), (LEFT + 62, 'left'), (LEFT + 196, 'right'),
    (LEFT + 232, 'right'), (MIDDLE - 10, 'right'))
RECALCULATION_COLUMNS = ((MIDDLE, 'left'), (MIDDLE + 96, 'left'),
    (RIGHT - 4, 'right'))
LOWER_BOTTOM = LOWER_TOP + 24 + READING_ROWS * ROW


def _y(top):
    return HEIGHT - top


class ReceiptWriter:
    """Renders receipts into one PDF file, one page each. Use as a
    context manager; the file is written on exit."""

    def __init__(self, path, compress=False):
        self._canvas = Canvas(
            str(path), pagesize=A4, pageCompression=int(compress),
            invariant=True)
        self._canvas.setTitle('Единый платёжный документ')
        self._text = TextSetter(self._canvas)
        self._form = None
        self.pages = 0

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self._canvas.save()

    def add(self, receipt, payload=None):
        "Add a page; ``payload`` is the receipt's QR payload if known."
        if payload is None:
            payload = checked_payload(receipt)
        if self._form is None:
            self._form = 'receipt'
            self._canvas.beginForm(self._form)
            self._draw_form()
            self._canvas.endForm()
        self._canvas.doForm(self._form)
        self._draw_values(receipt)
        self._draw_qr(qr_symbol.encode(payload.encode('utf-8')))
        self._canvas.showPage()
        self.pages += 1

    def _draw_form(self):
        c, t = self._canvas, self._text
        c.setLineWidth(0.5)
        t.text(LEFT, _y(38), 'ЕДИНЫЙ ПЛАТЁЖНЫЙ ДОКУМЕНТ', BOLD, 12)
        t.text(LEFT, _y(51), SUBTITLE, REGULAR, 8)
        t.text(RIGHT, _y(38), 'Лицевой счёт №', REGULAR, 8, 'right')
        c.line(LEFT, _y(62), RIGHT, _y(62))
        self._section(LEFT, PAYER_TOP, MIDDLE - 6, 112, 'Плательщик')
        self._section(MIDDLE, PAYER_TOP, RIGHT, 112, 'Получатель платежа')
        for i, label in enumerate(('ФИО', 'Адрес', '', 'Площадь, м²',
                'Проживает, чел.')):
            t.text(LEFT + 4, _y(PAYER_TOP + 24 + i * ROW), label, BOLD, 7)
        for i, label in enumerate(('', '', 'ИНН / КПП', 'Р/с', 'Банк',
                'БИК', 'К/с')):
            t.text(MIDDLE + 4, _y(PAYER_TOP + 24 + i * ROW), label, BOLD, 7)
        self._section(LEFT, PAYMENT_TOP, RIGHT, 146,
            'Раздел 2. Расчёт размера платы и оплата')
        t.text(LEFT + 4 + QR_SIZE / 2, _y(PAYMENT_TOP + 142),
            'Оплата по QR-коду', REGULAR, 6.5, 'centre')
        labels = ('Расчётный период', 'Долг (+) / аванс (−) на начало периода',
            'Начислено за период', 'Оплачено в периоде', 'Пени',
            'Оплатить до')
        for i, label in enumerate(labels):
            t.text(LEFT + QR_SIZE + 18, _y(PAYMENT_TOP + 28 + i * ROW),
                label, REGULAR, 8)
        c.line(LEFT + QR_SIZE + 14, _y(PAYMENT_TOP + 110), RIGHT - 6,
            _y(PAYMENT_TOP + 110))
        t.text(LEFT + QR_SIZE + 18, _y(PAYMENT_TOP + 128),
            'ИТОГО К ОПЛАТЕ, руб.', BOLD, 11)
        self._section(LEFT, CHARGES_TOP, RIGHT,
            TOTAL_TOP + ROW - CHARGES_TOP + 2,
            'Раздел 3. Начисления за расчётный период')
        c.setFillGray(0.9)
        c.rect(LEFT, _y(BODY_TOP), RIGHT - LEFT, 24, stroke=0, fill=1)
        c.rect(LEFT, _y(TOTAL_TOP + ROW + 2), RIGHT - LEFT, ROW + 2,
            stroke=0, fill=1)
        c.setFillGray(0)
        left = LEFT
        for titles, right, _ in COLUMNS:
            for i, title in enumerate(titles):
                t.text((left + right) / 2, _y(TABLE_TOP + 10 + i * 8),
                    title, BOLD, 6.5, 'centre')
            if right != RIGHT:
                c.line(right, _y(TABLE_TOP), right, _y(TOTAL_TOP + ROW + 2))
            left = right
        for i in range(SERVICE_ROWS + 1):
            c.line(LEFT, _y(BODY_TOP + i * ROW), RIGHT, _y(BODY_TOP + i * ROW))
        t.text(LEFT + 4, _y(TOTAL_TOP + ROW - 1.5), 'Всего за период', BOLD, 7)
        self._section(LEFT, LOWER_TOP, MIDDLE - 6,
            LOWER_BOTTOM - LOWER_TOP + 2, 'Показания приборов учёта')
        self._header_row(READING_COLUMNS, LOWER_TOP + 24, (
            'Прибор учёта', 'Услуга', 'Предыдущие', 'Текущие', 'Расход'))
        self._section(MIDDLE, LOWER_TOP, RIGHT, LOWER_BOTTOM - LOWER_TOP + 2,
            'Сведения о перерасчётах')
        self._header_row(RECALCULATION_COLUMNS, LOWER_TOP + 24, (
            'Услуга', 'Основание', 'Сумма, руб.'))
        self._section(LEFT, LOWER_BOTTOM + 10, RIGHT, 40,
            'Сведения о рассрочке')
        c.line(LEFT, _y(HEIGHT - 46), RIGHT, _y(HEIGHT - 46))
        t.text(LEFT, _y(HEIGHT - 36), 'Дата формирования документа:',
            REGULAR, 7)
        t.text(RIGHT, _y(HEIGHT - 36), 'Оплата без комиссии — в кассах РКЦ; '
            'через банк — по QR-коду или реквизитам.', REGULAR, 6.5, 'right')
        t.flush()

    def _section(self, left, top, right, height, title):
        c = self._canvas
        c.rect(left, _y(top + height), right - left, height, stroke=1, fill=0)
        c.setFillGray(0.82)
        c.rect(left, _y(top + 12), right - left, 12, stroke=0, fill=1)
        c.setFillGray(0)
        self._text.text(left + 4, _y(top + 9), title.upper(), BOLD, 7.5)

    def _header_row(self, columns, top, titles):
        for (x, align), title in zip(columns, titles, strict=True):
            self._text.text(x + (4 if align == 'left' else 0), _y(top - 3),
                title, BOLD, 6.5, align)
        self._canvas.line(columns[0][0] + 2, _y(top), columns[-1][0] + 2,
            _y(top))

    def _draw_values(self, receipt):
        t = self._text
        t.text(RIGHT, _y(51), receipt.account_number, BOLD, 12, 'right')
        t.text(LEFT + t.width(SUBTITLE) + 4, _y(51),
            f'за {period_name(receipt.period)}', BOLD, 8)
        x = LEFT + 78
        t.text(x, _y(PAYER_TOP + 24), receipt.payer_full_name, BOLD, 8)
        t.lines(x, _y(PAYER_TOP + 24 + ROW), t.wrap(
            str(receipt.address), MIDDLE - 10 - x)[:2], ROW)
        t.text(x, _y(PAYER_TOP + 24 + 3 * ROW), number(receipt.area, 1))
        t.text(x, _y(PAYER_TOP + 24 + 4 * ROW), str(receipt.residents))
        payee, x = receipt.payee, MIDDLE + 56
        t.lines(MIDDLE + 4, _y(PAYER_TOP + 24), t.wrap(
            payee.name, RIGHT - MIDDLE - 8, BOLD)[:2], ROW, BOLD)
        for i, value in enumerate((
                f'{payee.inn} / {payee.kpp}', payee.account,
                payee.bank_name, payee.bic, payee.correspondent_account)):
            t.text(x, _y(PAYER_TOP + 24 + (i + 2) * ROW), value)

        values = (period_name(receipt.period),
            money(receipt.opening_balance), money(receipt.charged),
            money(receipt.paid), money(receipt.penalties),
            f'{receipt.due_date:%d.%m.%Y}')
        for i, value in enumerate(values):
            t.text(RIGHT - 8, _y(PAYMENT_TOP + 28 + i * ROW), value,
                BOLD if i == 5 else REGULAR, 8, 'right')
        t.text(RIGHT - 8, _y(PAYMENT_TOP + 128),
            money(receipt.total_to_pay), BOLD, 14, 'right')

        for i, line in enumerate(receipt.lines):
            self._row(COLUMNS, BODY_TOP + (i + 1) * ROW, (
                line.service, line.unit, number(line.volume, 3),
                number(line.norm, 3), money(line.tariff), money(line.charged),
                _money_or_blank(line.excess),
                _money_or_blank(line.recalculation),
                _money_or_blank(line.benefit), money(line.total)))
        self._row(COLUMNS, TOTAL_TOP + ROW, ('',) * 5 + (
            money(sum((line.charged for line in receipt.lines), ZERO)),
            _money_or_blank(sum((ln.excess for ln in receipt.lines), ZERO)),
            _money_or_blank(
                sum((ln.recalculation for ln in receipt.lines), ZERO)),
            _money_or_blank(sum((ln.benefit for ln in receipt.lines), ZERO)),
            money(receipt.charged)), BOLD)

        for i, reading in enumerate(receipt.readings):
            self._cells(READING_COLUMNS, LOWER_TOP + 24 + (i + 1) * ROW, (
                reading.meter, reading.service,
                as_read(reading.previous), as_read(reading.current),
                as_read(reading.volume)))
        for i, line in enumerate(receipt.recalculations):
            self._cells(RECALCULATION_COLUMNS,
                LOWER_TOP + 24 + (i + 1) * ROW, (
                    line.service, line.recalculation_reason,
                    money(line.recalculation)))
        t.lines(LEFT + 4, _y(LOWER_BOTTOM + 31), t.wrap(
            receipt.instalment or 'Рассрочка не предоставлялась.',
            RIGHT - LEFT - 8)[:2], 9)
        t.text(LEFT + 122, _y(HEIGHT - 36),
            f'{receipt.issue_date:%d.%m.%Y}', BOLD, 7)
        if receipt.portal_code:
            t.text(LEFT, _y(HEIGHT - 56), 'Код для подключения счёта в '
                f'личном кабинете: {receipt.portal_code}', REGULAR, 8)
        t.flush()

    def _row(self, columns, bottom, values, font=REGULAR):
        left = LEFT
        for (_, right, align), value in zip(columns, values, strict=True):
            x = left + 3 if align == 'left' else right - 3
            self._text.text(x, _y(bottom - 3.5), value, font, 7, align)
            left = right

    def _cells(self, columns, bottom, values):
        for (x, align), value in zip(columns, values, strict=True):
            self._text.text(x + (4 if align == 'left' else 0),
                _y(bottom - 3.5), value, REGULAR, 6.5, align)

    def _draw_qr(self, symbol):
        """The symbol as a 1-bit image mask, one image sample per module:
        crisp at any scale and far cheaper than one rectangle per module
        or per run of modules."""
        n = symbol.size
        scale = QR_SIZE / (n + 8)   # the standard's 4-module quiet zone
        x = LEFT + 6 + 4 * scale
        y = _y(PAYMENT_TOP + 16 + QR_SIZE) + 4 * scale
        padding = '0' * (-n % 8)
        bits = ''.join(row + padding for row in symbol.rows)
        samples = int(bits, 2).to_bytes(len(bits) // 8, 'big')
        # Decode [1 0]: samples of 1 (dark modules) are painted.
        self._canvas.addLiteral(
            f'q 0 g {n * scale:.3f} 0 0 {n * scale:.3f} {x:.2f} {y:.2f} cm '
            f'BI /W {n} /H {n} /IM true /D [1 0] /F /AHx ID\n'
            f'{samples.hex()}> EI Q')


def _money_or_blank(amount):
    return money(amount) if amount else ''


def checked_payload(receipt):
    """The receipt's QR payload, after checking that the receipt can be
    printed at all (bank details, room on the form)."""
    for what, items, limit in (
            ('service lines', receipt.lines, SERVICE_ROWS),
            ('meter readings', receipt.readings, READING_ROWS),
            ('recalculations', receipt.recalculations, RECALCULATION_ROWS)):
        if len(items) > limit:
            raise CalculationError(
                f'receipt for account {receipt.account_number} has '
                f'{len(items)} {what}; the form holds {limit}')
    return receipt.qr_payload()


def render(receipts, path, compress=False):
    "Render receipts into one PDF file; returns the number of pages."
    with ReceiptWriter(path, compress) as writer:
        for receipt in receipts:
            writer.add(receipt)
    return writer.pages
