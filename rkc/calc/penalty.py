"""``rkc calc penalty``: penalties on period debts after payments, with the
bands of the court's debt-and-penalty table (calc-cli.md)."""
from decimal import Decimal

from rkc.calc import CalcInputError
from rkc.engine.penalty import Payment, penalties

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
        'periods': [_period(result) for result in results],
        }


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
