"""Helpers of the debt tests: a fresh account in the demo town with a
hand-written subledger, and Tryton calls on the test database."""
import datetime as dt
import json

from rkc import setup, tryton_job

# Lines written by hand stand for a billing run and a payment registry.
ORIGIN = 'rkc.billing.run,0'


def in_tryton(database, function, *args):
    "Run ``function(pool, *args)`` in a committed Tryton transaction."
    from trytond.pool import Pool
    company = tryton_job.transaction(setup.company_id, database=database)
    return tryton_job.transaction(
        lambda: function(Pool(), *args), database=database, user=1,
        context={'company': company})


def new_account(pool):
    "A new account on the premise of the demo's first one, no lines yet."
    Account = pool.get('rkc.account')
    first, = Account.search([], order=[('id', 'ASC')], limit=1)
    account, = Account.copy([first])
    return account.id


def post_lines(pool, account_id, lines):
    """Post ``(kind, period, date, amount)`` lines on the account's first
    service (penalties on the penalty service)."""
    Account = pool.get('rkc.account')
    Line = pool.get('rkc.ledger.line')
    Service = pool.get('rkc.service')
    account = Account(account_id)
    service = account.services[0].service.id
    penalty, = Service.search([('code', '=', 'penalty')])
    existing = Line.search([('account', '=', account_id)], count=True)
    Line.insert_rows([{
                'account': account_id, 'centre': account.centre.id,
                'service': penalty.id if kind == 'penalty' else service,
                'period': period, 'date': date, 'kind': kind,
                'amount': amount, 'volume': None, 'tariff': None,
                'excess': None, 'method': None,
                'basis': json.dumps({'test': True}), 'origin': ORIGIN,
                'part': existing + index}
            for index, (kind, period, date, amount) in enumerate(lines)])


def period(pool, month):
    "The billing period of ``month`` (a date), created if missing."
    return pool.get('rkc.period').get_or_create(month).id


def month_end(month):
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)
