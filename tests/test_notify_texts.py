"""The pure parts of the notifications: amounts and dates in Russian words,
quiet hours, phone numbers, templates and gateway request bodies."""
import datetime as dt
from decimal import Decimal

import pytest

from rkc.notify import sms, texts
from rkc.notify.errors import ConfigError
from rkc.notify.quiet import quiet_until
from rkc.notify.words import day_in_words, money_in_words, number_in_words


@pytest.mark.parametrize('amount, words', [
        ('0', 'ноль рублей'),
        ('1', 'один рубль'),
        ('2.01', 'два рубля одна копейка'),
        ('4.02', 'четыре рубля две копейки'),
        ('11.11', 'одиннадцать рублей одиннадцать копеек'),
        ('21.50', 'двадцать один рубль пятьдесят копеек'),
        ('112', 'сто двенадцать рублей'),
        ('1234.56', 'одна тысяча двести тридцать четыре рубля пятьдесят '
            'шесть копеек'),
        ('2000', 'две тысячи рублей'),
        ('15000', 'пятнадцать тысяч рублей'),
        ('1001001', 'один миллион одна тысяча один рубль'),
        ('5000000.05', 'пять миллионов рублей пять копеек'),
        # Half-up to kopecks first, as every amount of the receipt.
        ('0.005', 'ноль рублей одна копейка'),
        ('-3.1', 'минус три рубля десять копеек'),
        ])
def test_money_in_words(amount, words):
    assert money_in_words(Decimal(amount)) == words


def test_number_out_of_range():
    with pytest.raises(ValueError, match='no words'):
        number_in_words(10 ** 12)
    with pytest.raises(ValueError, match='no words'):
        number_in_words(-1)


@pytest.mark.parametrize('day, words', [
        (1, 'первого марта'), (3, 'третьего марта'),
        (15, 'пятнадцатого марта'),
        (20, 'двадцатого марта'), (22, 'двадцать второго марта'),
        (30, 'тридцатого марта'), (31, 'тридцать первого марта'),
        ])
def test_day_in_words(day, words):
    assert day_in_words(dt.date(2026, 3, day)) == words


NIGHT = (dt.time(21), dt.time(9))


@pytest.mark.parametrize('now, window, until', [
        ('2026-11-26 20:59', NIGHT, None),
        ('2026-11-26 21:00', NIGHT, '2026-11-27 09:00'),
        ('2026-11-26 23:30', NIGHT, '2026-11-27 09:00'),
        ('2026-11-27 00:10', NIGHT, '2026-11-27 09:00'),
        ('2026-11-27 08:59', NIGHT, '2026-11-27 09:00'),
        ('2026-11-27 09:00', NIGHT, None),
        ('2026-11-27 13:30', (dt.time(13), dt.time(14)), '2026-11-27 14:00'),
        ('2026-11-27 14:00', (dt.time(13), dt.time(14)), None),
        ('2026-11-27 03:00', (None, None), None),
        ('2026-11-27 03:00', (dt.time(9), dt.time(9)), None),
        ])
def test_quiet_until(now, window, until):
    expected = until and dt.datetime.fromisoformat(until)
    assert quiet_until(dt.datetime.fromisoformat(now), *window) == expected


@pytest.mark.parametrize('phone, normalised', [
        ('+7 (912) 345-67-89', '79123456789'),
        ('8 912 345 67 89', '79123456789'),
        ('9123456789', '79123456789'),
        ('+7 343 22-33-44', None),
        ('12345', None),
        ('', None),
        (None, None),
        ])
def test_normalise_phone(phone, normalised):
    assert sms.normalise_phone(phone) == normalised


def test_default_texts_fill_in():
    values = texts.values('0100000017', 'Центральный', '+7 343 000-00-00',
        amount=Decimal('1234.5'), due_date=dt.date(2026, 12, 15))
    subject, text, spoken = texts.DEFAULTS['due_reminder']
    assert texts.render(text, values) == (
        'По лицевому счёту 0100000017 к оплате 1234,50 руб. до 15.12.2026. '
        'Расчётный центр Центральный, тел. +7 343 000-00-00.')
    assert 'ноль один ноль ноль ноль ноль ноль ноль один семь' in \
        texts.render(spoken, values)
    assert 'одна тысяча двести тридцать четыре рубля пятьдесят копеек' in \
        texts.render(spoken, values)
    assert 'пятнадцатого декабря' in texts.render(spoken, values)


def test_template_errors_name_the_problem():
    values = texts.values('0100000017', 'Центральный', None, amount=1)
    with pytest.raises(ConfigError, match=r'unknown placeholder \{amout\}'):
        texts.render('К оплате {amout} руб.', values)
    with pytest.raises(ConfigError) as error:
        texts.render('К оплате {amount руб.', values)
    assert error.value.code == 'template'


def test_gateway_body_keeps_json_valid():
    "Quotes and line breaks in a text cannot break the JSON body."
    settings = sms.GatewaySettings('https://gateway.test/send',
        body='{"msg": {"to": "{phone}", "body": "{text}"}, "ref": '
        '"{reference}", "sender": "RKC"}')
    assert sms.body(settings, '79123456789', 'Счёт "1"\nоплатите', 7) == {
        'msg': {'to': '79123456789', 'body': 'Счёт "1"\nоплатите'},
        'ref': '7', 'sender': 'RKC'}


@pytest.mark.parametrize('url, body, code', [
        (None, sms.DEFAULT_BODY, 'no_gateway_url'),
        ('', sms.DEFAULT_BODY, 'no_gateway_url'),
        ('ftp://gateway.test', sms.DEFAULT_BODY, 'gateway_url'),
        ('https://gateway.test', '{"to": ', 'body_template'),
        ('https://gateway.test', '["{phone}"]', 'body_template'),
        ])
def test_gateway_settings_refused(url, body, code):
    with pytest.raises(ConfigError) as error:
        sms.GatewaySettings(url, body=body).check()
    assert error.value.code == code


@pytest.mark.parametrize('status, state', [
        ('DELIVRD', 'delivered'), ('delivered', 'delivered'),
        ('UNDELIV', 'failed'), ('expired', 'failed'),
        ('accepted', None), ('', None),
        ])
def test_report_status(status, state):
    assert sms.report_status(status) == state
