"""The GOST R 56042-2014 payment payload and the QR symbol encoder."""
import datetime as dt
import shutil
import subprocess
from decimal import Decimal as D

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from rkc.documents import qr_symbol
from rkc.engine.bank import with_control_digit
from rkc.engine.errors import CalculationError
from rkc.engine.qr import Payee, Payer, payment_payload

BIC = '044525225'
PAYEE = Payee(
    name='АО «Теплоэнергосбыт»', inn='7701234567', kpp='770101001',
    account=with_control_digit('40702810000000012345', BIC),
    bank_name='ПАО СБЕРБАНК', bic=BIC,
    correspondent_account='30101810400000000225')
PAYER = Payer('1234567890', 'Иванов', 'Иван', 'Иванович',
    'г. Москва, ул. Ленина, д. 12, кв. 45')
JUNE = dt.date(2025, 6, 1)


def payload(payee=PAYEE, payer=PAYER, **changes):
    arguments = dict(purpose='Оплата ЖКУ за 06.2025', period=JUNE,
        amount=D('5646.58'), penalty=D('12.34'))
    arguments.update(changes)
    return payment_payload(payee, payer, **arguments)


def test_payload_fields_in_order():
    assert payload() == (
        'ST00012|Name=АО «Теплоэнергосбыт»'
        f'|PersonalAcc={PAYEE.account}|BankName=ПАО СБЕРБАНК'
        '|BIC=044525225|CorrespAcc=30101810400000000225'
        '|PayeeINN=7701234567|KPP=770101001|PersAcc=1234567890'
        '|LastName=Иванов|FirstName=Иван|MiddleName=Иванович'
        '|PayerAddress=г. Москва, ул. Ленина, д. 12, кв. 45'
        '|Purpose=Оплата ЖКУ за 06.2025|PaymPeriod=062025'
        '|Sum=564658|AddAmount=1234|TechCode=02')


def test_payload_leaves_out_empty_fields():
    text = payload(payer=Payer('77'), penalty=D('0'), amount=D('0'))
    assert '|PersAcc=77|Purpose=' in text
    assert 'Sum=' not in text and 'AddAmount' not in text
    assert 'LastName' not in text


def test_wrong_account_for_bic_is_refused():
    wrong = Payee(**{**PAYEE.__dict__, 'bic': '044525974'})
    with pytest.raises(CalculationError) as error:
        payload(payee=wrong)
    assert str(error.value) == (
        f'settlement account {PAYEE.account} does not match БИК 044525974 '
        '(control digit check failed)')


def test_wrong_correspondent_account_is_refused():
    wrong = Payee(**{**PAYEE.__dict__,
        'correspondent_account': '30101810400000000226'})
    with pytest.raises(CalculationError, match='correspondent account '
            '30101810400000000226 does not match БИК 044525225'):
        payload(payee=wrong)


@pytest.mark.parametrize('changes, message', [
    (dict(purpose='Оплата | пени'),
        'QR field Purpose must not contain "|"'),
    (dict(purpose='строка\nвторая'), 'QR field Purpose must be one line'),
    (dict(purpose='я' * 161),
        'QR field Purpose is 161 characters long, the limit is 160'),
    (dict(amount=D('-1.00')), 'QR field Sum must not be negative: -1.00'),
    (dict(amount=D('1.005')), 'QR field Sum must be whole kopecks: 1.005'),
    (dict(period='2025-06'), "PaymPeriod must be a date: '2025-06'"),
    ])
def test_bad_fields_are_refused(changes, message):
    with pytest.raises(CalculationError) as error:
        payload(**changes)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize('field, value, message', [
    ('name', 'ООО «Вода|Тепло»', 'QR field Name must not contain "|"'),
    ('bank_name', 'Б' * 46, 'QR field BankName is 46 characters long'),
    ('inn', '77012345', "payee ИНН must be 10 or 12 digits: '77012345'"),
    ('kpp', '7701010', "payee КПП is malformed: '7701010'"),
    ('account', '4070281000000001234',
        "settlement account must be 20 digits: '4070281000000001234'"),
    ])
def test_bad_payee_is_refused(field, value, message):
    with pytest.raises(CalculationError) as error:
        payload(payee=Payee(**{**PAYEE.__dict__, field: value}))
    assert str(error.value).startswith(message)


def test_pipe_in_payer_name_is_refused():
    with pytest.raises(CalculationError,
            match='QR field LastName must not contain'):
        payload(payer=Payer('1', last_name='Иванов|Петров'))


@settings(max_examples=50, deadline=None)
@given(st.text(st.characters(blacklist_characters='|\r\n'), max_size=160),
    st.decimals(min_value=0, max_value=10**7, places=2))
