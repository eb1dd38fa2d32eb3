"""Personal account numbers: 10 digits — a 2-digit centre code, a 7-digit
sequence and a Luhn check digit, so that a mistyped digit or a swap of two
neighbours is caught at the desk, at the bank and in registries."""
import re


def luhn_digit(digits):
    "The Luhn check digit to append to a string of digits."
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def account_number(centre_code, sequence):
    "The account number for the n-th account of a centre."
    body = f'{int(centre_code):02d}{int(sequence):07d}'
    if len(body) != 9:
        raise ValueError(
            f'centre code {centre_code} or sequence {sequence} too large')
    return body + luhn_digit(body)


def account_number_is_valid(number):
    return (isinstance(number, str) and re.fullmatch(r'\d{10}', number)
        is not None and luhn_digit(number[:-1]) == number[-1])
