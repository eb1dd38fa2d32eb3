"""The demo's payment agent: a bank with an API key that registers a few
payments through the payment-agent API route, in-process through trytond's
WSGI app exactly as an HTTP request would be served, then sends a day's
registry file that is imported as ``rkc import-registry`` does."""
import datetime as dt
import json
import tempfile
from decimal import Decimal
from pathlib import Path

from rkc import tryton_job
from rkc.engine.money import round_money

AGENT = 'DEMOBANK'
REGISTRY_LINES = 20


def _agent_and_accounts(count):
    from sql.aggregate import Sum

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Agent = pool.get('rkc.payment.agent')
    Account = pool.get('account.account')
    Line = pool.get('rkc.ledger.line')
    Format = pool.get('rkc.payment.registry.format')
    counter, = Account.search([('code', '=', '57')], limit=1)
    agent, = Agent.create([{'name': 'Демо-банк', 'code': AGENT,
                'account': counter.id,
                'format': Format.named('sberbank').id}])
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
    them with a curl line for trying the API against the running desk;
    then import the agent's registry of the next accounts owing."""
    from werkzeug.test import Client

    from trytond.wsgi import app
    key, accounts = tryton_job.transaction(
        _agent_and_accounts, count + REGISTRY_LINES, database=database,
        user=1)
    accounts, registry = accounts[:count], accounts[count:]
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
    import_registry(database, registry, out)


def import_registry(database, accounts, out):
    """Write a registry of the agent paying what ``accounts`` [(number,
    due)] owe, import it and post it to the general ledger."""
    from rkc import setup
    from rkc.payments.export import write_registry
    from rkc.payments.importer import (
        import_registry as import_file, post_to_general_ledger)
    from rkc.payments.registry import Payment
    from rkc.payments.registry_format import load_format
    context = {'company': tryton_job.transaction(
            setup.company_id, database=database)}
    accepted_at = dt.datetime.now().replace(microsecond=0)
    with tempfile.TemporaryDirectory() as var:
        path = Path(var) / f'{AGENT}_{accepted_at:%Y%m%d}.txt'
        with open(path, 'wb') as stream:
            write_registry(stream, load_format('sberbank'), (
                    Payment(line=0, accepted_at=accepted_at, branch='0001',
                        terminal='0001/01', operation_id=f'registry-{n}',
                        account=number, payer='Плательщик',
                        address='Демо-город', period=None,
                        amount=Decimal(due), commission=Decimal('0.00'))
                    for n, (number, due) in enumerate(accounts, 1)))
        result = tryton_job.transaction(import_file, path, AGENT,
            database=database, user=1, context=context)
    tryton_job.transaction(post_to_general_ledger, result.id,
        database=database, user=1, context=context)
    out(f'Registry {path.name} from {AGENT}: import {result.id} '
        f'{result.state}, {result.records} lines, {result.amount} RUB; '
        f'credited {result.credited}, to suspense {result.suspended}')
