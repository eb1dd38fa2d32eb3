"""Notification campaigns on PostgreSQL (a small demo town): e-mail through
a local SMTP server, SMS through a local HTTP gateway with its delivery
report posted to trytond's WSGI application, voice reminders rendered by
espeak-ng onto the autodialer's call list; consent, quiet hours, retries,
runs repeated, bad configuration and the ``rkc notify`` command."""
import csv
import datetime as dt
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import test_receipt_tryton

from rkc import notify_jobs, tryton_job
from rkc.notify.quiet import utc_now

import town
from debt_helpers import in_tryton

pytestmark = pytest.mark.postgresql
# The local SMTP server of the receipt tests.
smtp = test_receipt_tryton.smtp

ROOT = Path(__file__).resolve().parent.parent
TOKEN = 'gateway-token'
SECRET = 'report-secret'
# A Redis database of its own: no other test's workers take the jobs.
REDIS_URL = 'redis://127.0.0.1:6379/12'
# Quiet hours that never get in the way unless a test sets its own.
NO_QUIET = {'quiet_start': None, 'quiet_end': None}


@pytest.fixture(scope='module')
def database():
    "A demo town of 5 accounts, Tryton configured on it."
    from trytond import config
    var = Path(tempfile.mkdtemp(prefix='notify_'))
    env = town.environment(var)
    name = f'notify_{uuid.uuid4().hex[:8]}'
    town.build(name, 5, env)
    if not config.has_section('rkc'):
        config.add_section('rkc')
    settings = {('rkc', 'sms_gateway_token'): TOKEN,
        ('rkc', 'sms_report_secret'): SECRET,
        ('rkc', 'notification_directory'): str(var / 'notifications')}
    saved = {key: config.get(*key) for key in [
            ('database', 'uri'), ('database', 'path'), *settings]}
    tryton_job.configure(str(var / 'trytond.conf'))
    for key, value in settings.items():
        config.set(*key, value)
    yield name
    for key, value in saved.items():
        # trytond's configuration takes strings only: empty is unset.
        config.set(*key, value or '')
    town.drop(name)
    shutil.rmtree(var)


class Gateway(http.server.ThreadingHTTPServer):
    "A local SMS gateway: records each request, answers 500 when told."

    def __init__(self):
        super().__init__(('127.0.0.1', 0), GatewayHandler)
        self.requests = []
        self.failures = 0
        self.url = f'http://127.0.0.1:{self.server_port}/send'


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        gateway = self.server
        body = json.loads(self.rfile.read(
                int(self.headers['Content-Length'])))
        gateway.requests.append((self.path, dict(self.headers), body))
        if gateway.failures:
            gateway.failures -= 1
            status, answer = 500, {'error': 'queue full'}
        else:
            status = 200
            answer = {'result': {'message_id': f'gw-{len(gateway.requests)}'}}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def gateway():
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def configure(database, **values):
    def write(pool):
        Configuration = pool.get('rkc.configuration')
        Configuration.write([Configuration(1)], values)
    in_tryton(database, write)


def contacts(database, **accounts):
    """Set the contacts of accounts by number: ``{number: values}``; every
    other account loses all consents, so only those named are reached."""
    def write(pool):
        Account = pool.get('rkc.account')
        Account.write(Account.search([]), {'sms_consent': False,
                'email_consent': False, 'call_consent': False})
        for number, values in accounts.items():
            Account.write(Account.search([('number', '=', number)]), values)
    in_tryton(database, write)


def numbers(database):
    "The numbers of the town's accounts, in id order."
    return in_tryton(database, lambda pool: [a.number
            for a in pool.get('rkc.account').search(
                [], order=[('id', 'ASC')])])


def campaign(database, **values):
    def create(pool):
        Campaign = pool.get('rkc.notification.campaign')
        record, = Campaign.create([{'name': f'test {uuid.uuid4().hex[:6]}',
                    'kind': 'debt_notice', 'by_email': False, **values}])
        return record.id
    return in_tryton(database, create)


