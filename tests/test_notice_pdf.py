"""Letters from the receipt's data: the debt notice and the meter
verification reminder print their facts on one A4 page each."""
import datetime as dt
import re

from receipt_samples import receipt
from test_receipt_pdf import pages_of, text_of

from rkc.documents.notice import (
    debt_notice, render_letters, verification_reminder)


def _flat(pdf):
    return re.sub(r'\s+', ' ', text_of(pdf))


def test_debt_notice_states_the_debt_and_the_deadline(tmp_path):
    sample = receipt()
    pdf = tmp_path / 'notice.pdf'
    letter = debt_notice(sample, dt.date(2025, 7, 1), 20)
    assert render_letters([letter], pdf) == 1
    text = _flat(pdf)
    assert 'УВЕДОМЛЕНИЕ О ЗАДОЛЖЕННОСТИ' in text
    assert 'задолженность за жилое помещение и коммунальные услуги в ' \
        'размере 1 523,40 руб.' in text
    assert 'до 21.07.2025' in text
    assert sample.account_number in text and 'Иванов Иван Иванович' in text


def test_verification_reminder_names_meter_and_date(tmp_path):
    sample = receipt()
    pdf = tmp_path / 'reminders.pdf'
    letters = [verification_reminder(sample, dt.date(2025, 7, 1),
            '204518', 'Холодное водоснабжение', dt.date(2025, 9, 30)),
        debt_notice(sample, dt.date(2025, 7, 1), 20)]
    assert render_letters(letters, pdf) == 2
    assert pages_of(pdf) == 2
    text = _flat(pdf)
    assert 'прибора учёта № 204518 (Холодное водоснабжение)' in text
    assert 'истекает 30.09.2025' in text
