"""Letters to consumers from the receipt's data: the debt notice before
supply is restricted and the meter-verification reminder, and the
building-wide announcement, on a simple Russian A4 letter layout with the
receipt's fonts."""
import datetime as dt
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from .fonts import BOLD, REGULAR, TextSetter
from .receipt import money, period_name

WIDTH, HEIGHT = A4
LEFT, RIGHT, TOP = 70, WIDTH - 50, 60
LEADING = 15


@dataclass(frozen=True)
class Letter:
    sender: str
    addressee: str
    address: str
    account_number: str
    date: dt.date
    title: str
    paragraphs: tuple


def debt_notice(receipt, date, days_to_pay):
    "Notice of the debt shown on ``receipt`` and of the restriction."
    deadline = date + dt.timedelta(days=days_to_pay)
    return _letter(receipt, date, 'Уведомление о задолженности', (
        f'По лицевому счёту № {receipt.account_number} на начало периода '
        f'{period_name(receipt.period)} числится задолженность за жилое '
        'помещение и коммунальные услуги в размере '
        f'{money(receipt.opening_balance)} руб.',
        f'Просим погасить задолженность до {deadline:%d.%m.%Y}. В случае '
        'непогашения предоставление коммунальных услуг может быть '
        'ограничено или приостановлено в порядке, установленном '
        'Правилами предоставления коммунальных услуг (постановление '
        'Правительства РФ № 354).',
        'Если задолженность уже погашена, просим считать уведомление '
        'недействительным.'))


def verification_reminder(receipt, date, meter, service, due):
    "Reminder that a meter's verification (поверка) falls due."
    return _letter(receipt, date, 'Напоминание о поверке прибора учёта', (
        f'Срок поверки прибора учёта № {meter} ({service}) по адресу '
        f'{receipt.address} истекает {due:%d.%m.%Y}.',
        'После этой даты показания прибора не принимаются к расчёту и '
        'плата начисляется по среднему потреблению, а затем по '
        'нормативу. Просим своевременно организовать поверку и передать '
        'свидетельство о поверке в РКЦ.'))


def announcement(sender, addressee, address, account_number, date, title,
        text, starts, ends=None):
    """A building-wide announcement (e.g. a planned hot-water shutdown)
    addressed to one account; ``text`` in paragraphs split by blank
    lines."""
    when = (f'Срок: с {starts:%d.%m.%Y} по {ends:%d.%m.%Y}.' if ends
        else f'Срок: с {starts:%d.%m.%Y}.')
    paragraphs = tuple(p.strip() for p in text.split('\n\n') if p.strip())
    return Letter(sender, addressee, address, account_number, date, title,
        paragraphs + (when,))


def _letter(receipt, date, title, paragraphs):
    return Letter(receipt.payee.name, receipt.payer_full_name,
        str(receipt.address), receipt.account_number, date, title,
        paragraphs)


def render_letters(letters, path):
    "Render letters into one PDF file, one page each; returns the pages."
    canvas = Canvas(str(path), pagesize=A4, invariant=True)
    text = TextSetter(canvas)
    for letter in letters:
        y = HEIGHT - TOP
        text.text(LEFT, y, letter.sender, BOLD, 10)
        y -= 3 * LEADING
        for line in (letter.addressee, letter.address,
                f'Лицевой счёт № {letter.account_number}'):
            text.text(RIGHT, y, line, REGULAR, 10, 'right')
            y -= LEADING
        y -= 2 * LEADING
        text.text(WIDTH / 2, y, letter.title.upper(), BOLD, 12, 'centre')
        y -= 2 * LEADING
        for paragraph in letter.paragraphs:
            for line in text.wrap(paragraph, RIGHT - LEFT, REGULAR, 10):
                text.text(LEFT, y, line, REGULAR, 10)
                y -= LEADING
            y -= LEADING / 2
        text.text(LEFT, y - LEADING, f'{letter.date:%d.%m.%Y}', REGULAR, 10)
        text.flush()
        canvas.showPage()
    canvas.save()
    return len(letters)
