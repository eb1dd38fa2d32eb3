"""The demo's payment agent: a bank with an API key that registers a few
payments through the payment-agent API route, in-process through trytond's
WSGI app exactly as an HTTP request would be served."""
import datetime as dt
import json
from decimal import Decimal

from rkc import tryton_job
from rkc.engine.money import round_money

AGENT = 'DEMOBANK'


def _agent_and_accounts(count):
    from sql.aggregate import Sum

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Agent = pool.get('rkc.payment.agent')
    Account = pool.get('account.account')
    Line = pool.get('rkc.ledger.line')
    counter, = Account.search([('code', '=', '57')], limit=1)
    agent, = Agent.create([{'name': 'Демо-банк', 'code': AGENT,
                'account': counter.id}])
    key = agent.new_key('демо')
    line = Line.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*line.select(line.account, Sum(line.amount),
            group_by=[line.account], having=Sum(line.amount) > 0,
            order_by=[line.account], limit=count))
    Accounts = pool.get('rkc.account')
    # SQLite sums numerics as floats: the API wants kopecks exactly.
    return key, [(Accounts(a).number, str(round_money(Decimal(str(amount)))))
        for a, amount in cursor]


def show(database, port, count=3, out=print):
    """Create the agent, post ``count`` payments through the API and print
    them with a curl line for trying the API against the running desk."""
    from werkzeug.test import Client

    from trytond.wsgi import app
    key, accounts = tryton_job.transaction(
        _agent_and_accounts, count, database=database, user=1)
    client = Client(app)
    base = f'/{database}/rkc/agent/v1'
    headers = {'Authorization': f'Bearer {key}'}
    accepted_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out(f'Payment agent {AGENT}, API key {key}')
    for number, (account, due) in enumerate(accounts, 1):
        response = client.post(f'{base}/payments', headers=headers, json={
                'operation_id': f'demo-{number}', 'account': account,
                'amount': due, 'commission': '0.00',
                'accepted_at': accepted_at.isoformat()})
        answer = json.loads(response.get_data())
        out(f'  POST {base}/payments → {response.status_code}: '
            f'{answer}')
    out('Try it while the desk runs:\n'
        f'  curl -H "Authorization: Bearer {key}" '
        f'http://localhost:{port}{base}/accounts/{accounts[0][0]}')