def context(database):
    from rkc import setup
    return {'company': tryton_job.transaction(
            setup.company_id, database=database)}


def run(database, campaign_id, date=None):
    return notify_jobs.run_campaign(database, 1, context(database),
        campaign_id, date)


def messages(database, run_id):
    "{(account number, channel): message values} of a run."
    def read(pool):
        Message = pool.get('rkc.notification.message')
        return {(m.account.number, m.channel): {
                'id': m.id, 'state': m.state, 'reason': m.reason,
                'recipient': m.recipient, 'subject': m.subject,
                'text': m.text, 'attempts': m.attempts,
                'next_attempt': m.next_attempt, 'sent_at': m.sent_at,
                'delivered_at': m.delivered_at,
                'provider_id': m.provider_id, 'error': m.error,
                'audio_file': m.audio_file}
            for m in Message.search([('run', '=', run_id)])}
    return in_tryton(database, read)


def balance(database, number):
    return in_tryton(database, lambda pool: pool.get('rkc.account').search(
            [('number', '=', number)])[0].balance)


def test_email_arrives_in_russian_and_counts_as_sent(database, smtp,
        monkeypatch):
    # Messages are added in three transactions of at most two accounts.
    monkeypatch.setattr(notify_jobs, 'ACCOUNT_CHUNK', 2)
    first, second, *others = numbers(database)
    configure(database, smtp_host='127.0.0.1', smtp_port=smtp.port,
        notification_sender='rkc@example.org', **NO_QUIET)
    contacts(database, **{
            first: {'email': 'first@example.org', 'email_consent': True},
            second: {'email': 'second@example.org', 'email_consent': False},
            })
    smtp.messages.clear()
    debt = campaign(database, by_email=True)
    run_id = run(database, debt)

    sent = messages(database, run_id)
    assert {k: (v['state'], v['reason']) for k, v in sent.items()} == {
        (first, 'email'): ('sent', None),
        (second, 'email'): ('skipped', 'no_consent'),
        **{(n, 'email'): ('skipped', 'no_consent') for n in others}}
    mail, = smtp.messages
    amount = f'{balance(database, first):.2f}'.replace('.', ',')
    assert mail['To'] == 'first@example.org'
    assert mail['From'] == 'rkc@example.org'
    assert mail['Subject'] == f'Задолженность по лицевому счёту {first}'
    assert mail.get_content().strip() == (
        f'Задолженность по лицевому счёту {first} — {amount} руб. Просим '
        'оплатить её, чтобы избежать пеней и ограничения услуг. Расчётный '
        f'центр {_centre(database)}.')
    message = sent[first, 'email']
    assert message['provider_id'] == mail['Message-ID']
    assert message['attempts'] == 1 and message['sent_at'] is not None

    # The same campaign again: the same run, nothing new, nothing resent.
    assert run(database, debt) == run_id
    assert messages(database, run_id) == sent
    assert len(smtp.messages) == 1


def _centre(database):
    "How the texts end: the centre's name and phone."
    def read(pool):
        centre = pool.get('rkc.account').search([], limit=1)[0].centre
        return f'{centre.name}, тел. {centre.phone or ""}'
    return in_tryton(database, read)


