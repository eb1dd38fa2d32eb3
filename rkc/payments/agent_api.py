"""The pure side of the payment-agent API (docs/payment-agent-api.yaml):
reading the request bodies and what an agent may see of a payer. No Tryton
here; the routes are in rkc_utilities/agent_routes.py."""
import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ASCII digits only: \d would also take other scripts' digits.
ACCOUNT = re.compile(r'\d{10}', re.ASCII)
OPERATION = re.compile(r'[\w./:-]{1,64}', re.ASCII)
PERIOD = re.compile(r'(\d{4})-(\d{2})', re.ASCII)
AMOUNT = re.compile(r'\d{1,8}(\.\d{1,2})?', re.ASCII)
# Agents' clocks drift; money accepted in the future is a bad request.
CLOCK_SKEW = dt.timedelta(minutes=10)
MAX_AMOUNT = Decimal('10000000.00')


class FieldError(ValueError):
    """A request field that is missing or wrong: ``code`` names the
    message, ``field`` the field."""

    def __init__(self, field, code):
        super().__init__(f'{field}: {code}')
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Operation:
    "A payment an agent registers."
    operation_id: str
    account: str
    amount: Decimal
    commission: Decimal
    accepted_at: dt.datetime  # naive UTC
    period: dt.date | None
    payer: str | None

    def same_as(self, other):
        "Whether a resent operation carries the same data."
        return (self.account, self.amount, self.commission,
            self.accepted_at, self.period) == (other.account, other.amount,
            other.commission, other.accepted_at, other.period)


def parse_body(data):
    "The JSON object of a request body."
    try:
        body = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise FieldError('body', 'invalid_json') from None
    if not isinstance(body, dict):
        raise FieldError('body', 'invalid_json')
    return body


def parse_operation(body, now):
    "The :class:`Operation` of a registration body, checked field by field."
    operation_id = body.get('operation_id')
    if not isinstance(operation_id, str) \
            or not OPERATION.fullmatch(operation_id):
        raise FieldError('operation_id', 'invalid_operation_id')
    account = body.get('account')
    if not isinstance(account, str) or not ACCOUNT.fullmatch(account):
        raise FieldError('account', 'invalid_account')
    amount = parse_amount(body.get('amount'), 'amount')
    if amount <= 0:
        raise FieldError('amount', 'invalid_amount')
    commission = parse_amount(body.get('commission', '0.00'), 'commission')
    accepted_at = parse_datetime(body.get('accepted_at'), 'accepted_at')
    if accepted_at > now + CLOCK_SKEW:
        raise FieldError('accepted_at', 'future_date')
    period = body.get('period')
    if period is not None:
        period = parse_period(period, 'period')
    payer = body.get('payer')
    if payer is not None and (not isinstance(payer, str)
            or len(payer) > 200):
        raise FieldError('payer', 'invalid_payer')
    return Operation(operation_id, account, amount, commission, accepted_at,
        period, payer)


def parse_amount(value, field):
    """Roubles as a string with at most two decimals ("1234.50"); JSON
    numbers are refused: binary floats are not money."""
    if not isinstance(value, str) or not AMOUNT.fullmatch(value):
        raise FieldError(field, 'invalid_amount')
    try:
        amount = Decimal(value).quantize(Decimal('0.01'))
    except InvalidOperation:
        raise FieldError(field, 'invalid_amount') from None
    if amount > MAX_AMOUNT:
        raise FieldError(field, 'invalid_amount')
    return amount


def parse_datetime(value, field):
    """An ISO 8601 date and time; with an offset it is converted to UTC,
    without one it is taken as UTC."""
    if not isinstance(value, str):
        raise FieldError(field, 'invalid_datetime')
    try:
        moment = dt.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        raise FieldError(field, 'invalid_datetime') from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # an offset past the calendar's ends
            raise FieldError(field, 'invalid_datetime') from None
    return moment.replace(microsecond=0)


def parse_date(value, field):
    if not isinstance(value, str):
        raise FieldError(field, 'invalid_date')
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, 'invalid_date') from None


def parse_period(value, field):
    "A billing period as YYYY-MM: its first day."
    match = PERIOD.fullmatch(value) if isinstance(value, str) else None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), 1)
    except (AttributeError, ValueError):  # no match, year 0, month 13
        raise FieldError(field, 'invalid_period') from None


def mask_name(name):
    """What an agent's cashier may read back to the payer: the surname's
    first letter and the initials ("Иванов Иван Иванович" → "И***** И. И.")."""
    words = (name or '').split()
    if not words:
        return ''
    surname, *given = words
    return ' '.join([surname[0] + '*' * (len(surname) - 1)]
        + [f'{word[0]}.' for word in given])


def partial_address(building, flat):
    "The building without the flat number."
    return f'{building}, кв. ' + '*' * len(flat) if flat else building
