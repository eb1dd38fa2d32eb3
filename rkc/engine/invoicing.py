"""Customer invoice lines from subledger charges: a line's amount must be
the charge to the kopeck, whatever the unit's and the price's digits."""
from decimal import Decimal

from .money import round_money, round_places


def quantity_and_price(amount, volume, quantity_digits, price_digits,
        round_amount=round_money):
    """The quantity and unit price of an invoice line whose amount
    (``round_amount`` of quantity × price) is ``amount`` exactly: the volume
    when the unit's digits hold it and a price of ``price_digits`` gives the
    amount back, else one at the amount."""
    if volume and volume == round_places(volume, quantity_digits):
        price = round_places(amount / volume, price_digits)
        if round_amount(volume * price) == amount:
            return volume, price
    return Decimal(1), amount
