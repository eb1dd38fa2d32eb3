"""Cash-desk shifts on a real trytond process: operators log in over
JSON-RPC with their own rights (their centre's shifts and payments only),
take cash and card within their open shift through the desk wizard and
print the slip; the shift closes with its totals and report and posts one
summarized move. After a mixed day of desk, API and registry payments the
subledger equals the general ledger per centre."""
import datetime as dt
import threading
from decimal import Decimal

import pytest

import town
from rkc.payments.export import write_registry
from rkc.payments.registry import Payment as RegistryLine
from rkc.payments.registry_format import load_format
from served_town import RpcError, Session, http, in_tryton, served

pytestmark = pytest.mark.postgresql

PASSWORD = 'kassa-2026-secret'


def _staff(pool):
    """Two operators of the first centre, one of the second, an
    accountant; each centre's desks; an agent with a key."""
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    Centre = pool.get('rkc.centre')
    Agent = pool.get('rkc.payment.agent')
    Account = pool.get('account.account')

    def group(name):
        return Group(ModelData.get_id('rkc_utilities', name))
    first, second = Centre.search([], order=[('code', 'ASC')], limit=2)
    operator, accountant = group('group_rkc_operator'), group(
        'group_rkc_accountant')
    users = {}
    for login, groups, centre in (
            ('kassir1', [operator], first), ('kassir2', [operator], first),
            ('kassir3', [operator], second),
            ('buh', [accountant], None)):
        user, = User.create([{
                    'name': login, 'login': login, 'password': PASSWORD,
                    'groups': [('add', [g.id for g in groups])],
                    'rkc_centres': [('add', [centre.id])] if centre else [],
                    }])
        users[login] = user.id
    counter, = Account.search([('code', '=', '57')], limit=1)
    agent, = Agent.create([{'name': 'Банк', 'code': 'BANK',
                'account': counter.id, 'format': None}])
    desks = {c.id: [d.id for d in c.cash_desks] for c in (first, second)}
    return (first.id, second.id, desks, users, agent.new_key())


@pytest.fixture(scope='module')
def desk(tmp_path_factory):
    with served(tmp_path_factory, 'cashdesk', 30) as (
            database, url, env, var):
        first, second, desks, users, key = in_tryton(database, _staff)
        yield {'database': database, 'url': url, 'env': env, 'var': var,
            'centres': (first, second), 'desks': desks, 'key': key}


def login(desk, name):
    return Session(desk['url'], desk['database'], name, PASSWORD)


def owing(database, centre, count):
    return town.rows(database, """
        SELECT a.id, a.number, sum(l.amount) FROM rkc_account a
        JOIN rkc_ledger_line l ON l.account = a.id
        WHERE a.state = 'open' AND a.centre = %s
        GROUP BY a.id, a.number HAVING sum(l.amount) > 50
        ORDER BY a.number LIMIT %s""", centre, count)


def balance(database, account):
    return town.rows(database, 'SELECT coalesce(sum(amount), 0) FROM '
        'rkc_ledger_line WHERE account = %s', account)[0][0]


def open_shift(session, desk_id, cash='1000.00'):
    shift, = session.model('rkc.cash_desk.shift', 'create', [{
                'desk': desk_id, 'opening_cash': Decimal(cash)}])
    return shift


def take(session, account, amount, channel='cash', period=None):
    """The desk flow: find the account, see what is due, take the money;
    returns (what was due, the slip's report action)."""
    wizard = session.wizard('rkc.cash_desk.take_payment')
    answer = wizard.execute('due', {'start': {'account': account}})
    due = answer['view']['defaults']
    wizard.execute('take', {'due': {
                'account': account, 'channel': channel,
                'amount': Decimal(amount), 'period': period}})
    return due, wizard


def test_a_shift_is_required_and_opened_once(desk):
    session = login(desk, 'kassir2')
    first = desk['centres'][0]
    (account, _, debt), = owing(desk['database'], first, 1)
    before = balance(desk['database'], account)
    payments = town.rows(desk['database'], 'SELECT count(*) FROM '
        'rkc_payment')

    with pytest.raises(RpcError) as refused:
        take(session, account, '10.00')

    assert 'kassir2 has no open cash-desk shift' in str(refused.value)
    assert balance(desk['database'], account) == before
    assert town.rows(desk['database'], 'SELECT count(*) FROM '
        'rkc_payment') == payments

    desk_id = desk['desks'][first][-1]
    shift = open_shift(session, desk_id)
    with pytest.raises(RpcError) as twice:
        open_shift(login(desk, 'kassir1'), desk_id)
    assert 'already has an open shift' in str(twice.value)
    # Another centre's operator sees neither the shift nor its desk's.
    other = login(desk, 'kassir3')
    assert other.model('rkc.cash_desk.shift', 'search', []) == []
    session.model('rkc.cash_desk.shift', 'delete', [shift])


