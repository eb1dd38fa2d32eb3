"""The payment QR code payload of GOST R 56042-2014 (rules.md §7).

The payload is ``ST00012`` (format 0001, encoding 2 = UTF-8) followed by
``|Key=Value`` pairs. A value containing ``|`` is refused rather than
stripped: silently changing a name or a purpose would send money with
details the payer never saw on paper.
"""
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from .bank import account_key_is_valid, correspondent_key_is_valid
from .errors import CalculationError
from .money import kopecks, round_money

HEADER = 'ST00012'
SEPARATOR = '|'
HOUSING_AND_UTILITIES = '02'

# Field length limits of the standard, in characters.
_LIMITS = {
    'Name': 160, 'BankName': 45, 'CorrespAcc': 20, 'Purpose': 160,
    'PayeeINN': 12, 'KPP': 9, 'PersAcc': 60, 'LastName': 60,
    'FirstName': 60, 'MiddleName': 60, 'PayerAddress': 255,
    }
_INN = re.compile(r'\d{10}|\d{12}')
_KPP = re.compile(r'\d{4}[\dA-Z]{2}\d{3}')


@dataclass(frozen=True)
class Payee:
    "The organisation that receives the payment, with its bank details."
    name: str
    inn: str
    kpp: str
    account: str
    bank_name: str
    bic: str
    correspondent_account: str


@dataclass(frozen=True)
class Payer:
    "Who pays, as printed on the receipt."
    account_number: str
    last_name: str = ''
    first_name: str = ''
    middle_name: str = ''
    address: str = ''


def check_bank_details(payee):
    """Refuse bank details whose control digits do not match the БИК:
    a payment to such an account bounces or, worse, lands elsewhere."""
    if not account_key_is_valid(payee.account, payee.bic):
        raise CalculationError(
            f'settlement account {payee.account} does not match БИК '
            f'{payee.bic} (control digit check failed)')
    if not correspondent_key_is_valid(
            payee.correspondent_account, payee.bic):
        raise CalculationError(
            f'correspondent account {payee.correspondent_account} does not '
            f'match БИК {payee.bic} (control digit check failed)')
    if not _INN.fullmatch(payee.inn):
        raise CalculationError(
            f'payee ИНН must be 10 or 12 digits: {payee.inn!r}')
    if not _KPP.fullmatch(payee.kpp):
        raise CalculationError(f'payee КПП is malformed: {payee.kpp!r}')


def payment_payload(
        payee, payer, *, purpose, period, amount, penalty=None):
    """The QR payload for paying ``amount`` roubles (the total to pay,
    penalties included) for the billing ``period`` (a date in the month).

    ``penalty`` goes to AddAmount for the bank's information only: it is
    already part of ``amount``, so the payer is not charged it twice.
    """
    check_bank_details(payee)
    fields = [
        ('Name', payee.name),
        ('PersonalAcc', payee.account),
        ('BankName', payee.bank_name),
        ('BIC', payee.bic),
        ('CorrespAcc', payee.correspondent_account),
        ('PayeeINN', payee.inn),
        ('KPP', payee.kpp),
        ('PersAcc', payer.account_number),
        ('LastName', payer.last_name),
        ('FirstName', payer.first_name),
        ('MiddleName', payer.middle_name),
        ('PayerAddress', payer.address),
        ('Purpose', purpose),
        ('PaymPeriod', _period(period)),
        # Nothing to pay (an advance): the payer types the amount.
        ('Sum', _kopecks('Sum', amount) if amount else ''),
        ]
    if penalty:
        fields.append(('AddAmount', _kopecks('AddAmount', penalty)))
    fields.append(('TechCode', HOUSING_AND_UTILITIES))
    return HEADER + ''.join(
        f'{SEPARATOR}{key}={_value(key, value)}'
        for key, value in fields if value)


def _value(key, value):
    if SEPARATOR in value:
        raise CalculationError(
            f'QR field {key} must not contain "{SEPARATOR}": {value!r}')
    if any(c in value for c in '\r\n'):
        raise CalculationError(
            f'QR field {key} must be one line: {value!r}')
    limit = _LIMITS.get(key)
    if limit is not None and len(value) > limit:
        raise CalculationError(
            f'QR field {key} is {len(value)} characters long, '
            f'the limit is {limit}')
    return value


def _period(period):
    if not isinstance(period, dt.date):
        raise CalculationError(f'PaymPeriod must be a date: {period!r}')
    return f'{period.month:02d}{period.year:04d}'


def _kopecks(key, amount):
    amount = Decimal(amount)
    if amount != round_money(amount):
        raise CalculationError(
            f'QR field {key} must be whole kopecks: {amount}')
    if amount < 0:
        raise CalculationError(
            f'QR field {key} must not be negative: {amount}')
    return str(kopecks(amount))
