"""The texts of the notices, in Russian: a written one (SMS and e-mail, with
a subject for e-mail) and a spoken one (amounts and dates in words) per
kind. A campaign may replace any of them; the placeholders are the same."""
import string
from decimal import Decimal

from rkc.engine.money import round_money

from .errors import ConfigError
from .words import day_in_words, digits_in_words, money_in_words

KINDS = ('due_reminder', 'debt_notice', 'reading_reminder',
    'verification_reminder', 'restriction_notice')
CENTRE = 'Расчётный центр {centre}, тел. {centre_phone}.'
DEFAULTS = {
    'due_reminder': (
        'Срок оплаты по лицевому счёту {number}',
        'По лицевому счёту {number} к оплате {amount} руб. до {due_date}. '
        + CENTRE,
        'Здравствуйте! Это расчётный центр {centre}. Напоминаем: по '
        'лицевому счёту {number_words} к оплате {amount_words}. Оплатить '
        'нужно до {due_date_words}.'),
    'debt_notice': (
        'Задолженность по лицевому счёту {number}',
        'Задолженность по лицевому счёту {number} — {amount} руб. Просим '
        'оплатить её, чтобы избежать пеней и ограничения услуг. ' + CENTRE,
        'Здравствуйте! Это расчётный центр {centre}. Задолженность по '
        'лицевому счёту {number_words} составляет {amount_words}. Просим '
        'оплатить её.'),
    'reading_reminder': (
        'Показания счётчиков по лицевому счёту {number}',
        'Передайте показания счётчиков по лицевому счёту {number} до '
        '{close_date}. ' + CENTRE,
        'Здравствуйте! Это расчётный центр {centre}. Передайте, '
        'пожалуйста, показания счётчиков по лицевому счёту {number_words} '
        'до {close_date_words}.'),
    'verification_reminder': (
        'Поверка счётчика по лицевому счёту {number}',
        'Срок поверки счётчика {meter} по лицевому счёту {number} — '
        '{verification_date}. После него показания не принимаются. '
        + CENTRE,
        'Здравствуйте! Это расчётный центр {centre}. Срок поверки счётчика '
        'по лицевому счёту {number_words} истекает {verification_date_words}.'
        ' Пожалуйста, проведите поверку.'),
    # Decree 354 п.119: {due_date} is the day restriction may begin.
    'restriction_notice': (
        'Уведомление об ограничении коммунальной услуги, лицевой счёт '
        '{number}',
        'Задолженность по лицевому счёту {number} — {amount} руб., более '
        'двух месячных размеров платы. Если её не погасить до {due_date}, '
        'предоставление коммунальной услуги будет ограничено (п. 117–119 '
        'Правил, утв. постановлением Правительства РФ № 354). ' + CENTRE,
        'Здравствуйте! Это расчётный центр {centre}. Задолженность по '
        'лицевому счёту {number_words} составляет {amount_words}. Если её '
        'не погасить до {due_date_words}, коммунальная услуга будет '
        'ограничена.'),
    }


def values(number, centre, centre_phone, amount=None, due_date=None,
        close_date=None, meter=None, verification_date=None):
    "The placeholders of one account's notice, written and spoken."
    result = {'number': number, 'number_words': digits_in_words(number),
        'centre': centre, 'centre_phone': centre_phone or ''}
    if amount is not None:
        amount = round_money(Decimal(amount))
        result.update(amount=f'{amount:.2f}'.replace('.', ','),
            amount_words=money_in_words(amount))
    for name, day in [('due_date', due_date), ('close_date', close_date),
            ('verification_date', verification_date)]:
        if day is not None:
            result.update({name: f'{day:%d.%m.%Y}',
                    f'{name}_words': day_in_words(day)})
    if meter is not None:
        result['meter'] = meter
    return result


def placeholders(template):
    "The names a template uses; a malformed one raises ConfigError."
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template)
            if name is not None}
    except ValueError as error:
        raise ConfigError('template', f'{template!r}: {error}') from error


def render(template, fields):
    "Fill in a template; a placeholder without a value raises ConfigError."
    missing = placeholders(template) - set(fields)
    if missing:
        raise ConfigError('template',
            'unknown placeholder ' + ', '.join(f'{{{n}}}' for n in sorted(
                    missing)) + f' in {template!r}')
    return template.format_map(fields)
