"""The consumers' portal and the phone-centre lookup on a served demo town:
a consumer registers in headless Chromium (the confirmation mail caught by
a local SMTP server), links an account with the receipt's code, submits a
reading, downloads a receipt and applies for an absence recalculation;
over plain HTTP: another user reaches nothing of a foreign account, bad
input is refused with a message and changes nothing, logins are
throttled, passwords reset, and the IVR answers only to the right PIN."""
import datetime as dt
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from desk import chromium
from portal_helpers import (
    MAX_ATTEMPT, Client, closed_window, receipt_code, served_portal,
    set_reading_window, sql)

from rkc.demo import portal_user
from rkc.engine.regulations import default_regulations

pytestmark = [pytest.mark.browser, pytest.mark.postgresql]

PDF = b'%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'


@pytest.fixture(scope='module')
def portal(tmp_path_factory):
    with served_portal(tmp_path_factory.mktemp('portal')) as served:
        yield served


def _accounts_with_meters(database):
    "(id, number) of open accounts with an active meter, demo user's last."
    return sql(database, '''
        SELECT DISTINCT a.id, a.number, l.id IS NOT NULL AS linked
        FROM rkc_account a
        JOIN rkc_meter m ON m.premise = a.premise AND m.state = 'active'
        LEFT JOIN rkc_portal_link l ON l.account = a.id
        WHERE a.state = 'open'
        ORDER BY linked, a.id''')


def _demo_account(database):
    (account_id, number), = sql(database, '''
        SELECT a.id, a.number FROM rkc_account a
        JOIN rkc_portal_link l ON l.account = a.id
        JOIN web_user u ON u.id = l.web_user WHERE u.email = %s''',
        (portal_user.EMAIL,))
    return account_id, number


def _meter(database, account_id):
    "(meter id, zones, last valid values) of the account's first meter."
    (meter_id, zones), = sql(database, '''
        SELECT m.id, m.zones FROM rkc_meter m
        JOIN rkc_account a ON a.premise = m.premise
        WHERE a.id = %s AND m.state = 'active' ORDER BY m.id LIMIT 1''',
        (account_id,))
    rows = sql(database, '''
        SELECT value, value_t2, value_t3 FROM rkc_meter_reading
        WHERE meter = %s AND state = 'valid'
        ORDER BY read_at DESC, id DESC LIMIT 1''', (meter_id,))
    values = [Decimal(v) for v in rows[0][:zones]] if rows else [
        Decimal(0)] * zones
    return meter_id, zones, values


def _count(database, table, where='TRUE', params=()):
    (count,), = sql(database, f'SELECT count(*) FROM {table} WHERE {where}',
        params)
    return count


def _state(database, account_id):
    "What any portal route could change about an account."
    return {
        'readings': _count(database, 'rkc_meter_reading r JOIN rkc_meter m '
            'ON m.id = r.meter JOIN rkc_account a ON a.premise = m.premise',
            'a.id = %s', (account_id,)),
        'recalculations': _count(database, 'rkc_recalculation',
            'account = %s', (account_id,)),
        'attachments': _count(database, 'ir_attachment',
            "resource LIKE 'rkc.recalculation,%%'"),
        'contacts': sql(database, 'SELECT email, phone, email_consent, '
            'sms_consent, call_consent FROM rkc_account WHERE id = %s',
            (account_id,)),
        'links': _count(database, 'rkc_portal_link'),
        }


def _logged_in_demo(url):
    client = Client(url)
    status, body = client.login(portal_user.EMAIL, portal_user.PASSWORD)
    assert status == 303, body
    return client