def test_mixed_day_posts_and_the_subledger_equals_the_general_ledger(desk):
    database = desk['database']
    first, second = desk['centres']
    kassir1 = login(desk, 'kassir1')
    kassir3 = login(desk, 'kassir3')
    (cash_account, cash_number, cash_debt), (card_account, _, _) = owing(
        database, first, 2)
    shift = open_shift(kassir1, desk['desks'][first][0], '500.00')

    due, wizard = take(kassir1, cash_account, str(cash_debt + 100))
    take(kassir1, card_account, '250.00', channel='card')

    # What was due, by period and service, adds up to the debt.
    assert sum(line['principal'] + line['penalty']
        for line in due['dues']) == cash_debt
    assert due['total_due'] == cash_debt
    assert balance(database, cash_account) == Decimal('-100.00')
    slip = kassir1.call('report.rkc.cash_desk.slip.execute',
        [_payment_of(database, cash_account)], {}, kassir1.context)
    assert slip[0] == 'pdf' and slip[1].startswith(b'%PDF')
    # Operators see their centre's payments only.
    assert kassir3.model('rkc.payment', 'search', []) == []
    assert len(kassir1.model('rkc.payment', 'search', [])) >= 2

    base = f"{desk['url']}/{database}/rkc/agent/v1"
    (api_account, api_number, _), = owing(database, first, 1)
    utc = dt.datetime.now(dt.UTC)
    for operation, amount, accepted_at in (
            ('d-1', '70.00', utc - dt.timedelta(days=1)),
            ('d-2', '30.00', utc - dt.timedelta(days=1)),
            ('d-3', '20.00', utc)):
        status, _ = http('POST', f'{base}/payments', {
                'operation_id': operation, 'account': api_number,
                'amount': amount, 'accepted_at': accepted_at.isoformat()},
            key=desk['key'])
        assert status == 201
    assert http('POST', f'{base}/payments/d-3/cancel',
        key=desk['key'])[0] == 200

    path = desk['var'] / 'day.txt'
    with open(path, 'wb') as stream:
        write_registry(stream, load_format('sberbank'), [RegistryLine(
                    line=0, accepted_at=dt.datetime.now().replace(
                        microsecond=0),
                    branch='8609', terminal='1', operation_id='r-1',
                    account=cash_number, payer='Иванов И.И.', address='',
                    period=None, amount=Decimal('15.00'),
                    commission=Decimal('0.00'), readings=())])
    done = town.rkc(database, 'import-registry', str(path), '--agent',
        'BANK', '--format', 'sberbank', env=desk['env'], check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    kassir1.model('rkc.cash_desk.shift', 'close', [shift])
    closed, = kassir1.model('rkc.cash_desk.shift', 'read', [shift], [
            'cash_total', 'card_total', 'closing_cash', 'payment_count',
            'state'])
    assert (closed['cash_total'], closed['card_total'],
        closed['payment_count'], closed['state']) == (
        cash_debt + 100, Decimal('250.00'), 2, 'closed')
    assert closed['closing_cash'] == Decimal('500.00') + cash_debt + 100
    with pytest.raises(RpcError) as after_close:
        take(kassir1, card_account, '1.00')
    assert 'no open cash-desk shift' in str(after_close.value)
    report = kassir1.call('report.rkc.cash_desk.shift.report.execute',
        [shift], {}, kassir1.context)
    assert report[1].startswith(b'%PDF')
    # Posting is the accountant's.
    with pytest.raises(RpcError):
        kassir1.model('rkc.cash_desk.shift', 'post', [shift])
    accountant = login(desk, 'buh')
    accountant.model('rkc.cash_desk.shift', 'post', [shift])
    yesterday, today = accountant.model('rkc.payment.agent.day', 'search',
        [], 0, None, [('date', 'ASC')])
    with pytest.raises(RpcError) as not_over:
        accountant.model('rkc.payment.agent.day', 'post', [today])
    assert 'is not over' in str(not_over.value)
    accountant.model('rkc.payment.agent.day', 'post', [yesterday])

    # One move for the shift, cash on 50 and card on 57 against 62.01.
    assert sorted(town.rows(database, """
        SELECT a.code, sum(ml.debit), sum(ml.credit)
        FROM rkc_ledger_posting p
        JOIN account_move_line ml ON ml.move = p.move
        JOIN account_account a ON a.id = ml.account
        WHERE p.origin = %s GROUP BY a.code""",
        f'rkc.cash_desk.shift,{shift}')) == [
        ('50', cash_debt + 100, 0), ('57', Decimal('250.00'), 0),
        ('62.01', 0, cash_debt + 350)]
    assert town.rows(database, 'SELECT count(*) FROM rkc_ledger_posting '
        'WHERE origin = %s', f'rkc.cash_desk.shift,{shift}') == [(1,)]
    # Per centre the subledger equals the control account, and nothing of
    # the day is left out (today's API payment and its cancellation net
    # to nothing).
    rows = accountant.model('rkc.ledger.reconciliation', 'search_read', [],
        0, None, None, ['centre', 'subledger', 'pending', 'general_ledger',
            'difference'])
    assert {row['centre'] for row in rows} >= {first, second}
    for row in rows:
        assert row['difference'] == 0, row
        assert row['subledger'] == row['general_ledger'], row
        assert row['pending'] == 0, row
    assert town.rows(database, """
        SELECT count(*) FROM rkc_ledger_line l
        JOIN rkc_payment p ON l.origin = 'rkc.payment,' || p.id
        WHERE l.move IS NULL AND p.operation_id != 'd-3'""") == [(0,)]


def _payment_of(database, account):
    (payment,), = town.rows(database, "SELECT max(id) FROM rkc_payment "
        "WHERE account = %s AND channel IN ('cash', 'card')", account)
    return payment


def test_two_operators_paying_one_account_at_once_count_both(desk):
    database = desk['database']
    first = desk['centres'][0]
    sessions = [login(desk, 'kassir1'), login(desk, 'kassir2')]
    shifts = [open_shift(session, desk_id) for session, desk_id in zip(
            sessions, desk['desks'][first][:2], strict=True)]
    (account, _, debt), = owing(database, first, 1)
    before = balance(database, account)
    # Together they pay more than the debt: counted against the same debt
    # twice, both would go to it entirely.
    amounts = (debt * Decimal('0.6')).quantize(Decimal('0.01')), \
        (debt * Decimal('0.5')).quantize(Decimal('0.01'))
    both_see_the_debt = threading.Barrier(2)
    errors = []

    def pay(session, amount):
        try:
            wizard = session.wizard('rkc.cash_desk.take_payment')
            wizard.execute('due', {'start': {'account': account}})
            both_see_the_debt.wait(30)
            wizard.execute('take', {'due': {'account': account,
                        'channel': 'cash', 'amount': amount}})
        except Exception as error:  # reported below
            errors.append(error)
    threads = [threading.Thread(target=pay, args=(session, amount))
        for session, amount in zip(sessions, amounts, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = sum(amounts)
    assert balance(database, account) == before - total
    payments = town.rows(database, """
        SELECT p.shift, p.amount, -sum(l.amount) FROM rkc_payment p
        JOIN rkc_ledger_line l ON l.origin = 'rkc.payment,' || p.id
        WHERE p.account = %s AND p.shift = ANY(%s)
        GROUP BY p.id, p.shift, p.amount ORDER BY p.shift""",
        account, shifts)
    assert [(s, a) for s, a, _ in payments] == sorted(
        zip(shifts, amounts, strict=True))
    for _, amount, credited in payments:
        assert credited == amount
    # Neither took what the other paid as still owed: what went to the
    # debt is the debt, the rest is an advance.
    to_debt, = town.rows(database, """
        SELECT coalesce(-sum(l.amount), 0) FROM rkc_ledger_line l
        JOIN rkc_payment p ON l.origin = 'rkc.payment,' || p.id
        WHERE p.shift = ANY(%s) AND l.method != 'advance'""", shifts)[0]
    assert to_debt == debt
    for session, shift in zip(sessions, shifts, strict=True):
        session.model('rkc.cash_desk.shift', 'close', [shift])
    login(desk, 'buh').model('rkc.cash_desk.shift', 'post', shifts)
