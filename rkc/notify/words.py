"""Amounts and dates in Russian words, for texts that are spoken: espeak-ng
reads digits but not "1 234,56 руб." as money."""
from decimal import Decimal

from rkc.engine.money import round_money

UNITS = ('', 'один', 'два', 'три', 'четыре', 'пять', 'шесть', 'семь',
    'восемь', 'девять')
FEMININE_UNITS = ('', 'одна', 'две') + UNITS[3:]
TEENS = ('десять', 'одиннадцать', 'двенадцать', 'тринадцать',
    'четырнадцать', 'пятнадцать', 'шестнадцать', 'семнадцать',
    'восемнадцать', 'девятнадцать')
TENS = ('', '', 'двадцать', 'тридцать', 'сорок', 'пятьдесят', 'шестьдесят',
    'семьдесят', 'восемьдесят', 'девяносто')
HUNDREDS = ('', 'сто', 'двести', 'триста', 'четыреста', 'пятьсот',
    'шестьсот', 'семьсот', 'восемьсот', 'девятьсот')
# Each power of a thousand: its forms for 1, 2–4 and 5+, and its gender.
SCALES = (
    (('', '', ''), False),
    (('тысяча', 'тысячи', 'тысяч'), True),
    (('миллион', 'миллиона', 'миллионов'), False),
    (('миллиард', 'миллиарда', 'миллиардов'), False),
    )
RUBLES = ('рубль', 'рубля', 'рублей')
KOPECKS = ('копейка', 'копейки', 'копеек')
ORDINAL_DAYS = ('первого', 'второго', 'третьего', 'четвёртого', 'пятого',
    'шестого', 'седьмого', 'восьмого', 'девятого', 'десятого',
    'одиннадцатого', 'двенадцатого', 'тринадцатого', 'четырнадцатого',
    'пятнадцатого', 'шестнадцатого', 'семнадцатого', 'восемнадцатого',
    'девятнадцатого', 'двадцатого')
MONTHS = ('января', 'февраля', 'марта', 'апреля', 'мая', 'июня', 'июля',
    'августа', 'сентября', 'октября', 'ноября', 'декабря')


def plural(number, forms):
    "The form of a noun after ``number``: 1 рубль, 2 рубля, 5 рублей."
    one, few, many = forms
    if number % 100 in range(11, 15):
        return many
    last = number % 10
    if last == 1:
        return one
    if last in (2, 3, 4):
        return few
    return many


def _triple(number, feminine):
    hundreds, rest = divmod(number, 100)
    words = [HUNDREDS[hundreds]]
    if 10 <= rest < 20:
        words.append(TEENS[rest - 10])
    else:
        tens, units = divmod(rest, 10)
        words += [TENS[tens], (FEMININE_UNITS if feminine else UNITS)[units]]
    return [w for w in words if w]


def number_in_words(number, feminine=False):
    """A whole number below a trillion in words; ``feminine`` for the
    nouns that need одна and две (копейка, тысяча)."""
    if not 0 <= number < 1000 ** len(SCALES):
        raise ValueError(f'no words for {number}')
    if number == 0:
        return 'ноль'
    words = []
    for power in range(len(SCALES) - 1, -1, -1):
        triple = number // 1000 ** power % 1000
        if not triple:
            continue
        forms, scale_feminine = SCALES[power]
        words += _triple(triple, feminine if power == 0 else scale_feminine)
        if power:
            words.append(plural(triple, forms))
    return ' '.join(words)


def money_in_words(amount):
    """An amount of money (rounded half-up to kopecks) in words: "сто
    двадцать три рубля сорок пять копеек"; whole roubles without kopecks."""
    amount = round_money(Decimal(amount))
    sign = 'минус ' if amount < 0 else ''
    kopecks_total = int(abs(amount) * 100)
    rubles, kopecks = divmod(kopecks_total, 100)
    text = f'{number_in_words(rubles)} {plural(rubles, RUBLES)}'
    if kopecks:
        text += (f' {number_in_words(kopecks, feminine=True)} '
            f'{plural(kopecks, KOPECKS)}')
    return sign + text


def day_in_words(day):
    "The day and month as said after «до»: «пятнадцатого декабря»."
    if day.day <= 20:
        ordinal = ORDINAL_DAYS[day.day - 1]
    elif day.day % 10 == 0:
        ordinal = 'тридцатого'
    else:
        ordinal = f'{TENS[day.day // 10]} {ORDINAL_DAYS[day.day % 10 - 1]}'
    return f'{ordinal} {MONTHS[day.month - 1]}'


def digits_in_words(text):
    "An account or meter number said digit by digit."
    return ' '.join(number_in_words(int(c)) for c in text if c.isdigit())
