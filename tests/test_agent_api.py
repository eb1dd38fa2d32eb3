"""The payment-agent API on a real trytond process over plain HTTP
(docs/payment-agent-api.yaml): keys checked against their hashes and
revocable, each agent scoped to its own payments, registration idempotent
by the operation id, cancellation only on the same day, every bad field
answered 400 with the field named."""
import datetime as dt
import re
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

import town
from served_town import http, in_tryton, served

pytestmark = pytest.mark.postgresql

SPEC = Path(__file__).resolve().parent.parent / 'docs' / \
    'payment-agent-api.yaml'


def _agents(pool):
    Agent = pool.get('rkc.payment.agent')
    Account = pool.get('account.account')
    counter, = Account.search([('code', '=', '57')], limit=1)
    keys = {}
    for code, name in (('BANK', 'Банк'), ('POST', 'Почта')):
        agent, = Agent.create([{'name': name, 'code': code,
                    'account': counter.id}])
        keys[code] = agent.new_key('касса')
    return keys


@pytest.fixture(scope='module')
def api(tmp_path_factory):
    with served(tmp_path_factory, 'agentapi', 20) as (
            database, url, env, var):
        keys = in_tryton(database, _agents)
        yield database, f'{url}/{database}/rkc/agent/v1', keys


def owing(database, count=1, skip=0):
    "Numbers and balances of open accounts that owe, and their ids."
    return town.rows(database, """
        SELECT a.number, sum(l.amount), a.id FROM rkc_account a
        JOIN rkc_ledger_line l ON l.account = a.id
        WHERE a.state = 'open'
        GROUP BY a.number, a.id HAVING sum(l.amount) > 0
        ORDER BY a.number LIMIT %s OFFSET %s""", count, skip)


def balance(database, account_id):
    return town.rows(database, 'SELECT coalesce(sum(amount), 0) FROM '
        'rkc_ledger_line WHERE account = %s', account_id)[0][0]


def now(**delta):
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(**delta)
    return moment.replace(microsecond=0).isoformat()


def body(operation, account, amount, **extra):
    return {'operation_id': operation, 'account': account,
        'amount': amount, 'accepted_at': now(), **extra}


def test_every_route_of_the_spec_exists_and_answers_json(api):
    database, base, keys = api
    spec = yaml.safe_load(SPEC.read_text('utf-8'))
    (number, _, _), = owing(database)
    values = {'number': number, 'operation_id': 'spec-1'}
    queries = {'/payments': f'?date={dt.date.today().isoformat()}'}
    seen = set()
    for path, operations in spec['paths'].items():
        for method, operation in operations.items():
            url = base + re.sub(r'\{(\w+)\}',
                lambda m: values[m.group(1)], path)
            payload = None
            if method == 'post' and path == '/payments':
                payload = body('spec-1', number, '1.00')
            elif method == 'get':
                url += queries.get(path, '')
            status, answer = http(method.upper(), url, payload,
                key=keys['BANK'])
            assert str(status) in operation['responses'], (
                path, method, status, answer)
            assert isinstance(answer, dict), (path, method, answer)
            if status >= 400:
                assert answer['error']['code'] in spec['components'][
                    'schemas']['Error']['properties']['error'][
                    'properties']['code']['enum']
            # Without a key every route refuses, as the spec says.
            status, answer = http(method.upper(), url, payload)
            assert status == 401 and answer['error']['code'] == \
                'unauthorized'
            assert '401' in operation['responses']
            seen.add((method, path))
    assert len(seen) == 4


