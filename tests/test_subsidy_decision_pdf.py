"""The printed subsidy decision: one A4 page in Russian stating the amount,
term and schedule when granted, every reason when refused."""
import datetime as dt
from decimal import Decimal

from test_receipt_pdf import pages_of, text_of

from rkc.documents.subsidy_decision import Decision, Member, render
from rkc.engine.subsidy import term_schedule

FAMILY = (
    Member('Иванов Иван Иванович', 'working', Decimal('15000.00')),
    Member('Иванова Мария Петровна', 'working', Decimal('15000.00')),
    Member('Иванов Пётр Иванович', 'child', Decimal('0.00')),
    )


def decision(**changes):
    values = dict(issuer='РКЦ «Центральный»', number='17',
        date=dt.date(2026, 10, 5), applicant='Иванов Иван Иванович',
        address='ул. Ленина, д. 1, кв. 5', account_number='1000000017',
        applied_on=dt.date(2026, 10, 1), members=FAMILY,
        income=Decimal('30000.00'), standard_cost=Decimal('7800.00'),
        actual_charges=Decimal('6123.45'), monthly=Decimal('4255.14'),
        granted=True, term_start=dt.date(2026, 10, 1),
        term_end=dt.date(2027, 3, 31),
        schedule=tuple(term_schedule(Decimal('4255.14'),
                dt.date(2026, 10, 1))))
    values.update(changes)
    return Decision(**values)


def flat(text):
    return ' '.join(text.split())


def test_granted_decision_states_amount_term_and_schedule(tmp_path):
    path = tmp_path / 'decision.pdf'
    path.write_bytes(render(decision()))
    text = flat(text_of(path))
    assert pages_of(path) == 1
    assert 'РЕШЕНИЕ № 17 от 05.10.2026' in text
    assert 'о предоставлении субсидии' in text
    assert 'в размере 4 255,14 руб. в месяц' in text
    assert 'с 01.10.2026 по 31.03.2027' in text
    assert 'Иванов Пётр Иванович — ребёнок, 0,00 руб.' in text
    assert text.count('4 255,14 руб.') == 7  # the amount and six months
    assert 'март 2027 г.: 4 255,14 руб.' in text.lower()


def test_refused_decision_states_every_reason(tmp_path):
    reasons = ('Не представлены документы: Справки о доходах.',
        'По адресу никто не зарегистрирован.')
    path = tmp_path / 'refusal.pdf'
    path.write_bytes(render(decision(granted=False, monthly=Decimal(0),
                term_start=None, term_end=None, schedule=(),
                reasons=reasons)))
    text = flat(text_of(path))
    assert 'об отказе в предоставлении субсидии' in text
    assert '1. Не представлены документы: Справки о доходах.' in text
    assert '2. По адресу никто не зарегистрирован.' in text
    assert 'Предоставить' not in text
