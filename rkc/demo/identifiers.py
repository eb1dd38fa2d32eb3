"""Check digits of Russian tax identifiers (ИНН, ОГРН) and the КПП layout,
so that the demo's organisations and people pass the checks banks, courts
and ГИС ЖКХ make."""
import re

# Federal Tax Service weights for the ИНН check digits.
_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_FIRST_WEIGHTS = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_SECOND_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_digit(digits, weights):
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    return str(total % 11 % 10)


def inn_with_check_digits(body):
    """The ИНН for its body: 9 digits give an organisation's 10-digit ИНН,
    10 digits a person's 12-digit one."""
    if not re.fullmatch(r'\d{9}|\d{10}', body):
        raise ValueError(f'an ИНН body is 9 or 10 digits: {body!r}')
    if len(body) == 9:
        return body + _inn_digit(body, _INN10_WEIGHTS)
    body += _inn_digit(body, _INN12_FIRST_WEIGHTS)
    return body + _inn_digit(body, _INN12_SECOND_WEIGHTS)


def inn_is_valid(inn):
    "Whether a 10- or 12-digit ИНН has the right check digits."
    return (isinstance(inn, str) and re.fullmatch(r'\d{10}|\d{12}', inn)
        is not None and inn_with_check_digits(inn[:-1 - (len(inn) == 12)])
        == inn)


def kpp(tax_office, reason='01', number=1):
    """The КПП: the tax office's 4 digits, the reason of registration
    (01 = the organisation's own seat) and a 3-digit number."""
    value = f'{tax_office}{reason}{number:03d}'
    if not re.fullmatch(r'\d{9}', value):
        raise ValueError(f'a КПП is 9 digits: {value!r}')
    return value


def ogrn_with_check_digit(body):
    "The 13-digit ОГРН for its 12-digit body."
    if not re.fullmatch(r'\d{12}', body):
        raise ValueError(f'an ОГРН body is 12 digits: {body!r}')
    return body + str(int(body) % 11 % 10)


def ogrn_is_valid(ogrn):
    "Whether a 13-digit ОГРН has the right check digit."
    return (isinstance(ogrn, str) and re.fullmatch(r'\d{13}', ogrn)
        is not None and ogrn_with_check_digit(ogrn[:12]) == ogrn)
