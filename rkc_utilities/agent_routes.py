# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The payment-agent API for banks and post offices, as routes on trytond's
WSGI app; the contract is docs/payment-agent-api.yaml. An agent calls with
its API key as a bearer token and sees only its own payments."""
import datetime as dt
import json
from decimal import Decimal
from functools import wraps
from http import HTTPStatus

from sql import Conflict
from sql.functions import CurrentTimestamp

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.protocols.wrappers import (
    Response, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

from rkc.bulk_insert import execute_returning
from rkc.payments import agent_api

from .common import today
from .payment import account_debts, operation_key

PREFIX = '/<database_name>/rkc/agent/v1'
ZERO = Decimal('0.00')


class ApiError(Exception):
    "An error answered as JSON with its HTTP status."

    def __init__(self, status, code, field=None, message=None,
            **variables):
        super().__init__(code)
        self.status = status
        self.code = code
        self.field = field
        self.message = message
        self.variables = variables

    def response(self):
        error = {'code': self.code, 'message': self.message or gettext(
                f'rkc_utilities.msg_api_{self.code}', **self.variables)}
        if self.field:
            error['field'] = self.field
        headers = ({'WWW-Authenticate': 'Bearer'}
            if self.status == HTTPStatus.UNAUTHORIZED else None)
        return _json({'error': error}, self.status, headers)


def _json(body, status=HTTPStatus.OK, headers=None):
    return Response(json.dumps(body, ensure_ascii=False), status=status,
        headers=headers, content_type='application/json')


def agent_route(path, methods, readonly):
    """A route of the API: the module must be activated in the database,
    the bearer key valid; errors are answered as JSON."""
    def decorator(func):
        @app.route(PREFIX + path, methods=methods)
        @with_pool
        @with_transaction(readonly=readonly)
        @wraps(func)
        def wrapper(request, pool, **kwargs):
            try:
                try:
                    pool.get('rkc.payment.agent')
                except KeyError:
                    raise ApiError(
                        HTTPStatus.NOT_FOUND, 'not_activated') from None
                agent = _agent(request, pool)
                return func(request, pool, agent, **kwargs)
            except agent_api.FieldError as exc:
                error = ApiError(HTTPStatus.BAD_REQUEST, exc.code,
                    field=exc.field)
            except UserError as exc:
                # A rule of the module refused it (e.g. nothing to
                # allocate an advance to): told as it is.
                error = ApiError(HTTPStatus.UNPROCESSABLE_ENTITY,
                    'refused', message=exc.message)
            except ApiError as exc:
                error = exc
            Transaction().rollback()
            return error.response()
        return wrapper
    return decorator


def _agent(request, pool):
    Agent = pool.get('rkc.payment.agent')
    header = request.headers.get('Authorization', '')
    scheme, _, key = header.partition(' ')
    if scheme.lower() != 'bearer' or not key.strip():
        raise ApiError(HTTPStatus.UNAUTHORIZED, 'unauthorized')
    agent = Agent.by_key(key.strip())
    if agent is None:
        raise ApiError(HTTPStatus.UNAUTHORIZED, 'unauthorized')
    return agent


def _now():
    return dt.datetime.now(dt.UTC).replace(
        tzinfo=None, microsecond=0)


@agent_route('/accounts/<number>', ['GET'], readonly=True)
def account(request, pool, agent, number):
    "What the agent's cashier tells the payer before taking the money."
    from rkc.engine.regulations import default_regulations
    Account = pool.get('rkc.account')
    found = _open_account(Account, number)
    regulations = default_regulations()
    debts = account_debts(found.id, regulations)
    balance = found.balance
    period = max((debt.period for debt in debts), default=None)
    premise = found.premise
    return _json({
            'account': found.number,
            'payer': agent_api.mask_name(found.payer.rec_name),
            'address': agent_api.partial_address(
                premise.building.rec_name, premise.number),
            'amount_due': str(max(balance, ZERO)),
            'advance': str(max(-balance, ZERO)),
            'period': f'{period:%Y-%m}' if period else None,
            'due_date': (regulations.due_date(period).isoformat()
                if period else None),
            })


def _open_account(Account, number):
    if not agent_api.ACCOUNT.fullmatch(number):
        raise ApiError(HTTPStatus.BAD_REQUEST, 'invalid_account',
            field='account')
    accounts = Account.search([('number', '=', number)], limit=1)
    if not accounts:
        raise ApiError(HTTPStatus.NOT_FOUND, 'account_not_found',
            number=number)
    found, = accounts
    if found.state != 'open':
        raise ApiError(HTTPStatus.CONFLICT, 'account_closed',
            number=number)
    return found


@agent_route('/payments', ['POST'], readonly=False)
def register(request, pool, agent):
    """Register a payment; the agent's operation id makes it idempotent:
    the same operation again is answered as the first time, the same id
    with other data is refused."""
    Payment = pool.get('rkc.payment')
    Account = pool.get('rkc.account')
    AgentDay = pool.get('rkc.payment.agent.day')
    operation = agent_api.parse_operation(
        agent_api.parse_body(request.get_data()), _now())
    key = operation_key(None, operation.operation_id, None)
    earlier = _payment(Payment, agent, key)
    if earlier is None:
        found = _open_account(Account, operation.account)
        payment_id = _insert(Payment, agent, key, operation, found)
        if payment_id is not None:
            payment = Payment(payment_id)
            Payment.post([payment])
            if AgentDay.of(agent, payment.date).state == 'posted':
                # A late operation of a day already posted: on its own.
                pool.get('rkc.ledger.posting').summarize(
                    str(payment), payment.date, gettext(
                        'rkc_utilities.msg_agent_day_move',
                        day=payment.rec_name),
                    counter_account=agent.account)
            return _json(_payment_body(payment), HTTPStatus.CREATED)
        # Only reached when the concurrent insert is visible: PostgreSQL
        # restarts a transaction that cannot see it.
        earlier = _payment(Payment, agent, key)
    if not _operation_of(earlier).same_as(operation):
        raise ApiError(HTTPStatus.CONFLICT, 'operation_conflict',
            operation=operation.operation_id)
    return _json(_payment_body(earlier))


def _insert(Payment, agent, key, operation, found):
    """The new payment's id, or None when the operation is there already
    (two requests with the same id at once keep one)."""
    table = Payment.__table__()
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    execute_returning(cursor, table.insert(
            [table.account, table.centre, table.amount, table.commission,
                table.accepted_at, table.date, table.period, table.channel,
                table.agent, table.operation_id, table.operation_key,
                table.payer_name, table.state, table.create_uid,
                table.create_date],
            [[found.id, found.centre.id, operation.amount,
                    operation.commission, operation.accepted_at,
                    operation.accepted_at.date(), operation.period, 'agent',
                    agent.id, operation.operation_id, key, operation.payer,
                    'received', transaction.user, CurrentTimestamp()]],
            on_conflict=Conflict(table, indexed_columns=[
                    table.agent, table.operation_key]),
            returning=[table.id]))
    row = cursor.fetchone()
    return row[0] if row else None


def _payment(Payment, agent, key):
    payments = Payment.search([
            ('agent', '=', agent.id), ('operation_key', '=', key)], limit=1)
    return payments[0] if payments else None


def _operation_of(payment):
    return agent_api.Operation(payment.operation_id, payment.account.number,
        payment.amount, payment.commission, payment.accepted_at,
        payment.period, payment.payer_name)


def _payment_body(payment):
    return {
        'operation_id': payment.operation_id,
        'payment_id': payment.id,
        'account': payment.account.number,
        'amount': str(payment.amount),
        'commission': str(payment.commission),
        'accepted_at': payment.accepted_at.isoformat() + 'Z',
        'date': payment.date.isoformat(),
        'period': f'{payment.period:%Y-%m}' if payment.period else None,
        'state': 'cancelled' if payment.state == 'cancelled' else 'accepted',
        }


@agent_route('/payments/<operation_id>/cancel', ['POST'], readonly=False)
def cancel(request, pool, agent, operation_id):
    """Cancel a payment on the day it was accepted, while the agent's day
    is not yet posted; cancelling again answers the same."""
    Payment = pool.get('rkc.payment')
    AgentDay = pool.get('rkc.payment.agent.day')
    payment = _payment(Payment, agent, operation_key(
            None, operation_id, None))
    if payment is None:
        raise ApiError(HTTPStatus.NOT_FOUND, 'payment_not_found',
            operation=operation_id)
    if payment.state != 'cancelled':
        day = AgentDay.of(agent, payment.date)
        if payment.date != today() or day.state != 'open':
            raise ApiError(HTTPStatus.CONFLICT, 'cancel_window_closed',
                operation=operation_id,
                date=payment.date.strftime('%d.%m.%Y'))
        Payment.cancel([payment])
    return _json(_payment_body(payment))


@agent_route('/payments', ['GET'], readonly=True)
def payments(request, pool, agent):
    "The agent's payments accepted on a date, for its reconciliation."
    Payment = pool.get('rkc.payment')
    date = agent_api.parse_date(request.args.get('date'), 'date')
    found = Payment.search([
            ('agent', '=', agent.id), ('channel', '=', 'agent'),
            ('date', '=', date)], order=[('accepted_at', 'ASC'),
            ('id', 'ASC')])
    accepted = [p for p in found if p.state != 'cancelled']
    return _json({
            'date': date.isoformat(),
            'count': len(accepted),
            'amount': str(sum((p.amount for p in accepted), ZERO)),
            'commission': str(sum((p.commission for p in accepted), ZERO)),
            'payments': [_payment_body(p) for p in found],
            })