def test_sms_through_the_gateway_and_its_delivery_report(database, gateway):
    from werkzeug.test import Client

    from trytond.wsgi import app
    first, second, third, *_ = numbers(database)
    configure(database, sms_gateway_url=gateway.url,
        sms_body_template='{"to": "{phone}", "text": "{text}", '
        '"client_id": "{reference}", "from": "RKC"}',
        sms_id_field='result.message_id', **NO_QUIET)
    contacts(database, **{
            first: {'phone': '+7 (912) 345-67-89', 'sms_consent': True},
            second: {'phone': '+7 343 22-33-44', 'sms_consent': True},
            third: {'phone': None, 'sms_consent': True},
            })
    gateway.requests.clear()
    gateway.failures = 0
    debt = campaign(database, by_sms=True)
    run_id = run(database, debt)

    sent = messages(database, run_id)
    assert sent[second, 'sms']['reason'] == 'bad_address'
    assert sent[third, 'sms']['reason'] == 'no_address'
    message = sent[first, 'sms']
    (path, headers, body), = gateway.requests
    assert path == '/send'
    assert headers['Authorization'] == f'Bearer {TOKEN}'
    assert body == {'to': '79123456789', 'text': message['text'],
        'client_id': str(message['id']), 'from': 'RKC'}
    assert message['text'].startswith(
        f'Задолженность по лицевому счёту {first} — ')
    assert (message['state'], message['provider_id']) == ('sent', 'gw-1')

    client = Client(app)
    url = f'/{database}/rkc/notification/sms-report'
    report = {'id': 'gw-1', 'status': 'DELIVRD'}
    assert client.post(url, query_string={'secret': 'wrong'},
        json=report).status_code == 403
    assert client.post(url, json=report).status_code == 403
    assert client.post(url, query_string={'secret': SECRET},
        json={'id': 'gw-404', 'status': 'DELIVRD'}).status_code == 404
    assert client.post(url, query_string={'secret': SECRET},
        json={'id': 'gw-1'}).status_code == 400
    assert messages(database, run_id)[first, 'sms']['state'] == 'sent'
    assert client.post(url, query_string={'secret': SECRET},
        json=report).status_code == 204
    delivered = messages(database, run_id)[first, 'sms']
    assert delivered['state'] == 'delivered'
    assert delivered['delivered_at'] >= delivered['sent_at']


def test_gateway_error_fails_then_retries(database, gateway):
    first, *_ = numbers(database)
    configure(database, sms_gateway_url=gateway.url,
        sms_id_field='result.message_id', notification_retry=30,
        notification_attempts=2, **NO_QUIET)
    contacts(database, **{
            first: {'phone': '8 912 345 67 89', 'sms_consent': True}})
    gateway.requests.clear()
    gateway.failures = 2
    before = utc_now().replace(microsecond=0)
    run_id = run(database, campaign(database, by_sms=True))

    failed = messages(database, run_id)[first, 'sms']
    assert failed['state'] == 'failed'
    assert failed['error'].startswith('SMS gateway answered 500')
    assert 'queue full' in failed['error']
    assert failed['attempts'] == 1 and failed['provider_id'] is None
    assert failed['next_attempt'] - before >= dt.timedelta(minutes=30)
    # Not before its time…
    assert notify_jobs.send_run(database, 1, context(database), run_id,
        now=failed['next_attempt'] - dt.timedelta(minutes=1)) == 0
    assert len(gateway.requests) == 1
    # …then tried again; the last attempt allowed fails for good.
    notify_jobs.send_run(database, 1, context(database), run_id,
        now=failed['next_attempt'])
    again = messages(database, run_id)[first, 'sms']
    assert (again['state'], again['attempts'], again['next_attempt']) == (
        'failed', 2, None)
    assert len(gateway.requests) == 2

    gateway.failures = 1
    second_run = run(database, campaign(database, by_sms=True))
    retry_at = messages(database, second_run)[first, 'sms']['next_attempt']
    notify_jobs.send_run(database, 1, context(database), second_run,
        now=retry_at)
    sent = messages(database, second_run)[first, 'sms']
    assert (sent['state'], sent['attempts'], sent['error']) == (
        'sent', 2, None)
    assert sent['provider_id'] == f'gw-{len(gateway.requests)}'