def test_consumer_in_browser(portal, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait
    url, database, mailbox, _ = portal
    (account_id, number, _), *_ = _accounts_with_meters(database)
    email, password = 'anna@example.org', 'Anna-2026-portal'
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    driver = chromium(download_dir=downloads)
    wait = WebDriverWait(driver, 30)

    def submit(**values):
        for name, value in values.items():
            element = driver.find_element(By.NAME, name)
            if element.get_attribute('type') != 'file':
                element.clear()
            element.send_keys(value)
        page = driver.find_element(By.TAG_NAME, 'html')
        driver.find_element(By.NAME, next(iter(values))).submit()
        # The old page is still "complete" until the answer replaces it.
        wait.until(staleness_of(page))
        wait.until(lambda d: d.execute_script(
                'return document.readyState') == 'complete')
        return wait.until(
            lambda d: d.find_element(By.TAG_NAME, 'main')).text

    try:
        driver.get(f'{url}/register')
        assert driver.find_element(By.TAG_NAME, 'html').get_attribute(
            'lang') == 'ru'
        assert driver.find_element(By.CSS_SELECTOR, 'label[for=email]')
        text = submit(email=email, password=password, password2=password)
        assert 'Проверьте почту' in text
        driver.get(mailbox.link(email, '/verify'))
        assert 'Адрес подтверждён' in driver.page_source
        text = submit(email=email, password=password)
        assert 'Мои лицевые счета' in text

        # Unknown account, then a wrong code: a message, no link.
        text = submit(number='0000000000', code='12345678')
        assert 'Счёт не найден или код не подходит' in text
        code = receipt_code(database, number)
        wrong = f'{(int(code) + 1) % 10 ** 8:08d}'
        text = submit(number=number, code=wrong)
        assert 'Счёт не найден или код не подходит' in text
        assert _count(database, 'rkc_portal_link', 'account = %s',
            (account_id,)) == 0
        text = submit(number=number, code=f'{code[:4]}-{code[4:]}')
        assert f'Лицевой счёт {number} подключён' in text

        driver.find_element(By.LINK_TEXT, f'Лицевой счёт {number}').click()
        main = driver.find_element(By.TAG_NAME, 'main')
        assert 'Обзор' in main.text and 'Баланс' in main.text
        assert 'История за 36 месяцев' in main.text
        assert driver.find_elements(By.CSS_SELECTOR, 'svg[role=img] rect')
        assert driver.find_element(
            By.CSS_SELECTOR, 'img[src$="qr.svg"]').get_attribute(
            'naturalWidth') != '0'

        # The receipt as a PDF, with the code that links the account.
        driver.find_element(By.PARTIAL_LINK_TEXT, 'Квитанция за').click()
        pdf = wait.until(lambda d: next((p for p in downloads.iterdir()
                    if p.suffix == '.pdf'), None))
        assert pdf.read_bytes().startswith(b'%PDF')
        text = subprocess.run(['pdftotext', str(pdf), '-'], check=True,
            capture_output=True, text=True).stdout
        assert number in text and code in text

        # Readings: lower than the last is refused, a plausible one taken.
        set_reading_window(database, 1, 31)
        meter_id, zones, last = _meter(database, account_id)
        driver.find_element(By.LINK_TEXT, 'Показания').click()
        before = _state(database, account_id)
        lower = {f'value{z}-{meter_id}': str(v - 1).replace('.', ',')
            for z, v in enumerate(last, 1)}
        text = submit(**lower)
        assert 'не принято: показание меньше предыдущего' in text
        assert _state(database, account_id) == before
        higher = {f'value{z}-{meter_id}': str(v + Decimal('1.5'))
            for z, v in enumerate(last, 1)}
        text = submit(**higher)
        assert 'принято. Расход с прошлого показания: 1,5' in text
        (source, state, value), = sql(database, '''
            SELECT source, state, value FROM rkc_meter_reading
            WHERE meter = %s ORDER BY id DESC LIMIT 1''', (meter_id,))
        assert (source, state, value) == (
            'portal', 'valid', last[0] + Decimal('1.5'))

        # Absence: a file too large, then of a wrong type, then accepted.
        driver.find_element(By.LINK_TEXT, 'Перерасчёт за отсутствие').click()
        today = dt.date.today()
        dates = {
            'departure': today - dt.timedelta(days=20),
            'return_date': today - dt.timedelta(days=5)}

        def apply(path):
            for name, day in dates.items():
                driver.execute_script(
                    'arguments[0].value = arguments[1]',
                    driver.find_element(By.NAME, name), day.isoformat())
            return submit(document=str(path))

        big = tmp_path / 'tickets.pdf'
        big.write_bytes(PDF + b'0' * (5 * 1024 * 1024))
        text_file = tmp_path / 'tickets.txt'
        text_file.write_text('билеты')
        tickets = tmp_path / 'ticket.pdf'
        tickets.write_bytes(PDF)
        before = _state(database, account_id)
        assert 'Файл больше 5 МБ' in apply(big)
        assert 'PDF, JPEG или PNG' in apply(text_file)
        assert _state(database, account_id) == before
        assert 'Заявление принято' in apply(tickets)
        (recalculation, state, reason, departure), = sql(database, '''
            SELECT id, state, reason, departure FROM rkc_recalculation
            WHERE account = %s''', (account_id,))
        assert (state, reason, departure) == (
            'draft', 'temporary_absence', dates['departure'])
        assert _count(database, 'ir_attachment', 'resource = %s',
            (f'rkc.recalculation,{recalculation}',)) == 1
        assert 'принято, ожидает рассмотрения' in driver.find_element(
            By.TAG_NAME, 'main').text
    finally:
        driver.quit()


def test_foreign_accounts_unreachable(portal):
    url, database, mailbox, _ = portal
    victim, victim_number = _demo_account(database)
    meter_id, zones, last = _meter(database, victim)
    (own, own_number, _), = [a for a in _accounts_with_meters(database)
        if a[0] != victim][1:2]
    intruder = Client(url)
    intruder.register(mailbox, 'boris@example.org', 'Boris-2026-portal')
    status, _ = intruder.text('/link', {'number': own_number,
            'code': receipt_code(database, own_number)})
    assert status == 200
    own_meter, _, _ = _meter(database, own)
    set_reading_window(database, 1, 31)
    owner = _logged_in_demo(url)
    status, body = owner.text(f'/account/{victim}')
    assert status == 200 and victim_number in body
    period = sql(database, '''SELECT max(period) FROM rkc_ledger_line
        WHERE account = %s AND kind = 'charge' ''', (victim,))[0][0]
    reading = {'meter': meter_id, **{f'value{z}-{meter_id}': str(v + 1)
            for z, v in enumerate(last, 1)}}
    absence = {'departure': (dt.date.today() - dt.timedelta(days=20)
            ).isoformat(), 'return_date': dt.date.today().isoformat()}
    attempts = [
        (f'/account/{victim}', None, None),
        (f'/account/{victim}/receipt/{period:%Y-%m}.pdf', None, None),
        (f'/account/{victim}/qr.svg', None, None),
        (f'/account/{victim}/readings', None, None),
        (f'/account/{victim}/readings', reading, None),
        (f'/account/{victim}/payments', None, None),
        (f'/account/{victim}/absence', None, None),
        (f'/account/{victim}/absence', absence,
            {'document': ('ticket.pdf', PDF)}),
        (f'/account/{victim}/notifications', None, None),
        (f'/account/{victim}/notifications', {'email': 'x@example.org',
                'email_consent': '1'}, None),
        # The intruder's own account with the victim's meter.
        (f'/account/{own}/readings', reading, None),
        ]
    before = _state(database, victim), _state(database, own)
    for path, data, files in attempts:
        status, body, _ = intruder.request(path, data, files)
        assert status == 404, path
        assert victim_number.encode() not in body, path
        status, _, headers = Client(url).request(path, data, files,
            csrf=False)
        assert status in (303, 400), path
    assert (_state(database, victim), _state(database, own)) == before
    status, body = intruder.text('/')
    assert own_number in body and victim_number not in body
    # The same form on the intruder's own meter is accepted.
    status, body = intruder.text(f'/account/{own}/readings', {
            'meter': own_meter, **{f'value{z}-{own_meter}': str(v + 1)
                for z, v in enumerate(_meter(database, own)[2], 1)}})
    assert status == 200 and 'принято' in body, body


def test_bad_input_changes_nothing(portal):
    url, database, _, _ = portal
    account, _ = _demo_account(database)
    meter_id, zones, last = _meter(database, account)
    client = _logged_in_demo(url)
    today = dt.date.today()
    before = _state(database, account)

    def refused(path, data, message, files=None, status=400):
        got, body, _ = client.request(path, data, files)
        body = body.decode()
        assert got == status and message in body, (path, data, body)
        assert _state(database, account) == before, (path, data)

    readings = f'/account/{account}/readings'
    value = {f'value{z}-{meter_id}': str(v + 1)
        for z, v in enumerate(last, 1)}
    set_reading_window(database, *closed_window(today.day))
    refused(readings, {'meter': meter_id, **value}, 'приём закрыт')
    set_reading_window(database, 1, 31)
    refused(readings, {'meter': meter_id, f'value1-{meter_id}': 'сто'},
        'Введите показание числом')
    refused(readings, {'meter': meter_id,
            **{k: '-1' for k in value}}, 'Введите показание числом')
    absence = f'/account/{account}/absence'
    ticket = {'document': ('ticket.png', b'\x89PNG\r\n\x1a\n' + b'0' * 64)}

    def days(departure, return_date):
        return {'departure': (today - dt.timedelta(days=departure)
                ).isoformat(),
            'return_date': (today - dt.timedelta(days=return_date)
                ).isoformat()}

    refused(absence, days(5, 10), 'позже даты отъезда', ticket)
    refused(absence, days(10, 4), 'Полных дней отсутствия: 5', ticket)
    refused(absence, days(60, 40), 'не позднее 30 дней после возвращения',
        ticket)
    refused(absence, days(20, 5), 'Приложите подтверждающий документ')
    refused(absence, {'departure': 'вчера'}, 'Укажите даты')
    notifications = f'/account/{account}/notifications'
    refused(notifications, {'email': 'not-an-address'},
        'Адрес электронной почты указан неверно')
    refused(notifications, {'phone': '12345'}, 'телефон из 11 цифр')
    refused(notifications, {'sms_consent': '1'}, 'укажите телефон')
    # Receipt codes are not guessed: after a few wrong ones even the right
    # one is refused for a while.
    (other, other_number, _), *_ = _accounts_with_meters(database)
    for _ in range(MAX_ATTEMPT + 1):
        refused('/link', {'number': other_number, 'code': '00000000'},
            'код не подходит')
    refused('/link', {'number': other_number,
            'code': receipt_code(database, other_number)},
        'Слишком много неверных кодов', status=429)
    # A form without its token is refused before anything is read.
    refused(notifications, {'email': 'a@example.org', 'csrf': 'forged'},
        'Форма устарела')
    status, body = client.text(notifications, {
            'email': 'Anna@Example.org', 'phone': '8 (900) 123-45-67',
            'email_consent': '1', 'sms_consent': '1'})
    assert status == 200 and 'сохранены' in body
    assert sql(database, 'SELECT email, phone, email_consent, sms_consent, '
        'call_consent FROM rkc_account WHERE id = %s', (account,)) == [
        ('anna@example.org', '+79001234567', True, True, False)]


def test_login_throttled_and_password_reset(portal):
    url, database, mailbox, _ = portal
    email, password = 'vera@example.org', 'Vera-2026-portal'
    Client(url).register(mailbox, email, password)
    client = Client(url)
    unconfirmed = 'gleb@example.org'
    assert client.text('/register', {'email': unconfirmed,
            'password': password, 'password2': password})[0] == 200
    status, body = client.login(unconfirmed, password)
    assert status == 403 and 'подтвердите адрес' in body
    durations = []
    for _ in range(MAX_ATTEMPT + 1):
        started = time.monotonic()
        status, body = client.login(email, 'wrong-password')
        durations.append(time.monotonic() - started)
        assert status == 401 and 'Неверный адрес' in body
    # trytond waits 2 ** failures - 1 seconds after each failure.
    assert durations[-1] >= 2 ** MAX_ATTEMPT - 1
    status, body = client.login(email, password)
    assert status == 429 and 'Слишком много' in body

    count = len(mailbox.messages)
    status, body = client.text('/reset', {'email': email})
    assert status == 200 and 'отправлена ссылка' in body
    link = mailbox.link(email, '/reset/password', count)
    status, body = client.text(link)
    assert 'Новый пароль' in body
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    new = 'Vera-2027-portal'
    assert client.text('/reset/password', {**query, 'password': 'short'}
        )[1].count('не короче 8') == 2
    status, body = client.text('/reset/password', {**query, 'password': new})
    assert status == 200 and 'Пароль изменён' in body
    status, body = client.text('/reset/password', {**query, 'password': new})
    assert status == 400 and 'Ссылка устарела' in body
    assert client.login(email, password)[0] == 401
    assert client.login(email, new)[0] == 303
    status, body = client.text('/')
    assert 'Мои лицевые счета' in body
    client.text('/logout', {})
    assert client.request('/')[0] == 303


def test_phone_lookup(portal):
    url, database, _, env = portal
    account, number = _demo_account(database)
    (admin,), = sql(database, "SELECT id FROM res_user WHERE login = 'admin'")
    key = 'phone-centre-test-key'
    sql(database, 'INSERT INTO res_user_application '
        '(key, "user", application, state, create_uid, create_date) '
        "VALUES (%s, %s, 'rkc_phone', 'validated', 0, now())", (key, admin))
    endpoint = url.removesuffix('/portal') + '/rkc/phone/balance'

    def ask(pin, token=key):
        request = urllib.request.Request(endpoint, json.dumps(
                {'account': number, 'pin': pin}).encode(), {
                'Content-Type': 'application/json',
                'Authorization': f'Bearer {token}'})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    status, answer = ask(portal_user.PHONE_PIN)
    assert status == 200, answer
    (balance,), = sql(database, 'SELECT coalesce(sum(amount), 0) FROM '
        'rkc_ledger_line WHERE account = %s', (account,))
    (period,), = sql(database, "SELECT max(period) FROM rkc_ledger_line "
        "WHERE account = %s AND kind = 'charge'", (account,))
    assert answer == {'account': number, 'balance': answer['balance'],
        'due_date': default_regulations().due_date(period).isoformat()}
    assert Decimal(answer['balance']) == balance
    assert ask(portal_user.PHONE_PIN, token='wrong')[0] == 401
    for _ in range(MAX_ATTEMPT + 1):
        assert ask('0000')[0] == 403
    assert ask(portal_user.PHONE_PIN)[0] == 429
    # The desk sets PINs of digits only (the message in the desk's
    # Russian); a refused one leaves the old.
    (before,), = sql(database, 'SELECT phone_pin_hash FROM rkc_account '
        'WHERE id = %s', (account,))
    script = (
        'from rkc import settings, tryton_job\n'
        'from trytond.exceptions import UserError\n'
        'tryton_job.configure(settings.config_file())\n'
        'def set_pin():\n'
        '    from trytond.pool import Pool\n'
        '    Account = Pool().get("rkc.account")\n'
        '    try:\n'
        f'        Account.write([Account({account})],\n'
        '            {"phone_pin": "12a"})\n'
        '    except UserError as error:\n'
        '        print(error.message)\n'
        f'tryton_job.transaction(set_pin, database="{database}")\n')
    output = subprocess.run([sys.executable, '-c', script], env=env,
        check=True, capture_output=True, text=True).stdout
    assert 'PIN для телефона должен состоять из 4–8 цифр.' in output
    assert sql(database, 'SELECT phone_pin_hash FROM rkc_account '
        'WHERE id = %s', (account,)) == [(before,)]


# Text a consumer's browser may send, and what breaks careless parsing:
# other scripts' digits, calendar ends, NUL (PostgreSQL refuses it in
# text), numbers beyond any column, very long values.
TRICKY_FORM_TEXT = [
    '', ' ', '\x00', 'a\x00@example.org', '٠١٢٣', '１２３', '²³',
    '+٧٩٠٠١٢٣٤٥٦٧', '8 (900) 123-45-67', '0001-01-01', '9999-12-31',
    '2026-02-30', '1e999999', '-0', 'NaN', 'Infinity', '1' * 40,
    '0.0000000001', 'x' * 5000, '=HYPERLINK("http://x")', 'Anna@Example.org']
FORM_TEXT = st.sampled_from(TRICKY_FORM_TEXT) | st.text(max_size=40)
PNG = ('ticket.png', b'\x89PNG\r\n\x1a\n' + b'0' * 64)


@pytest.fixture(scope='module')
def fuzzed_account(portal):
    "(client, account id, meter id, zones) for the form fuzz test."
    url, database, _, _ = portal
    account, _ = _demo_account(database)
    meter_id, zones, _ = _meter(database, account)
    set_reading_window(database, 1, 31)
    return _logged_in_demo(url), account, meter_id, zones


@settings(max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@example(data=None)
def test_fuzzed_forms_answer_and_refusals_change_nothing(
        portal, fuzzed_account, data):
    """Whatever a logged-in consumer posts to the readings, absence and
    notification forms, the portal answers a page (never a server error),
    and a refused form changes nothing."""
    _, database, _, _ = portal
    client, account, meter_id, zones = fuzzed_account
    if data is None:  # the known traps, each in one form
        posts = [
            ('notifications', {'email': 'a\x00@example.org'}, {}),
            ('notifications', {'phone': '+٧٩٠٠١٢٣٤٥٦٧'}, {}),
            ('absence', {'departure': '9999-12-01',
                    'return_date': '9999-12-31'}, {'document': PNG}),
            ('absence', {'departure': '0001-01-01',
                    'return_date': '0001-03-01'}, {'document': PNG}),
            ('readings', {'meter': str(meter_id),
                    **{f'value{z}-{meter_id}': '1e999999'
                        for z in range(1, zones + 1)}}, {}),
            ]
    else:
        form = data.draw(st.sampled_from(
                ['readings', 'absence', 'notifications']))
        fields = {
            'readings': {'meter': st.sampled_from([str(meter_id)])
                | FORM_TEXT, **{f'value{z}-{meter_id}': FORM_TEXT
                    for z in range(1, zones + 1)}},
            'absence': {'departure': FORM_TEXT, 'return_date': FORM_TEXT},
            'notifications': {'email': FORM_TEXT, 'phone': FORM_TEXT,
                'email_consent': st.sampled_from(['', '1']),
                'sms_consent': st.sampled_from(['', '1'])},
            }[form]
        files = {'document': PNG} if form == 'absence' and data.draw(
            st.booleans()) else {}
        posts = [(form, data.draw(st.fixed_dictionaries({}, optional=fields)),
                files)]
    for form, values, files in posts:
        before = _state(database, account)
        status, body, _ = client.request(
            f'/account/{account}/{form}', values, files)
        assert status in {200, 400, 404}, (form, values, status, body[:300])
        if status != 200:
            assert _state(database, account) == before, (form, values)
        (email, phone, *_), = _state(database, account)['contacts']
        assert email is None or email.isprintable(), email
        assert phone is None or re.fullmatch(r'\+7[0-9]{10}', phone), phone
