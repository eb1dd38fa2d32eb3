"""``rkc calc recalculation``: one recalculation delta (calc-cli.md).

Amounts are signed: negative when the consumer was overbilled.
"""
import datetime as dt

from rkc.engine import charges, recalculation
from rkc.engine.calendar import period_of
from rkc.engine.dated import DatedTable

from . import CalcInputError
from .charge import shown_volume


def calculate(payload):
    reason = payload.choice('reason', REASONS)
    return REASONS[reason](payload)


def _period(payload):
    "The period whose dated limits apply; the current one by default."
    return payload.period('period', required=False) or period_of(
        dt.date.today())


def _flag(payload, key):
    value = payload.raw(key, False)
    if not isinstance(value, bool):
        raise CalcInputError(f'"{key}" must be true or false')
    return value


def _absence(payload):
    departure = payload.date('departure')
    absences = recalculation.absent_days(
        departure, payload.date('return'),
        payload.date('applied_on', required=False))
    charge = payload.decimal('monthly_charge_per_person')
    deltas = recalculation.temporary_absence(
        absences, {period: charge for period, _ in absences})
    return {
        'days': sum(days for _, days in absences),
        'amount': sum(delta.amount for delta in deltas),
        'periods': [{'period': f'{delta.period:%Y-%m}',
                'days': delta.basis['days'], 'amount': delta.amount}
            for delta in deltas],
        }


def _interruption(payload):
    accident = _flag(payload, 'dead_end_accident')
    temperature = payload.decimal('room_temperature', required=False)
    interruptions = [
        recalculation.Interruption(hours, accident, temperature)
        for hours in payload.decimals('interruptions_hours')]
    delta = recalculation.interruption(
        _period(payload),
        payload.choice('service', INTERRUPTED_SERVICES),
        payload.decimal('monthly_charge'),
        interruptions)
    return {'excess_hours': delta.basis['excess_hours'],
        'amount': delta.amount}


def _temperature(payload):
    deviations = []
    for item in payload.objects('deviations'):
        deviations.append(recalculation.TemperatureDeviation(
            item.decimal('hours'), item.decimal('temperature'),
            _flag(item, 'night')))
        item.finish()
    delta = recalculation.hot_water_temperature(
        _period(payload),
        payload.decimal('monthly_charge'), deviations)
    return {'step_hours': delta.basis['step_hours'], 'amount': delta.amount}


def _tariff_change(payload):
    volume = payload.decimal('volume')
    if payload.has('tariffs'):
        period = payload.period('period')
        tariffs = []
        for item in payload.objects('tariffs'):
            tariffs.append((item.date('from'), item.decimal('tariff')))
            item.finish()
        delta = recalculation.rerated(
            period, volume, DatedTable(tariffs, 'tariff'),
            payload.decimal('billed_amount'))
        return {'amount': delta.amount, 'parts': delta.basis['parts']}
    billed, correct = (payload.decimal('billed_tariff'),
        payload.decimal('correct_tariff'))
    period = _period(payload)
    delta = recalculation.rerated(
        period, volume, DatedTable([(period, correct)], 'tariff'),
        charges.priced(volume, billed)[0])
    return {'amount': delta.amount}


def _corrected_reading(payload):
    delta = recalculation.corrected_reading(
        _period(payload), payload.decimal('previous'),
        payload.decimal('corrected'), payload.decimal('tariff'),
        payload.decimal('billed_volume'), payload.decimal('billed_amount'),
        payload.integer('digits', required=False, minimum=1))
    return {'volume': shown_volume(delta.volume), 'amount': delta.amount}


def _estimate_correction(payload):
    delta = recalculation.estimate_correction(
        _period(payload), payload.decimal('actual_volume'),
        payload.decimals('estimated_volumes'), payload.decimal('tariff'))
    return {'volume': shown_volume(delta.volume), 'amount': delta.amount}


INTERRUPTED_SERVICES = ('hot_water', 'cold_water', 'heating')

REASONS = {
    'temporary_absence': _absence,
    'interruption': _interruption,
    'hot_water_temperature': _temperature,
    'tariff_change': _tariff_change,
    'corrected_reading': _corrected_reading,
    'estimate_correction': _estimate_correction,
    }
