"""Receipts from the database (PostgreSQL): a demo town billed, one
account's receipt printed through the Tryton report (QR code and text
checked against the ledger), bad bank details refused, a building printed
in bulk in delivery order, and receipts e-mailed to consenting accounts
through a local SMTP server."""
import json
import re
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from test_receipt_pdf import pages_of, scan, text_of

from rkc.documents.receipt import money

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parent.parent
PERIOD = '2026-10'
SERVER = 'host=127.0.0.1 user=postgres'
CONFIG = """\
[database]
uri = postgresql://postgres@127.0.0.1:5432/
path = {var}/db
language = ru

[email]
uri = smtp://127.0.0.1:{smtp_port}
from = rkc@example.org

[rkc]
receipt_directory = {var}/receipts
"""
# Runs in a child process: trytond is configured once per process, and
# this test process must not be tied to the town's database.
TRYTON = """\
import json, sys
from rkc import setup, tryton_job
tryton_job.configure({config!r})
database = {database!r}
context = {{'company': tryton_job.transaction(
    setup.company_id, database=database)}}

def main():
    from trytond.exceptions import UserError
    from trytond.pool import Pool
{body}
print(json.dumps(tryton_job.transaction(
    main, database=database, context=context)))
"""


class Town:
    def __init__(self, var, database, smtp_port):
        self.var, self.database = var, database
        self.config = var / 'trytond.conf'
        self.config.write_text(CONFIG.format(var=var, smtp_port=smtp_port))

    def rkc(self, *args, check=True):
        return subprocess.run(
            [sys.executable, '-m', 'rkc.cli', '-c', str(self.config),
                '-d', self.database, *args],
            cwd=ROOT, check=check, capture_output=True, text=True,
            stdin=subprocess.DEVNULL)

    def tryton(self, body):
        "Run ``body`` (the inside of a function) in a Tryton transaction."
        source = TRYTON.format(config=str(self.config),
            database=self.database, body=textwrap.indent(body, '    '))
        done = subprocess.run([sys.executable, '-c', source], cwd=ROOT,
            capture_output=True, text=True, check=True)
        return json.loads(done.stdout.splitlines()[-1])

    def sql(self, query, *params):
        with psycopg.connect(f'{SERVER} dbname={self.database}') as db:
            cursor = db.execute(query, params)
            return cursor.fetchall() if cursor.description else None


class Mailbox:
    "Messages received by a local SMTP server."

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy
        self.messages.append(email.message_from_bytes(
                envelope.content, policy=policy.default))
        return '250 OK'


@pytest.fixture(scope='module')
def smtp():
    from aiosmtpd.controller import Controller
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        mailbox.port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname='127.0.0.1', port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


