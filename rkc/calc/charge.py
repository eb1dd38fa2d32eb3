"""``rkc calc charge``: one monthly charge by one method (calc-cli.md)."""
from rkc.engine import charges
from rkc.engine.money import round_places

# Volumes are printed at the meters' resolution (rules.md §1): m³ to 3
# decimals, as in the contract, and heat to 6.
VOLUME_PLACES = 3
GCAL_PLACES = 6


def calculate(payload):
    method = payload.choice('method', METHODS)
    return METHODS[method](payload)


def shown_volume(value):
    return round_places(value, VOLUME_PLACES)


def _heating(line):
    return {'amount': line.amount,
        'gcal': round_places(line.volume, GCAL_PLACES)}


def _zone(zone):
    reading = (zone.decimal('previous'), zone.decimal('current'),
        zone.decimal('tariff'))
    zone.finish()
    return reading


def _metered(payload):
    digits = payload.integer('digits', required=False, minimum=1)
    if payload.has('zones'):
        lines = charges.multi_zone(
            [_zone(z) for z in payload.objects('zones')], digits)
        return {
            'volume': shown_volume(sum(line.volume for line in lines)),
            'amount': sum(line.amount for line in lines),
            'zones': [{'volume': shown_volume(line.volume),
                    'amount': line.amount} for line in lines],
            }
    line = charges.metered(
        payload.decimal('previous'), payload.decimal('current'),
        payload.decimal('tariff'), digits)
    return {'volume': shown_volume(line.volume), 'amount': line.amount}


def _norm(payload):
    line = charges.norm(
        payload.integer('residents', minimum=0), payload.decimal('norm'),
        payload.decimal('tariff'),
        payload.decimal('raising_coefficient', charges.ONE),
        payload.integer('owners', required=False, minimum=0))
    return {'volume': shown_volume(line.volume), 'amount': line.amount,
        'excess': line.excess}


def _average(payload):
    line = charges.average(
        payload.decimals('history'), payload.decimal('tariff'))
    return {'volume': shown_volume(line.volume), 'amount': line.amount}


def _two_component(payload):
    line = charges.two_component(
        payload.decimal('volume'), payload.decimal('cold_tariff'),
        payload.decimal('heat_norm'), payload.decimal('heat_tariff'))
    return {'volume': shown_volume(line.volume), 'amount': line.amount,
        **line.components}


def _wastewater(payload):
    line = charges.wastewater(
        payload.decimal('cold_volume'), payload.decimal('hot_volume'),
        payload.decimal('tariff'))
    return {'volume': shown_volume(line.volume), 'amount': line.amount}


def _heating_norm(payload):
    line = charges.heating_norm(
        payload.decimal('area'), payload.decimal('norm'),
        payload.decimal('tariff'),
        payload.decimal('common_area', required=False),
        payload.decimal('total_area', required=False))
    return _heating(line)


def _heating_building_meter(payload):
    line = charges.heating_building_meter(
        payload.decimal('building_gcal'), payload.decimal('area'),
        payload.decimal('total_area'), payload.decimal('tariff'))
    return _heating(line)


def _heating_even(payload):
    line = charges.heating_even(
        payload.decimal('last_year_gcal'), payload.decimal('area'),
        payload.decimal('total_area'), payload.decimal('tariff'))
    return _heating(line)


def _heating_even_correction(payload):
    line = charges.heating_even_correction(
        payload.decimal('actual_year_gcal'),
        payload.decimal('billed_year_total'), payload.decimal('area'),
        payload.decimal('total_area'), payload.decimal('tariff'))
    return _heating(line)


METHODS = {
    'metered': _metered,
    'norm': _norm,
    'average': _average,
    'hot_water_two_component': _two_component,
    'wastewater': _wastewater,
    'heating_norm': _heating_norm,
    'heating_building_meter': _heating_building_meter,
    'heating_even': _heating_even,
    'heating_even_correction': _heating_even_correction,
    }
