"""Realistic sample receipts for the receipt tests and the benchmark."""
import datetime as dt
from decimal import Decimal as D

from rkc.documents.receipt import Address, MeterReading, Receipt, ServiceLine
from rkc.engine.bank import with_control_digit
from rkc.engine.qr import Payee

BIC = '044525225'
PAYEE = Payee(
    name='АО «Теплоэнергосбыт», расчётно-кассовый центр «Центральный»',
    inn='7701234567', kpp='770101001',
    account=with_control_digit('40702810000000012345', BIC),
    bank_name='ПАО СБЕРБАНК', bic=BIC,
    correspondent_account='30101810400000000225')

STREETS = ('ул. Ленина', 'пр. Мира', 'ул. Гагарина', 'ул. Садовая')
NAMES = (('Иванов', 'Иван', 'Иванович'), ('Петрова', 'Анна', 'Сергеевна'),
    ('Сидоренко', 'Олег', 'Петрович'), ('Ким', 'Елена', ''))


def service_lines():
    return (
        ServiceLine('Холодное водоснабжение', 'м³', D('8.333'),
            D('52.34'), D('436.15'), norm=D('4.850')),
        ServiceLine('Горячее водоснабжение', 'м³', D('3.210'), D('245.17'),
            D('787.00'), norm=D('3.570'), recalculation=D('-120.35'),
            recalculation_reason='Перерыв в подаче 21 ч'),
        ServiceLine('Водоотведение', 'м³', D('11.543'), D('40.18'),
            D('463.80'), norm=D('8.420')),
        ServiceLine('Отопление', 'Гкал', D('1.01541'), D('2850.40'),
            D('2894.32')),
        ServiceLine('Электроснабжение', 'кВт·ч', D('14.550'), D('78.51'),
            D('1142.32'), norm=D('4.850'), excess=D('380.77'),
            benefit=D('250.00')),
        ServiceLine('Обращение с ТКО', 'чел.', D('3'), D('112.40'),
            D('337.20'), recalculation=D('-56.20'),
            recalculation_reason='Временное отсутствие 16 дн.'),
        )


def receipt(i=0, **changes):
    last, first, middle = NAMES[i % len(NAMES)]
    fields = dict(
        account_number=f'{1000000000 + i * 7919 % 90000000}',
        last_name=last, first_name=first, middle_name=middle,
        address=Address('г. Москва', STREETS[i % len(STREETS)],
            str(1 + i // 40 % 30), str(1 + i % 120)),
        area=D('54.3'), residents=3, period=dt.date(2025, 6, 1),
        payee=PAYEE, lines=service_lines(),
        issue_date=dt.date(2025, 7, 1), due_date=dt.date(2025, 7, 10),
        opening_balance=D('1523.40'), paid=D('1523.40'),
        penalties=D('12.34'),
        readings=(
            MeterReading('ХВС № 204518', 'Холодное водоснабжение',
                D('123.456'), D('131.789')),
            MeterReading('ГВС № 204519', 'Горячее водоснабжение',
                D('88.100'), D('91.310')),
            MeterReading('ЭЭ № 77120', 'Электроснабжение', D('15230'),
                D('15412'))),
        instalment='Соглашение о рассрочке № 12/25 от 15.01.2025: '
        'платёж 3 200,00 руб. до 15.07.2025, остаток 19 200,00 руб.')
    fields.update(changes)
    return Receipt(**fields)
