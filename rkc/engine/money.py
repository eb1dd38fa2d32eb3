"""Rounding rules shared by every calculation.

Money is rounded half-up to the kopeck once per line; volumes keep the
meter's resolution. Intermediate products are never rounded.
"""
from decimal import ROUND_HALF_UP, Decimal

KOPECK = Decimal('0.01')
ROUBLE = Decimal('1')


def round_money(amount):
    "Round an amount of roubles half-up to whole kopecks."
    return Decimal(amount).quantize(KOPECK, rounding=ROUND_HALF_UP)


def read_money(value):
    """A sum as a database returns it (Decimal, SQLite's float, text; None
    when nothing was summed) in kopecks."""
    if type(value) is not Decimal:
        value = Decimal(str(value or 0))
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def round_places(value, places):
    "Round half-up to a fixed number of decimal places."
    return Decimal(value).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round_roubles(amount):
    "Round half-up to whole roubles (50 kopecks and more go up)."
    return Decimal(amount).quantize(ROUBLE, rounding=ROUND_HALF_UP)


def kopecks(amount):
    "Whole kopecks of an amount already rounded to the kopeck."
    return int(round_money(amount) * 100)