def test_payload_splits_back_into_its_fields(purpose, amount):
    text = payload(purpose=purpose, amount=amount)
    header, *pairs = text.split('|')
    fields = dict(pair.split('=', 1) for pair in pairs)
    assert header == 'ST00012'
    assert fields.get('Purpose', '') == purpose
    assert fields.get('Sum') == (str(int(amount * 100)) if amount else None)
    assert list(fields)[:5] == [
        'Name', 'PersonalAcc', 'BankName', 'BIC', 'CorrespAcc']


# The symbol encoder.

def _function_modules(version):
    "Row-major indices of the modules that carry no codeword bits."
    layout = qr_symbol._layout(version)
    capacity = len(qr_symbol._codeword_bits(b'', version))
    modules = layout.gather('1' * capacity + '0')
    return [i for i, module in enumerate(modules) if module == '0']


@pytest.mark.parametrize('length', [1, 20, 120, 300, 500, 1200, 2300])
@pytest.mark.parametrize('mask', [0, 5])
def test_function_patterns_match_segno(length, mask):
    """Finder, timing, alignment, format and version modules equal segno's
    (segno's data bits differ: it pads one extra zero byte)."""
    data = bytes(range(256)) * 10
    data = data[:length]
    ours = qr_symbol.encode(data, mask)
    theirs = segno.make(data, error='m', mode='byte', micro=False,
        boost_error=False, mask=mask)
    assert ours.version == theirs.version
    n = ours.size
    ours_flat = ''.join(ours.rows)
    theirs_flat = ''.join(
        ''.join('1' if m else '0' for m in row) for row in theirs.matrix)
    cells = _function_modules(ours.version)
    assert len(cells) > 3 * 64
    assert [ours_flat[i] for i in cells] == [theirs_flat[i] for i in cells]
    assert len(ours_flat) == n * n


def _syndromes(codewords, count):
    "The codeword polynomial evaluated at the generator's roots."
    values = []
    for i in range(count):
        value = 0
        for c in codewords:
            value = qr_symbol._multiply(value, qr_symbol._EXP[i]) ^ c
        values.append(value)
    return values


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=60), st.sampled_from([10, 22, 28]))
def test_reed_solomon_codewords_are_a_codeword(block, ec_size):
    "Data + EC is divisible by the generator: all syndromes vanish."
    codeword = block + qr_symbol._reed_solomon(block, ec_size)
    assert _syndromes(codeword, ec_size) == [0] * ec_size
    if any(block):
        assert _syndromes(
            block + b'\x00' * ec_size, ec_size) != [0] * ec_size


def test_too_long_payload_is_refused():
    with pytest.raises(CalculationError,
            match='QR payload of 2400 bytes does not fit'):
        qr_symbol.encode(b'x' * 2400)


def _decode(symbol, tmp_path):
    "Decode a symbol with zbarimg from a PBM image (8 px per module)."
    n, scale, quiet = symbol.size, 4, 4
    rows = [
        ''.join(('1' if 0 <= r < n and 0 <= c < n and symbol.rows[r][c]
            == '1' else '0') * scale for c in range(-quiet, n + quiet))
        for r in range(-quiet, n + quiet)]
    size = (n + 2 * quiet) * scale
    image = tmp_path / 'symbol.pbm'
    image.write_text(f'P1\n{size} {size}\n' + '\n'.join(
        ' '.join(row) for row in rows for _ in range(scale)) + '\n')
    return zbar(image)


def zbar(image):
    assert shutil.which('zbarimg'), 'zbar-tools is not installed'
    result = subprocess.run(
        ['zbarimg', '--quiet', '--raw', '-Sqrcode.enable',
            '-Sbinary', str(image)],
        capture_output=True, check=True)
    return result.stdout.rstrip(b'\n')


@pytest.mark.parametrize('length', [5, 60, 200, 520, 900])
def test_symbols_decode_with_zbar(length, tmp_path):
    text = ('ST00012|Name=Получатель|Sum=100|' * 40)[:length]
    data = text.encode('utf-8')[:length]
    data = data.decode('utf-8', 'ignore').encode('utf-8')
    symbol = qr_symbol.encode(data)
    assert _decode(symbol, tmp_path) == data


@pytest.mark.parametrize('mask', range(8))
def test_every_mask_decodes(mask, tmp_path):
    data = 'ST00012|Name=АО «Тепло»|Sum=564658'.encode()
    symbol = qr_symbol.encode(data, mask)
    assert symbol.mask == mask
    assert _decode(symbol, tmp_path) == data


def test_mask_is_chosen_by_lowest_penalty():
    data = b'ST00012|Name=x' * 20
    chosen = qr_symbol.encode(data)
    layout = qr_symbol._layout(chosen.version)
    penalties = []
    for mask in range(8):
        symbol = qr_symbol.encode(data, mask)
        penalties.append(qr_symbol._penalty(
            int(''.join(symbol.rows), 2), layout.size))
    assert penalties[chosen.mask] == min(penalties)
    assert len(set(penalties)) > 1
