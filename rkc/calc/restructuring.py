"""``rkc calc restructuring``: an instalment schedule for a debt, equal
parts or equal principal parts with interest (calc-cli.md)."""
from decimal import Decimal

from rkc.calc import CalcInputError
from rkc.engine.restructuring import schedule


def calculate(payload):
    debt = payload.decimal('debt')
    if debt <= 0:
        raise CalcInputError(f'"debt" must be positive, got {debt}')
    annual_rate = payload.decimal('annual_rate', required=False)
    plan = schedule(debt,
        payload.integer('months', minimum=1),
        payload.date('first_due'),
        payload.decimal('down_payment_share', default=Decimal(0)),
        annual_rate)
    result = {'down_payment': plan.down_payment}
    if annual_rate is None:
        result['instalments'] = [
            {'due': i.due, 'amount': i.amount} for i in plan.instalments]
    else:
        result['instalments'] = [
            {'due': i.due, 'principal': i.principal, 'interest': i.interest,
                'amount': i.amount}
            for i in plan.instalments]
        result['total_interest'] = plan.total_interest
    result['total'] = plan.down_payment + sum(
        (i.amount for i in plan.instalments), Decimal('0.00'))
    return result
