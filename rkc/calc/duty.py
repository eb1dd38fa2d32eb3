"``rkc calc duty``: the state duty on a claim (calc-cli.md)."
from rkc.calc import CalcInputError
from rkc.engine.duty import KINDS, state_duty


def calculate(payload):
    claim = payload.decimal('claim')
    filed_on = payload.date('filed_on')
    kind = payload.choice('kind', KINDS)
    if claim <= 0:
        raise CalcInputError(f'"claim" must be positive, got {claim}')
    return {
        'duty': state_duty(claim, filed_on, kind),
        'lawsuit_duty': state_duty(claim, filed_on, 'lawsuit'),
        }