@pytest.fixture(scope='module')
def town(tmp_path_factory, smtp):
    var = tmp_path_factory.mktemp('receipts')
    town = Town(var, 'receipts_' + uuid.uuid4().hex[:8], smtp.port)
    town.rkc('demo', '--accounts', '40', '--no-serve')
    # The demo may have billed the month already; either way it is billed.
    town.rkc('bill', '--period', PERIOD, check=False)
    yield town
    with psycopg.connect(f'{SERVER} dbname=postgres',
            autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{town.database}" WITH (FORCE)')


def _account(town):
    "An account charged in the period that has meter readings shown."
    (account_id, number), = town.sql(
        "SELECT a.id, a.number FROM rkc_account a "
        "JOIN rkc_meter m ON m.premise = a.premise "
        "WHERE EXISTS (SELECT 1 FROM rkc_ledger_line l WHERE "
        "l.account = a.id AND l.period = %s AND l.kind = 'charge') "
        "ORDER BY a.id LIMIT 1", f'{PERIOD}-01')
    return account_id, number


def _print(town, account_id, path):
    return town.tryton(f"""
Report = Pool().get('rkc.account.receipt', type='report')
Period = Pool().get('rkc.period')
period, = Period.search([('name', '=', {PERIOD!r})])
try:
    oext, content, _, name = Report.execute(
        [{account_id}], {{'period': period.id}})
except UserError as error:
    return {{'error': error.message}}
open({str(path)!r}, 'wb').write(bytes(content))
return {{'oext': oext}}
""")


def _expected_payload(town, account_id, number):
    "The QR payload from the company, the account and the ledger's sums."
    (name, inn, kpp, settlement, bank, bic, correspondent), = town.sql(
        'SELECT payee_name, payee_inn, payee_kpp, settlement_account, '
        'bank_name, bank_bic, correspondent_account FROM company_company')
    (payer, flat, city, street, house, block), = town.sql(
        'SELECT p.name, pr.number, b.city, b.street, b.house, b.block '
        'FROM rkc_account a JOIN party_party p ON p.id = a.payer '
        'JOIN rkc_premise pr ON pr.id = a.premise '
        'JOIN rkc_building b ON b.id = pr.building WHERE a.id = %s',
        account_id)
    (total, penalty), = town.sql(
        "SELECT coalesce(sum(amount), 0), coalesce(sum(amount) FILTER "
        "(WHERE kind = 'penalty' AND period = %s), 0) "
        "FROM rkc_ledger_line WHERE account = %s AND CASE WHEN "
        "kind = 'payment' THEN date < %s ELSE period <= %s END",
        f'{PERIOD}-01', account_id, '2026-11-01', f'{PERIOD}-01')
    last, first, middle = payer.split(' ', 2)
    house += f' к. {block}' if block else ''
    fields = [
        ('Name', name), ('PersonalAcc', settlement), ('BankName', bank),
        ('BIC', bic), ('CorrespAcc', correspondent), ('PayeeINN', inn),
        ('KPP', kpp), ('PersAcc', number), ('LastName', last),
        ('FirstName', first), ('MiddleName', middle),
        ('PayerAddress', f'{city}, {street}, д. {house}, кв. {flat}'),
        ('Purpose', f'Оплата ЖКУ за 10.2026, л/с {number}'),
        ('PaymPeriod', '102026'),
        ('Sum', str(int(max(total, 0) * 100)) if total > 0 else ''),
        ('AddAmount', str(int(penalty * 100)) if penalty else ''),
        ('TechCode', '02')]
    return 'ST00012' + ''.join(f'|{k}={v}' for k, v in fields if v), total


def test_account_receipt_qr_and_text(town, tmp_path):
    account_id, number = _account(town)
    pdf = tmp_path / 'receipt.pdf'
    assert _print(town, account_id, pdf) == {'oext': 'pdf'}
    assert pages_of(pdf) == 1
    expected, total = _expected_payload(town, account_id, number)
    assert scan(pdf, tmp_path) == expected

    text = text_of(pdf)
    assert number in text
    assert re.search(rf'ИТОГО К ОПЛАТЕ, руб\.\s+{re.escape(money(total))}',
        text)
    services = town.sql(
        "SELECT s.name, sum(l.amount) FROM rkc_ledger_line l "
        "JOIN rkc_service s ON s.id = l.service WHERE l.account = %s "
        "AND l.period = %s AND l.kind <> 'payment' GROUP BY s.name",
        account_id, f'{PERIOD}-01')
    assert services
    for name, amount in services:
        assert re.search(
            rf'^{re.escape(name)}\s.*\s{re.escape(money(amount))}$',
            text, re.M), name


def test_wrong_bank_details_stop_printing(town, tmp_path):
    (account,), = town.sql('SELECT settlement_account FROM company_company')
    # The company form refuses such an account: write it behind its back.
    wrong = account[:-1] + str((int(account[-1]) + 1) % 10)
    town.sql('UPDATE company_company SET settlement_account = %s', wrong)
    try:
        result = _print(town, _account(town)[0], tmp_path / 'no.pdf')
    finally:
        town.sql('UPDATE company_company SET settlement_account = %s',
            account)
    assert result == {'error': 'Печать ЕПД невозможна: расчётный счёт '
        f'организации {wrong} не соответствует БИК 046577674 (не сходится '
        'контрольный разряд). Исправьте банковские реквизиты организации.'}
    assert not (tmp_path / 'no.pdf').exists()


def _flats(pdf):
    "The flat of each page, in page order."
    return [int(re.search(r'кв\. (\d+)', page).group(1))
        for page in text_of(pdf).split('\f') if page.strip()]


def test_bulk_print_of_a_building_in_delivery_order(town):
    (building, accounts), = town.sql(
        'SELECT p.building, count(*) FROM rkc_account a JOIN rkc_premise p '
        'ON p.id = a.premise GROUP BY p.building ORDER BY count(*) DESC '
        'LIMIT 1')
    done = town.rkc('print-receipts', '--period', PERIOD,
        '--building', str(building))
    pdf = Path(re.search(r'^\s+(/\S+\.pdf)$', done.stdout, re.M).group(1))
    assert f'{accounts} receipts in 1 files' in done.stdout
    assert pages_of(pdf) == accounts
    flats = _flats(pdf)
    assert flats == sorted(flats) and len(flats) == accounts

    # A second batch of the same building writes its own, equal file.
    again = town.rkc('print-receipts', '--period', PERIOD,
        '--building', str(building))
    assert f'{accounts} receipts in 1 files' in again.stdout


def test_email_reaches_consenting_accounts_only(town, smtp):
    (building,), = town.sql(
        'SELECT p.building FROM rkc_account a JOIN rkc_premise p '
        'ON p.id = a.premise WHERE a.email_consent AND a.email IS NOT NULL '
        'GROUP BY p.building ORDER BY count(*) DESC LIMIT 1')
    consenting = dict(town.sql(
        'SELECT a.email, a.number FROM rkc_account a JOIN rkc_premise p '
        'ON p.id = a.premise WHERE p.building = %s AND a.email_consent '
        'AND a.email IS NOT NULL', building))
    (others,), = town.sql(
        'SELECT count(*) FROM rkc_account a JOIN rkc_premise p '
        'ON p.id = a.premise WHERE p.building = %s AND NOT '
        'coalesce(a.email_consent, false)', building)
    assert consenting and others
    smtp.messages.clear()
    done = town.rkc('print-receipts', '--period', PERIOD,
        '--building', str(building), '--email')
    deadline = time.monotonic() + 10
    while len(smtp.messages) < len(consenting) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(m['To'] for m in smtp.messages) == sorted(consenting)
    for message in smtp.messages:
        number = consenting[message['To']]
        assert number in message['Subject']
        attachment, = message.iter_attachments()
        assert attachment.get_content_type() == 'application/pdf'
        assert attachment.get_filename() == f'epd-{number}-{PERIOD}.pdf'
        assert attachment.get_content().startswith(b'%PDF')
    assert done.stdout.count(': sent') == len(consenting)
    states = town.sql(
        'SELECT d.state, count(*) FROM rkc_receipt_delivery d '
        'GROUP BY d.state')
    assert states == [('sent', len(consenting))]
