"""The printed decision on a housing subsidy application (Decree 761,
п. 45): granted with the amount, term and schedule, or refused with every
reason — one A4 page in Russian with the receipts' fonts."""
import datetime as dt
import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from .fonts import BOLD, REGULAR, TextSetter
from .receipt import money, period_name

WIDTH, HEIGHT = A4
LEFT, RIGHT, TOP = 70, WIDTH - 50, 60
LEADING = 14
GROUPS = {
    'working': 'трудоспособный',
    'pensioner': 'пенсионер',
    'child': 'ребёнок',
    }


@dataclass(frozen=True)
class Member:
    name: str
    group: str
    average_income: object


@dataclass(frozen=True)
class Decision:
    issuer: str
    number: str
    date: dt.date
    applicant: str
    address: str
    account_number: str
    applied_on: dt.date
    members: tuple
    income: object  # Д, the family's average monthly income
    standard_cost: object  # ССЖКУ
    actual_charges: object
    monthly: object
    granted: bool
    term_start: dt.date | None = None
    term_end: dt.date | None = None
    schedule: tuple = ()  # (month, amount)
    reasons: tuple = ()


def render(decision):
    "The decision as PDF bytes."
    stream = io.BytesIO()
    canvas = Canvas(stream, pagesize=A4, invariant=True)
    page = _Page(canvas)
    page.line(decision.issuer, BOLD, 10)
    page.skip(2)
    page.line(f'РЕШЕНИЕ № {decision.number} от {decision.date:%d.%m.%Y}',
        BOLD, 12, 'centre')
    title = ('о предоставлении субсидии на оплату жилого помещения '
        'и коммунальных услуг' if decision.granted else
        'об отказе в предоставлении субсидии на оплату жилого помещения '
        'и коммунальных услуг')
    page.paragraph(title, BOLD, 10)
    page.skip()
    page.paragraph(
        f'Заявитель: {decision.applicant}. Адрес: {decision.address}. '
        f'Лицевой счёт № {decision.account_number}. Заявление от '
        f'{decision.applied_on:%d.%m.%Y}.')
    page.line('Состав семьи и среднемесячный доход:', BOLD)
    for index, member in enumerate(decision.members, 1):
        page.line(f'{index}. {member.name} — {GROUPS[member.group]}, '
            f'{money(member.average_income)} руб.')
    page.paragraph(
        f'Среднемесячный совокупный доход семьи: {money(decision.income)} '
        f'руб. Стандарт стоимости ЖКУ на семью: '
        f'{money(decision.standard_cost)} руб. Фактические ежемесячные '
        f'расходы на ЖКУ: {money(decision.actual_charges)} руб.')
    page.skip()
    if decision.granted:
        page.paragraph(
            f'Предоставить субсидию в размере {money(decision.monthly)} '
            f'руб. в месяц на срок с {decision.term_start:%d.%m.%Y} по '
            f'{decision.term_end:%d.%m.%Y} (постановление Правительства РФ '
            'от 14.12.2005 № 761, ст. 159 ЖК РФ). Субсидия зачисляется на '
            'лицевой счёт в уменьшение платы за ЖКУ; неполные месяцы — '
            'пропорционально дням.')
        for month, amount in decision.schedule:
            page.line(f'{period_name(month)}: {money(amount)} руб.')
        page.skip()
        page.paragraph(
            'Получатель обязан в течение одного месяца сообщить об '
            'изменении места жительства, состава семьи, доходов и '
            'гражданства; при изменениях размер субсидии '
            'пересчитывается на оставшийся срок.')
    else:
        page.line('Отказать в предоставлении субсидии по основаниям:', BOLD)
        for index, reason in enumerate(decision.reasons, 1):
            page.paragraph(f'{index}. {reason}')
        page.skip()
        page.paragraph(
            'Решение может быть обжаловано в установленном порядке. '
            'После устранения причин отказа заявление может быть подано '
            'повторно.')
    page.skip(2)
    page.line('Специалист ____________________')
    page.flush()
    canvas.showPage()
    canvas.save()
    return stream.getvalue()


class _Page:
    "Lines downwards from the top of one page."

    def __init__(self, canvas):
        self.text = TextSetter(canvas)
        self.y = HEIGHT - TOP

    def line(self, text, font=REGULAR, size=10, align='left'):
        x = {'left': LEFT, 'centre': WIDTH / 2, 'right': RIGHT}[align]
        self.text.text(x, self.y, text, font, size, align)
        self.y -= LEADING

    def paragraph(self, text, font=REGULAR, size=10):
        for line in self.text.wrap(text, RIGHT - LEFT, font, size):
            self.line(line, font, size)

    def skip(self, lines=1):
        self.y -= LEADING * lines / 2

    def flush(self):
        self.text.flush()
