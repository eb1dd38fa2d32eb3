"""Receipt PDFs: the QR code scans back to the payload, the text is all
there, bad bank details stop printing, bulk files are bounded and
idempotent."""
import re
import subprocess
from decimal import Decimal as D

import pytest
from receipt_samples import PAYEE, receipt
from test_qr import zbar

from rkc.documents.batch import delivery_order, render_batch
from rkc.documents.receipt import Address, ServiceLine, money, render
from rkc.engine.errors import CalculationError
from rkc.engine.qr import Payee


def text_of(pdf):
    return subprocess.run(['pdftotext', '-layout', str(pdf), '-'],
        capture_output=True, text=True, check=True).stdout


def pages_of(pdf):
    info = subprocess.run(['pdfinfo', str(pdf)], capture_output=True,
        text=True, check=True).stdout
    return int(re.search(r'^Pages:\s+(\d+)$', info, re.M).group(1))


def scan(pdf, tmp_path):
    "Rasterize the first page at 300 dpi and decode its QR code."
    subprocess.run(['pdftoppm', '-r', '300', '-gray', '-singlefile',
        '-f', '1', '-l', '1', '-png', str(pdf), str(tmp_path / 'page')],
        check=True)
    return zbar(tmp_path / 'page.png').decode('utf-8')


def test_qr_code_scans_to_the_exact_payload(tmp_path):
    sample = receipt()
    pdf = tmp_path / 'receipt.pdf'
    assert render([sample], pdf) == 1
    expected = (
        'ST00012|Name=АО «Теплоэнергосбыт», расчётно-кассовый центр '
        f'«Центральный»|PersonalAcc={PAYEE.account}|BankName=ПАО СБЕРБАНК'
        '|BIC=044525225|CorrespAcc=30101810400000000225'
        '|PayeeINN=7701234567|KPP=770101001|PersAcc=1000000000'
        '|LastName=Иванов|FirstName=Иван|MiddleName=Иванович'
        '|PayerAddress=г. Москва, ул. Ленина, д. 1, кв. 1'
        '|Purpose=Оплата ЖКУ за 06.2025, л/с 1000000000|PaymPeriod=062025'
        '|Sum=564658|AddAmount=1234|TechCode=02')
    assert sample.qr_payload() == expected
    assert scan(pdf, tmp_path) == expected


def test_total_to_pay_adds_up():
    sample = receipt()
    # 1523.40 opening − 1523.40 paid + 5634.24 charged + 12.34 penalties
    assert sample.charged == D('5634.24')
    assert sample.total_to_pay == D('5646.58')


def test_text_has_account_services_and_total(tmp_path):
    sample = receipt(3)
    pdf = tmp_path / 'receipt.pdf'
    render([sample], pdf)
    text = text_of(pdf)
    assert sample.account_number in text
    for line in sample.lines:
        assert re.search(rf'{re.escape(line.service)}\s+{re.escape(line.unit)}'
            rf'.*\s{re.escape(money(line.total))}$', text, re.M), line.service
    assert re.search(r'ИТОГО К ОПЛАТЕ, руб\.\s+5 646,58', text)
    assert 'Сведения о перерасчётах'.upper() in text
    assert 'Перерыв в подаче 21 ч' in text
    assert 'ХВС № 204518' in text and '123,456' in text
    assert 'Соглашение о рассрочке № 12/25' in text
    assert 'Ким Елена' in text and 'за июнь 2025 г.' in text


def test_advance_prints_no_sum_in_qr(tmp_path):
    sample = receipt(opening_balance=D('-9000.00'), penalties=D('0'))
    pdf = tmp_path / 'advance.pdf'
    render([sample], pdf)
    # −9000.00 − 1523.40 paid + 5634.24 charged: an advance remains.
    assert sample.total_to_pay == D('-4889.16')
    assert re.search(r'ИТОГО К ОПЛАТЕ, руб\.\s+-4 889,16', text_of(pdf))
    assert 'Sum=' not in scan(pdf, tmp_path)


def test_wrong_bank_details_stop_printing(tmp_path):
    wrong = Payee(**{**PAYEE.__dict__, 'bic': '044525974'})
    pdf = tmp_path / 'wrong.pdf'
    with pytest.raises(CalculationError) as error:
        render([receipt(0), receipt(1, payee=wrong)], pdf)
    assert str(error.value) == (
        f'settlement account {PAYEE.account} does not match БИК 044525974 '
        '(control digit check failed)')
    assert not pdf.exists()


def test_too_many_service_lines_are_refused(tmp_path):
    line = ServiceLine('Услуга', 'шт.', D('1'), D('1'), D('1.00'))
    with pytest.raises(CalculationError, match='receipt for account '
            '1000000000 has 15 service lines; the form holds 14'):
        render([receipt(lines=(line,) * 15)], tmp_path / 'long.pdf')


def test_bulk_files_are_bounded_sorted_and_idempotent(tmp_path):
    receipts = [receipt(i) for i in range(50)]
    out = tmp_path / 'out'
    paths = render_batch(reversed(receipts), out, 20, prefix='june')
    assert [p.name for p in paths] == [
        'june-00001.pdf', 'june-00002.pdf', 'june-00003.pdf']
    assert [pages_of(p) for p in paths] == [20, 20, 10]
    first = text_of(paths[0])
    streets = re.findall(r'г\. Москва, (.+?), д\. (\d+), кв\. (\d+)', first)
    keys = [(street, int(house), int(flat)) for street, house, flat in streets]
    assert len(keys) == 20 and keys == sorted(keys)
    stamps = [p.stat().st_mtime_ns for p in paths]

    again = render_batch(receipts, out, 20, prefix='june')
    assert again == paths
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]
    assert [p.stat().st_mtime_ns for p in paths] >= stamps
    assert [pages_of(p) for p in again] == [20, 20, 10]

    shorter = render_batch(receipts[:30], out, 20, prefix='june')
    assert sorted(p.name for p in out.iterdir()) == [
        'june-00001.pdf', 'june-00002.pdf']
    assert [pages_of(p) for p in shorter] == [20, 10]


def test_bulk_with_a_bad_receipt_writes_nothing(tmp_path):
    wrong = Payee(**{**PAYEE.__dict__, 'correspondent_account':
        '30101810400000000226'})
    receipts = [receipt(i) for i in range(5)] + [receipt(9, payee=wrong)]
    with pytest.raises(CalculationError, match='correspondent account'):
        render_batch(receipts, tmp_path, 2)
    assert list(tmp_path.iterdir()) == []


def test_delivery_order_sorts_house_numbers_naturally():
    houses = ['10', '2', '12а', '12', '1']
    receipts = [receipt(i, address=Address('г. Тула', 'ул. Мира', house,
        '1')) for i, house in enumerate(houses)]
    ordered = sorted(receipts, key=delivery_order)
    assert [r.address.house for r in ordered] == ['1', '2', '10', '12', '12а']
