"""``rkc calc penalty``: penalties on period debts after payments, with the
bands of the court's debt-and-penalty table (calc-cli.md).

A period's "penalty" is its exact total rounded half-up once; the band
"amount"s are that penalty apportioned over the bands to the kopeck, so
they add up to it exactly and each is within a kopeck of its exact value
(see rkc.engine.penalty). Moratorium bands have amount 0.
"""
from decimal import Decimal

from rkc.calc import CalcInputError
from rkc.engine.penalty import Payment, penalties
from rkc.engine.regulations import default_regulations

RATE = Decimal('0.01')


def calculate(payload):
    as_of = payload.date('as_of')
    debts = {}
    for i, item in enumerate(payload.objects('debts')):
        period = item.period('period')
        service = item.raw('service', default='')
        amount = _amount(item, f'debts[{i}].amount', allow_zero=True)
        if service in debts.get(period, {}):
            raise CalcInputError(
                f'"debts[{i}]" lists period {period:%Y-%m} again'
                + (f' for service "{service}"' if service else ''))
        debts.setdefault(period, {})[service] = amount
        item.finish()
    if not debts:
        raise CalcInputError('"debts" must list at least one debt')
    payments = []
    for i, item in enumerate(payload.objects('payments', default=[])):
        payments.append(Payment(item.date('date'),
            _amount(item, f'payments[{i}].amount'),
            item.period('period', required=False)))
        item.finish()
    results, allocation = penalties(debts, payments, as_of)
    return {
        'as_of': as_of,
        'total': sum((result.penalty for result in results),
            Decimal('0.00')),
        'advance': allocation.advance,
        'rate_rule': _rate_rule(),
        'periods': [_period(result) for result in results],
        }


def _rate_rule():
    "The rate rule in words, for the court's debt-and-penalty table."
    caps = ''.join(
        f'; at most {cap.max_rate.quantize(RATE)} % on days '
        f'{cap.start.isoformat()} to {cap.end.isoformat()}'
        for cap in default_regulations().rate_caps)
    return ('Bank of Russia key rate in force on the day each part of the '
        'debt was paid, for the unpaid part on the calculation date'
        + caps)


def _amount(item, name, allow_zero=False):
    amount = item.decimal('amount')
    if amount < 0 or (not allow_zero and not amount):
        raise CalcInputError(
            f'"{name}" must be '
            f'{"zero or more" if allow_zero else "positive"}, got {amount}')
    return amount


def _period(result):
    paid = sum((amount for _, amount in result.repayments), Decimal('0.00'))
    return {
        'period': f'{result.period:%Y-%m}',
        'due_date': result.due_date,
        'debt': result.principal,
        'paid': [{'date': day, 'amount': amount}
            for day, amount in result.repayments],
        'unpaid': result.principal - paid,
        'penalty': result.penalty,
        'bands': [{
                'from': band.start,
                'to': band.end,
                'days': band.days,
                'fraction': f'1/{band.denominator}',
                'rate': band.rate.quantize(RATE),
                'base': band.base,
                'amount': band.amount,
                'moratorium': band.moratorium,
                } for band in result.bands],
        }
