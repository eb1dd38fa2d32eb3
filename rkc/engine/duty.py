"""State duty on a money claim (Tax Code art. 333.19, rules.md §6), by the
scale in force on the filing date (``data/state_duty.json``).

A duty is payable in whole roubles (Tax Code art. 52 p.6: under 50
kopecks dropped, 50 and more up), so the lawsuit duty is rounded first and
a court order costs its share of that rounded duty, rounded again.
"""
import dataclasses
import datetime as dt
import functools
from decimal import Decimal

from .dated import DatedTable
from .errors import CalculationError
from .money import round_roubles
from .reference_data import read_json

KINDS = ('lawsuit', 'court_order')


@dataclasses.dataclass(frozen=True)
class DutyScale:
    "Brackets of (over, base, percent): base + percent of the excess."
    brackets: tuple[tuple[Decimal, Decimal, Decimal], ...]
    minimum: Decimal
    maximum: Decimal
    court_order_share: Decimal

    def lawsuit(self, claim):
        "The unrounded lawsuit duty on ``claim``."
        over, base, percent = [bracket for bracket in self.brackets
            if claim > bracket[0]][-1]
        duty = base + (claim - over) * percent / 100
        return min(max(duty, self.minimum), self.maximum)


def load_scales(data=None):
    "Duty scales from decoded JSON (default: data/state_duty.json)."
    data = data or read_json('state_duty.json')
    return DatedTable(
        [(dt.date.fromisoformat(row['from']), DutyScale(
                    tuple((Decimal(b['over']), Decimal(b['base']),
                            Decimal(b['percent']))
                        for b in row['brackets']),
                    Decimal(row['minimum']), Decimal(row['maximum']),
                    Decimal(row['court_order_share'])))
            for row in data['scales']],
        'state duty scale')


@functools.cache
def default_scales():
    return load_scales()


def state_duty(claim, filed_on, kind='court_order', scales=None):
    "The duty in whole roubles for a ``kind`` of claim filed on a date."
    if kind not in KINDS:
        raise CalculationError(
            f'unknown kind of claim "{kind}", expected one of '
            f'{", ".join(KINDS)}')
    if claim <= 0:
        raise CalculationError(f'the claim must be positive, got {claim}')
    scale = (scales or default_scales()).on(filed_on)
    lawsuit = round_roubles(scale.lawsuit(claim))
    if kind == 'lawsuit':
        return lawsuit
    return round_roubles(lawsuit * scale.court_order_share)