def test_lookup_masks_the_payer_and_gives_what_is_due(api):
    database, base, keys = api
    (number, debt, account_id), = owing(database)
    payer, flat, building = town.rows(database, """
        SELECT p.name, pr.number, b.street FROM rkc_account a
        JOIN party_party p ON p.id = a.payer
        JOIN rkc_premise pr ON pr.id = a.premise
        JOIN rkc_building b ON b.id = pr.building
        WHERE a.id = %s""", account_id)[0]

    status, answer = http('GET', f'{base}/accounts/{number}',
        key=keys['POST'])

    assert status == 200
    assert answer['amount_due'] == str(debt)
    assert answer['advance'] == '0.00'
    surname, *given = payer.split()
    assert answer['payer'] == ' '.join(
        [surname[0] + '*' * (len(surname) - 1)]
        + [f'{word[0]}.' for word in given])
    assert surname not in answer['payer']
    assert building in answer['address']
    assert answer['address'].endswith('кв. ' + '*' * len(flat))
    period = dt.date.fromisoformat(answer['period'] + '-01')
    assert dt.date.fromisoformat(answer['due_date']) > period

    assert http('GET', f'{base}/accounts/0000000000',
        key=keys['POST']) == (404, {'error': {
                'code': 'account_not_found',
                'message': 'Лицевого счёта 0000000000 нет.'}})
    status, answer = http('GET', f'{base}/accounts/12ab',
        key=keys['POST'])
    assert (status, answer['error']['field']) == (400, 'account')


def test_registration_is_idempotent_and_refuses_changed_data(api):
    database, base, keys = api
    (number, debt, account_id), = owing(database, skip=1)
    before = balance(database, account_id)
    request = body('op-1', number, '100.00', commission='1.50',
        period=None)

    created = http('POST', f'{base}/payments', request, key=keys['BANK'])
    again = http('POST', f'{base}/payments', request, key=keys['BANK'])

    assert created[0] == 201
    assert again == (200, created[1])
    assert created[1]['amount'] == '100.00'
    assert created[1]['commission'] == '1.50'
    assert created[1]['state'] == 'accepted'
    # Credited once, the commission apart.
    assert balance(database, account_id) == before - Decimal('100.00')
    for changed in ({'amount': '100.01'}, {'account': owing(database)[0][0]},
            {'period': '2020-01'}):
        status, answer = http('POST', f'{base}/payments',
            {**request, **changed}, key=keys['BANK'])
        assert status == 409, changed
        assert answer['error']['code'] == 'operation_conflict'
    assert balance(database, account_id) == before - Decimal('100.00')
    assert town.rows(database, "SELECT count(*) FROM rkc_payment "
        "WHERE operation_id = 'op-1'") == [(1,)]


def test_the_same_operation_sent_twice_at_once_is_credited_once(api):
    database, base, keys = api
    (number, _, account_id), = owing(database, skip=2)
    before = balance(database, account_id)
    request = body('op-race', number, '7.00')
    answers = []

    def send():
        answers.append(http('POST', f'{base}/payments', request,
                key=keys['BANK']))
    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [200, 200, 200, 201]
    assert len({answer['payment_id'] for _, answer in answers}) == 1
    assert balance(database, account_id) == before - Decimal('7.00')


BAD_FIELDS = [
    (b'{"operation_id": ', 'body', 'invalid_json'),
    (b'[1, 2]', 'body', 'invalid_json'),
    ({'operation_id': 'a b'}, 'operation_id', 'invalid_operation_id'),
    ({'account': '123'}, 'account', 'invalid_account'),
    ({'amount': 10.5}, 'amount', 'invalid_amount'),
    ({'amount': '10.505'}, 'amount', 'invalid_amount'),
    ({'amount': '0.00'}, 'amount', 'invalid_amount'),
    ({'amount': '-5.00'}, 'amount', 'invalid_amount'),
    ({'commission': 'x'}, 'commission', 'invalid_amount'),
    ({'accepted_at': '26.11.2026'}, 'accepted_at', 'invalid_datetime'),
    ({'accepted_at': now(days=2)}, 'accepted_at', 'future_date'),
    ({'period': '2026-13'}, 'period', 'invalid_period'),
    ({'payer': ['x']}, 'payer', 'invalid_payer'),
    ]


@pytest.mark.parametrize('change, field, code', BAD_FIELDS)
def test_each_bad_field_is_named_and_nothing_is_credited(
        api, change, field, code):
    database, base, keys = api
    (number, _, _), = owing(database)
    before = town.rows(database, 'SELECT count(*), '
        'coalesce(sum(amount), 0) FROM rkc_ledger_line')
    if isinstance(change, bytes):
        status, answer = http('POST', f'{base}/payments', raw=change,
            key=keys['BANK'])
    else:
        status, answer = http('POST', f'{base}/payments',
            {**body('bad-1', number, '10.00'), **change}, key=keys['BANK'])
    assert status == 400
    assert answer['error']['code'] == code
    assert answer['error']['field'] == field
    assert answer['error']['message']
    assert town.rows(database, 'SELECT count(*), '
        'coalesce(sum(amount), 0) FROM rkc_ledger_line') == before
    status, answer = http('GET', f'{base}/payments?date=26.11.2026',
        key=keys['BANK'])
    assert (status, answer['error']['field']) == (400, 'date')


