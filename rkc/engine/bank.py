"""Russian bank details: the control digit of a settlement account against
its bank's БИК (Bank of Russia rules, rules.md §7)."""
import re

from .errors import CalculationError

_WEIGHTS = (7, 1, 3)


def _require_digits(value, length, what):
    if not isinstance(value, str) or not re.fullmatch(rf'\d{{{length}}}',
            value):
        raise CalculationError(f'{what} must be {length} digits: {value!r}')


def account_key_is_valid(account, bic):
    """Whether a 20-digit settlement account passes the control-digit check
    with the last three digits of the 9-digit БИК before it."""
    _require_digits(account, 20, 'settlement account')
    _require_digits(bic, 9, 'БИК')
    digits = bic[-3:] + account
    total = sum(int(d) * _WEIGHTS[i % 3] for i, d in enumerate(digits))
    return total % 10 == 0


def correspondent_key_is_valid(account, bic):
    """Whether a correspondent account passes the check: "0" and the 5th–6th
    digits of the БИК stand before it."""
    _require_digits(account, 20, 'correspondent account')
    _require_digits(bic, 9, 'БИК')
    digits = '0' + bic[4:6] + account
    total = sum(int(d) * _WEIGHTS[i % 3] for i, d in enumerate(digits))
    return total % 10 == 0


def with_control_digit(account, bic):
    """The account with its 9th digit (the key) set so that the check
    passes; used to generate valid demo data."""
    _require_digits(account, 20, 'settlement account')
    for key in '0123456789':
        candidate = account[:8] + key + account[9:]
        if account_key_is_valid(candidate, bic):
            return candidate
    raise CalculationError('no control digit fits')  # pragma: no cover