def test_voice_reminder_audio_and_call_list(database):
    first, second, *_ = numbers(database)
    configure(database, **NO_QUIET)
    contacts(database, **{
            first: {'phone': '+7 912 345-67-89', 'call_consent': True},
            second: {'phone': '+7 912 000-11-22', 'call_consent': False,
                'sms_consent': True},
            })
    run_id = run(database, campaign(database, by_call=True))

    sent = messages(database, run_id)
    assert sent[second, 'call']['reason'] == 'no_consent'
    call = sent[first, 'call']
    assert call['state'] == 'sent'
    from rkc.notify.words import money_in_words
    assert money_in_words(balance(database, first)) in call['text']
    directory = in_tryton(database, lambda pool: pool.get(
            'rkc.notification.run')(run_id).call_list)
    call_list = Path(directory)
    audio = call_list.parent / call['audio_file']
    assert audio.read_bytes()[:4] == b'RIFF'
    assert audio.read_bytes()[8:12] == b'WAVE'
    # A second of speech is 22050 samples of 16 bits: the text was spoken.
    assert audio.stat().st_size > 2 * 22050 * 5
    with call_list.open(encoding='utf-8') as file:
        rows = list(csv.reader(file))
    assert rows == [['phone', 'account', 'text', 'audio'],
        ['79123456789', first, call['text'], call['audio_file']]]


def test_quiet_hours_hold_sms_until_they_end(database, gateway):
    from trytond.tools.timezone import get_tzinfo
    first, *_ = numbers(database)
    zone = 'Asia/Yekaterinburg'

    def set_zone(pool):
        Company = pool.get('company.company')
        Company.write(Company.search([]), {'timezone': zone})
    in_tryton(database, set_zone)
    local = dt.datetime.now(get_tzinfo(zone)).replace(tzinfo=None)
    start = (local - dt.timedelta(hours=1)).time().replace(microsecond=0)
    end = (local + dt.timedelta(hours=1)).time().replace(
        second=0, microsecond=0)
    configure(database, sms_gateway_url=gateway.url,
        sms_id_field='result.message_id', quiet_start=start, quiet_end=end)
    contacts(database, **{
            first: {'phone': '+7 912 345-67-89', 'sms_consent': True,
                'email': 'first@example.org', 'email_consent': True}})
    gateway.requests.clear()
    gateway.failures = 0
    run_id = run(database, campaign(database, by_sms=True))

    held = messages(database, run_id)[first, 'sms']
    assert gateway.requests == []
    assert (held['state'], held['attempts']) == ('queued', 0)
    end_local = dt.datetime.combine(
        local.date() + dt.timedelta(days=end < local.time()), end)
    assert held['next_attempt'] == end_local.replace(
        tzinfo=get_tzinfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)
    # Still quiet a minute before the end, whatever the sender is asked.
    assert notify_jobs.send_run(database, 1, context(database), run_id,
        now=held['next_attempt'] - dt.timedelta(minutes=1)) == 0
    assert gateway.requests == []
    # The window ends: the same quiet hours let it go.
    notify_jobs.send_run(database, 1, context(database), run_id,
        now=held['next_attempt'])
    assert messages(database, run_id)[first, 'sms']['state'] == 'sent'
    assert len(gateway.requests) == 1


def test_bad_configuration_is_refused_and_creates_nothing(database):
    from trytond.exceptions import UserError
    configure(database, smtp_host=None, sms_gateway_url=None)

    def runs():
        return in_tryton(database, lambda pool: pool.get(
                'rkc.notification.run').search([], count=True))
    before = runs()
    with pytest.raises(UserError,
            match='Не задан SMTP-сервер для уведомлений'):
        run(database, campaign(database, by_email=True))
    with pytest.raises(UserError, match='Не задан адрес SMS-шлюза'):
        run(database, campaign(database, by_sms=True))
    with pytest.raises(UserError, match='не выбран ни один канал'):
        run(database, campaign(database))
    assert runs() == before
    with pytest.raises(UserError, match='начинаться с http:// или https://'):
        configure(database, sms_gateway_url='gateway.example.org')
    with pytest.raises(UserError, match='JSON-объектом'):
        configure(database, sms_body_template='{"to": "{phone}"')
    with pytest.raises(UserError, match=r'\{amout\}'):
        campaign(database, by_email=True, text='Долг {amout} руб.')