def test_keys_are_scoped_to_their_agent_and_revocable(api):
    database, base, keys = api
    (number, _, _), = owing(database, skip=3)
    bank = http('POST', f'{base}/payments', body('shared-7', number,
            '5.00'), key=keys['BANK'])
    post = http('POST', f'{base}/payments', body('shared-7', number,
            '6.00'), key=keys['POST'])
    # The same operation id of two agents: two payments.
    assert (bank[0], post[0]) == (201, 201)
    assert bank[1]['payment_id'] != post[1]['payment_id']
    today = dt.date.today().isoformat()
    listed = http('GET', f'{base}/payments?date={today}', key=keys['POST'])
    assert [p['operation_id'] for p in listed[1]['payments']] \
        == ['shared-7']
    assert listed[1]['amount'] == '6.00'
    # The bank's payment is not the post office's to cancel.
    assert http('POST', f'{base}/payments', body('bank-only', number,
            '1.00'), key=keys['BANK'])[0] == 201
    status, answer = http('POST', f'{base}/payments/bank-only/cancel',
        key=keys['POST'])
    assert (status, answer['error']['code']) == (404, 'payment_not_found')

    second = in_tryton(database, _new_key, 'POST')
    in_tryton(database, _revoke, keys['POST'])
    status, answer = http('GET', f'{base}/accounts/{number}',
        key=keys['POST'])
    assert (status, answer['error']['code']) == (401, 'unauthorized')
    assert http('GET', f'{base}/accounts/{number}', key=second)[0] == 200
    assert http('GET', f'{base}/accounts/{number}',
        key=keys['POST'] + 'x')[0] == 401
    # Only hashes are stored.
    assert town.rows(database, 'SELECT count(*) FROM '
        "rkc_payment_agent_key WHERE hash = %s OR hash = %s",
        keys['POST'], second) == [(0,)]
    keys['POST'] = second


def _new_key(pool, code):
    Agent = pool.get('rkc.payment.agent')
    agent, = Agent.search([('code', '=', code)])
    return agent.new_key()


def _revoke(pool, key):
    Key = pool.get('rkc.payment.agent.key')
    from rkc_utilities.agent import key_hash
    found, = Key.search([('hash', '=', key_hash(key))])
    Key.revoke([found])


def test_cancel_only_the_same_day(api):
    database, base, keys = api
    (number, _, account_id), = owing(database, skip=4)
    before = balance(database, account_id)
    http('POST', f'{base}/payments', body('today-1', number, '40.00'),
        key=keys['BANK'])
    yesterday = http('POST', f'{base}/payments', {
            **body('yesterday-1', number, '30.00'),
            'accepted_at': now(days=-1)}, key=keys['BANK'])
    assert yesterday[0] == 201
    assert balance(database, account_id) == before - Decimal('70.00')

    status, answer = http('POST', f'{base}/payments/today-1/cancel',
        key=keys['BANK'])
    assert (status, answer['state']) == (200, 'cancelled')
    assert http('POST', f'{base}/payments/today-1/cancel',
        key=keys['BANK']) == (200, answer)
    assert balance(database, account_id) == before - Decimal('30.00')

    status, answer = http('POST', f'{base}/payments/yesterday-1/cancel',
        key=keys['BANK'])
    assert status == 409
    assert answer['error']['code'] == 'cancel_window_closed'
    assert 'отменяется только в день его приёма' in \
        answer['error']['message']
    assert balance(database, account_id) == before - Decimal('30.00')
    # Reconciliation lists the cancelled payment but does not count it.
    listed = http('GET', f'{base}/payments?date={dt.date.today()}',
        key=keys['BANK'])[1]
    states = {p['operation_id']: p['state'] for p in listed['payments']}
    assert states['today-1'] == 'cancelled'
    assert Decimal(listed['amount']) == sum(
        Decimal(p['amount']) for p in listed['payments']
        if p['state'] == 'accepted')
