"""The restriction notice of a legal case (rules.md §6, Decree 354
п.117-119) on PostgreSQL: refused below two months of charges, under an
honoured agreement or without a channel; sent by SMS through a local
gateway, its delivery report is the proof and moves the deadline; the
printed notice names the debtor, the debt and the deadline."""
import datetime as dt
import shutil
import tempfile
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import pytest


import town
from debt_helpers import in_tryton, new_account, post_lines
from test_debt_models import agree, odt_text
from test_notifications import Gateway

pytestmark = pytest.mark.postgresql

MONTHS = [dt.date(2026, m, 1) for m in (1, 2, 3)]
CHARGE = Decimal('1500.00')


def charges(months):
    return [('charge', m, m.replace(day=28), CHARGE) for m in months]


@pytest.fixture(scope='module')
def database():
    "A demo town of 5 accounts, Tryton configured on it."
    var = Path(tempfile.mkdtemp(prefix='restriction_'))
    env = town.environment(var)
    name = f'restriction_{uuid.uuid4().hex[:8]}'
    with town.configured(var, name, lambda name: town.build(name, 5, env)):
        yield name
    shutil.rmtree(var)


@pytest.fixture(scope='module')
def gateway(database):
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def configure(pool):
        Configuration = pool.get('rkc.configuration')
        Configuration.write([Configuration(1)], {
                'sms_gateway_url': server.url,
                'sms_id_field': 'result.message_id',
                'quiet_start': None, 'quiet_end': None})
    in_tryton(database, configure)
    yield server
    server.shutdown()
    server.server_close()


def debtor(database, months, **contacts):
    "A new account charged CHARGE for ``months``, with its case."
    account = in_tryton(database, new_account)
    in_tryton(database, post_lines, account, charges(months))

    def open_case(pool):
        Account = pool.get('rkc.account')
        Account.write([Account(account)], {'sms_consent': False,
                'email_consent': False, 'call_consent': False,
                **contacts})
        case, = pool.get('rkc.legal.case').create([{'account': account}])
        return case.id
    return account, in_tryton(database, open_case)


def send(pool, case):
    Case = pool.get('rkc.legal.case')
    Case.send_restriction([Case(case)])


def notice(pool, case):
    case = pool.get('rkc.legal.case')(case)
    message = case.restriction_delivery
    return (case.restriction_notice_on, case.restriction_deadline,
        message and (message.channel, message.recipient, message.state,
            message.text))


def test_restriction_refused_at_two_months_of_charges(database, gateway):
    from trytond.exceptions import UserError
    _, case = debtor(database, MONTHS[:2],
        phone='+7 912 345-67-89', sms_consent=True)
    # 3,000.00 owed is exactly two months of 1,500.00: not above.
    with pytest.raises(UserError, match='нет просроченной задолженности '
            'выше 2 месячных размеров платы'):
        in_tryton(database, send, case)
    assert in_tryton(database, notice, case) == (None, None, None)


def test_restriction_refused_under_an_honoured_agreement(database, gateway):
    from trytond.exceptions import UserError
    account, case = debtor(database, MONTHS,
        phone='+7 912 345-67-89', sms_consent=True)
    in_tryton(database, agree, account, dt.date(2026, 4, 1),
        dt.date(2026, 5, 1), 6)
    with pytest.raises(UserError,
            match='исполняемое соглашение о реструктуризации'):
        in_tryton(database, send, case)
    assert in_tryton(database, notice, case) == (None, None, None)


def test_restriction_refused_without_a_channel(database, gateway):
    from trytond.exceptions import UserError
    # A phone without consent, consent without an address.
    _, case = debtor(database, MONTHS,
        phone='+7 912 345-67-89', email=None, email_consent=True)
    with pytest.raises(UserError, match='нельзя связаться по SMS или '
            'электронной почте'):
        in_tryton(database, send, case)
    assert in_tryton(database, notice, case) == (None, None, None)


def test_restriction_notice_sent_delivered_and_printed(database, gateway):
    from rkc_utilities.common import today
    account, case = debtor(database, MONTHS,
        phone='+7 912 345-67-89', sms_consent=True)
    gateway.requests.clear()
    in_tryton(database, send, case)
    sent_on, deadline, (channel, recipient, _, text) = in_tryton(
        database, notice, case)
    assert (sent_on, deadline) == (
        today(), today() + dt.timedelta(days=20))
    assert (channel, recipient) == ('sms', '79123456789')
    number = in_tryton(database, lambda pool: pool.get('rkc.account')(
            account).number)
    assert text.startswith(
        f'Задолженность по лицевому счёту {number} — 4500,00 руб., '
        f'более двух месячных размеров платы. Если её не погасить до '
        f'{deadline:%d.%m.%Y}')
    # Sent by the notifications' job after the commit.
    town.wait_for(lambda: in_tryton(database, notice, case)[2][2] == 'sent',
        what='the notice handed to the gateway')
    (_, _, body), = gateway.requests
    assert body['text'] == text

    def delivered(pool):
        from rkc_utilities.notification import local_time
        Message = pool.get('rkc.notification.message')
        message = pool.get('rkc.legal.case')(case).restriction_delivery
        assert Message.delivery_report(message.provider_id, 'DELIVRD')
        message = Message(message.id)
        return message.state, local_time(message.delivered_at).date()
    state, delivered_on = in_tryton(database, delivered)
    assert state == 'delivered'
    assert in_tryton(database, notice, case)[1] == (
        delivered_on + dt.timedelta(days=20))

    def print_(pool):
        Report = pool.get('rkc.legal.restriction', type='report')
        payer = pool.get('rkc.account')(account).payer.name
        return Report.execute([case], {})[:2], payer
    (extension, content), payer = in_tryton(database, print_)
    document = odt_text(content)
    assert extension == 'odt'
    assert 'Уведомление о предстоящем ограничении' in document
    assert f'Потребитель: {payer}' in document
    assert f'лицевой счёт № {number}' in document
    assert 'имеется задолженность по оплате коммунальных услуг в размере '\
        '4\u00a0500,00 руб.' in document
    for month in MONTHS:
        assert f'{month:%d.%m.%Y}' in document
    deadline = in_tryton(database, notice, case)[1]
    assert f'до {deadline:%d.%m.%Y}' in document
    assert 'постановлением Правительства Российской Федерации от '\
        '06.05.2011 № 354' in document