def test_due_reminder_names_the_due_date(database, smtp):
    "Bills of October 2026 are due on 15.11.2026 (rules.md §3)."
    first, *_ = numbers(database)
    configure(database, smtp_host='127.0.0.1', smtp_port=smtp.port,
        notification_sender='rkc@example.org')
    contacts(database, **{
            first: {'email': 'first@example.org', 'email_consent': True}})
    due = campaign(database, kind='due_reminder', by_email=True, days=5)
    assert run(database, due, dt.date(2026, 11, 5)) is None
    run_id = run(database, due, dt.date(2026, 11, 10))
    message = messages(database, run_id)[first, 'email']
    assert message['state'] == 'sent'
    assert ' до 15.11.2026.' in message['text']
    assert run(database, due, dt.date(2026, 11, 14)) == run_id


def test_reading_reminder_skips_premises_already_read(database, smtp):
    first, second, *_ = numbers(database)
    configure(database, smtp_host='127.0.0.1', smtp_port=smtp.port,
        notification_sender='rkc@example.org')
    contacts(database, **{n: {'email': f'{n}@example.org',
                'email_consent': True} for n in (first, second)})

    def read_first(pool):
        Account = pool.get('rkc.account')
        Meter = pool.get('rkc.meter')
        Reading = pool.get('rkc.meter.reading')
        account, = Account.search([('number', '=', first)])
        meters = Meter.search([('premise', '=', account.premise.id),
                ('state', '=', 'active')])
        assert meters
        Reading.create([{'meter': m.id, 'value': Decimal(10 ** 6),
                    'read_at': dt.datetime(2027, 1, 5, 12),
                    'source': 'desk', 'state': 'valid'} for m in meters])
    in_tryton(database, read_first)
    reminder = campaign(database, kind='reading_reminder', by_email=True,
        days=3)
    assert run(database, reminder, dt.date(2027, 1, 20)) is None
    run_id = run(database, reminder, dt.date(2027, 1, 22))
    sent = messages(database, run_id)
    assert (first, 'email') not in sent
    assert sent[second, 'email']['text'].startswith(
        f'Передайте показания счётчиков по лицевому счёту {second} до '
        '25.01.2027.')


def test_verification_reminder_names_the_meter(database, smtp):
    first, *_ = numbers(database)
    configure(database, smtp_host='127.0.0.1', smtp_port=smtp.port,
        notification_sender='rkc@example.org')
    contacts(database, **{
            first: {'email': 'first@example.org', 'email_consent': True}})

    def due_meter(pool):
        Account = pool.get('rkc.account')
        Meter = pool.get('rkc.meter')
        account, = Account.search([('number', '=', first)])
        meter = Meter.search([('premise', '=', account.premise.id)])[0]
        Meter.write([meter], {'verified_on': dt.date(2021, 3, 10),
                'verification_interval': 6, 'state': 'active'})
        return meter.serial
    serial = in_tryton(database, due_meter)
    verification = campaign(database, kind='verification_reminder',
        by_email=True, days=20)
    run_id = run(database, verification, dt.date(2027, 2, 25))
    assert messages(database, run_id)[first, 'email']['text'].startswith(
        f'Срок поверки счётчика {serial} по лицевому счёту {first} — '
        '10.03.2027.')


def rkc_notify(database, env, *args):
    return subprocess.run([sys.executable, '-m', 'rkc.cli', '-d', database,
            'notify', *args], env=env, cwd=ROOT, capture_output=True,
        text=True, stdin=subprocess.DEVNULL)


def debt_by_email_to_first(database, smtp):
    """A debt campaign by e-mail through the local SMTP server, reaching
    the first account only; its id."""
    first, *_ = numbers(database)
    configure(database, smtp_host='127.0.0.1', smtp_port=smtp.port,
        notification_sender='rkc@example.org')
    contacts(database, **{
            first: {'email': 'first@example.org', 'email_consent': True}})
    return campaign(database, by_email=True)


def test_rkc_notify_command(database, smtp):
    debt = debt_by_email_to_first(database, smtp)
    var = Path(tempfile.mkdtemp(prefix='notify_cli_'))
    env = town.environment(var)
    done = rkc_notify(database, env, '--campaign', str(debt))
    assert done.returncode == 0, done.stderr
    assert 'sent 1, delivered 0, failed 0, skipped 4' in done.stdout
    configure(database, smtp_host=None)
    refused = rkc_notify(database, env, '--campaign', str(debt))
    assert refused.returncode == 2
    assert 'refused: Не задан SMTP-сервер' in refused.stdout
    wrong = rkc_notify(database, env, '--campaign', str(debt), '--date',
        '2026-13-01')
    assert wrong.returncode == 2
    assert 'not a date in the form YYYY-MM-DD' in wrong.stderr
    shutil.rmtree(var)


@pytest.mark.redis
def test_rkc_notify_through_an_rq_worker(database, smtp):
    import redis
    debt = debt_by_email_to_first(database, smtp)
    var = Path(tempfile.mkdtemp(prefix='notify_rq_'))
    env = town.environment(var, redis_url=REDIS_URL)
    jobs = redis.Redis.from_url(REDIS_URL)
    jobs.flushdb()
    smtp.messages.clear()
    try:
        queued = rkc_notify(database, env, '--campaign', str(debt))
        assert queued.returncode == 0, queued.stderr
        assert 'queued as job' in queued.stdout
        assert smtp.messages == []
        with town.workers(database, env, count=1):
            town.wait_for(lambda: len(smtp.messages) == 1, timeout=60,
                what='the worker sending the e-mail')
        (run_id,), = town.rows(database,
            'SELECT id FROM rkc_notification_run WHERE campaign = %s', debt)
        first, *_ = numbers(database)
        assert messages(database, run_id)[first, 'email']['state'] == 'sent'
    finally:
        jobs.flushdb()
        shutil.rmtree(var)


def test_cron_runs_scheduled_campaigns_and_retries(database, smtp, gateway):
    first, *_ = numbers(database)
    configure(database, smtp_host='127.0.0.1', smtp_port=smtp.port,
        notification_sender='rkc@example.org', sms_gateway_url=gateway.url,
        sms_id_field='result.message_id', **NO_QUIET)
    contacts(database, **{first: {'email': 'first@example.org',
                'email_consent': True, 'phone': '+7 912 345-67-89',
                'sms_consent': True}})
    smtp.messages.clear()
    scheduled = campaign(database, by_email=True, scheduled=True)
    idle = campaign(database, by_email=True)

    def cron(method):
        def call(pool):
            model, name = method.split('|')
            getattr(pool.get(model), name)()
        in_tryton(database, call)
    cron('rkc.notification.campaign|run_scheduled')
    town.wait_for(lambda: len(smtp.messages) == 1, timeout=30,
        what='the scheduled campaign')
    assert town.rows(database, 'SELECT campaign FROM rkc_notification_run '
        'WHERE campaign IN (%s, %s)', scheduled, idle) == [(scheduled,)]

    gateway.requests.clear()
    gateway.failures = 1
    run_id = run(database, campaign(database, by_sms=True))
    assert messages(database, run_id)[first, 'sms']['state'] == 'failed'
    # The retry falls due: the cron's next round queues the sending.
    town.execute(database, ('UPDATE rkc_notification_message SET '
            "next_attempt = now() AT TIME ZONE 'UTC' - interval '1 minute' "
            'WHERE run = %s', (run_id,)))
    cron('rkc.notification.message|send_due_runs')
    town.wait_for(lambda: messages(database, run_id)[first, 'sms'][
            'state'] == 'sent', timeout=30, what='the retry')
    assert len(gateway.requests) == 2
