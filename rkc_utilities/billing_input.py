# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Gather the billing engine's inputs for a chunk of buildings with a fixed
number of set-based queries (one per table), whatever the chunk's size."""
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

from sql import Literal, Null
from sql.operators import Exists

from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.transaction import Transaction

from rkc.engine import billing as engine
from rkc.engine.dated import DatedTable, add_months
from rkc.engine.errors import CalculationError
from rkc.engine.missing_readings import (
    FAILED, VERIFICATION_EXPIRED, WORKING)

HISTORY_MONTHS = 13
WASTEWATER_SOURCES = ('cold_water', 'hot_water')
_ENGINE_METHODS = {
    'metered': engine.METERED,
    'hot_water_two_component': engine.METERED,
    'norm': engine.NORM,
    'wastewater': engine.WASTEWATER,
    'heating_norm': engine.HEATING,
    'heating_building_meter': engine.HEATING,
    'heating_even': engine.HEATING,
    }


class ChunkAccount:
    "What the run needs of an account besides the engine's input."
    __slots__ = ('id', 'centre', 'input', 'services')

    def __init__(self, id, centre, input, services):
        self.id = id
        self.centre = centre
        self.input = input
        self.services = services


def _rows(query):
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    return cursor.fetchall()


def _in(column, values):
    """``column IN values`` as one array parameter on PostgreSQL: a query
    with a placeholder per id costs more to prepare than to run."""
    return SQL_OPERATORS['in'](column, list(values))


def _date(value):
    "SQLite returns dates as text in raw queries."
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _datetime(value):
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _decimal(value):
    return None if value is None else Decimal(str(value))


class MissingTable:
    """Stands for a dated table without rows (rates deleted, migrated data):
    the engine's first look at it stops the account, not the chunk."""

    def __init__(self, what):
        self.what = what

    def changes(self):
        return ()

    def on(self, day):
        raise CalculationError(f'no {self.what}')


class ReferenceData:
    """Services, tariffs and norms as dated tables, read once per chunk (a
    few hundred rows for a whole region)."""

    def __init__(self):
        pool = Pool()
        Service = pool.get('rkc.service')
        Tariff = pool.get('rkc.tariff')
        Rate = pool.get('rkc.tariff.rate')
        Norm = pool.get('rkc.norm')
        NormValue = pool.get('rkc.norm.value')
        service = Service.__table__()
        self.services = {}
        self.codes = {}
        for id_, code, method, raising, digits in _rows(service.select(
                    service.id, service.code, service.method,
                    service.raising_coefficient, service.meter_digits,
                    where=service.active == Literal(True))):
            self.services[id_] = (code, method, bool(raising), digits or 0)
            self.codes[code] = id_

        tariff, rate = Tariff.__table__(), Rate.__table__()
        by_tariff = defaultdict(list)
        for (service_id, scope, building, zones, valid_from, value, t2, t3,
                heat) in _rows(tariff.join(
                        rate, condition=rate.tariff == tariff.id).select(
                        tariff.service, tariff.scope, tariff.building,
                        tariff.zones, rate.valid_from, rate.rate,
                        rate.rate_t2, rate.rate_t3, rate.heat_rate)):
            key = (service_id, zones,
                building if scope == 'building' else None)
            rates = tuple(_decimal(r) for r in (value, t2, t3)[:zones])
            by_tariff[key].append(
                (_date(valid_from), (rates, _decimal(heat))))
        self._tariffs = by_tariff
        self._tariff_tables = {}

        norm, norm_value = Norm.__table__(), NormValue.__table__()
        norms = defaultdict(list)
        for (service_id, kind, rooms, residents, valid_from,
                value) in _rows(norm.join(
                    norm_value, condition=norm_value.norm == norm.id).select(
                    norm.service, norm.kind, norm.rooms, norm.residents,
                    norm_value.valid_from, norm_value.value)):
            norms[(service_id, kind, rooms, residents)].append(
                (_date(valid_from), _decimal(value)))
        self._norms = {
            key: DatedTable(rows, f'norm of {self.services[key[0]][0]}')
            for key, rows in norms.items()}
        self._norm_dims = defaultdict(lambda: ([], []))
        for service_id, kind, rooms, residents in self._norms:
            dims = self._norm_dims[(service_id, kind)]
            if rooms:
                dims[0].append(rooms)
            if residents:
                dims[1].append(residents)

    def tariffs(self, service_id, zones, building, heat_norm=None):
        "The tariff table of a service for a building and a meter's zones."
        key = (service_id, zones, building)
        if key not in self._tariff_tables:
            rows = self._tariffs.get(key) or self._tariffs.get(
                (service_id, zones, None))
            if rows is None:
                self._tariff_tables[key] = MissingTable(
                    f'tariff of {self.services[service_id][0]}')
            else:
                self._tariff_tables[key] = DatedTable([
                        (day, engine.Tariff(rates, heat_norm, heat))
                        for day, (rates, heat) in rows],
                    f'tariff of {self.services[service_id][0]}')
        return self._tariff_tables[key]

    def norm(self, service_id, kind, rooms=None, residents=None):
        "The norm table; rooms and residents pick a row where it has them."
        room_values, resident_values = self._norm_dims[(service_id, kind)]
        rooms = min(rooms or 1, max(room_values)) if room_values else None
        residents = (min(max(residents or 1, 1), max(resident_values))
            if resident_values else None)
        return self._norms.get((service_id, kind, rooms, residents))


def load_chunk(period_start, building_ids, reference, rebill=False,
        account_ids=None):
    """Engine inputs of the accounts of the buildings that are open in the
    period and not billed for it yet; with ``rebill``, of those billed too
    (a recalculation re-runs a past period), limited to ``account_ids``
    when given."""
    pool = Pool()
    Account = pool.get('rkc.account')
    Premise = pool.get('rkc.premise')
    Building = pool.get('rkc.building')
    Residents = pool.get('rkc.premise.residents')
    Owner = pool.get('rkc.account.owner')
    AccountService = pool.get('rkc.account.service')
    Line = pool.get('rkc.ledger.line')
    period_end = add_months(period_start, 1) - dt.timedelta(days=1)

    account, premise, building = (
        Account.__table__(), Premise.__table__(), Building.__table__())
    billed = Line.__table__()
    where = building.id.in_(list(building_ids)) & (
        account.opened_on <= period_end) & (
        (account.closed_on == Null) | (account.closed_on >= period_start))
    if account_ids is not None:
        where &= account.id.in_(list(account_ids))
    if not rebill:
        where &= ~Exists(billed.select(billed.id, where=(
                    billed.account == account.id)
                & (billed.period == period_start)
                & billed.kind.in_(['charge', 'recalculation'])
                & billed.origin.like('rkc.billing.run,%')))
    rows = _rows(account.join(premise, condition=account.premise == premise.id
            ).join(building, condition=premise.building == building.id
            ).select(
            account.id, account.centre, account.opened_on, account.closed_on,
            premise.id, premise.kind, premise.total_area, premise.rooms,
            premise.meter_installable, building.id, building.total_area,
            building.common_area, building.heating_mode, building.heat_meter,
            where=where, order_by=[account.id]))
    if not rows:
        return []
    account_ids = [r[0] for r in rows]
    premise_ids = list({r[4] for r in rows})

    residents = Residents.__table__()
    by_premise = defaultdict(list)
    for premise_id, count, first, last in _rows(residents.select(
                residents.premise, residents.count, residents.valid_from,
                residents.valid_to,
                where=_in(residents.premise, premise_ids))):
        by_premise[premise_id].append(
            engine.Residents(count, _date(first), _date(last)))

    owner = Owner.__table__()
    owners = defaultdict(int)
    for account_id, in _rows(owner.select(owner.account, where=(
                    _in(owner.account, account_ids))
                & (owner.role == 'owner'))):
        owners[account_id] += 1

    subscription = AccountService.__table__()
    services = defaultdict(list)
    for account_id, service_id, first, last in _rows(subscription.select(
                subscription.account, subscription.service,
                subscription.valid_from, subscription.valid_to,
                where=_in(subscription.account, account_ids))):
        services[account_id].append((service_id, _date(first), _date(last)))

    heat = _load_building_heat(period_start, period_end, building_ids,
        reference.codes.get('heating'))
    buildings = {}
    premise_accounts = {r[4]: r[0] for r in rows}
    meters = _load_meters(period_start, period_end, premise_accounts)

    result = []
    for (account_id, centre, opened, closed, premise_id, kind, area, rooms,
            installable, building_id, total_area, common_area, heating_mode,
            heat_meter) in rows:
        building_input = buildings.get(building_id)
        if building_input is None:
            gcal, last_year_gcal = heat.get(building_id, (None, None))
            building_input = buildings[building_id] = engine.Building(
                _decimal(total_area), _decimal(common_area),
                engine.HEATING_NORM if not heat_meter else (
                    engine.HEATING_SEASON if heating_mode == 'season'
                    else engine.HEATING_EVEN),
                gcal, last_year_gcal)
        premise_residents = tuple(by_premise[premise_id])
        account_input = engine.Account(
            account_id, _date(opened), _date(closed),
            kind != 'non_residential', _decimal(area), bool(installable),
            building_input, premise_residents, owners[account_id])
        persons = sum(r.count for r in premise_residents
            if r.first <= period_start
            and (r.last is None or period_start <= r.last))
        service_inputs, service_ids = [], {}
        for service_id, first, last in services[account_id]:
            if service_id not in reference.services:
                continue
            code, method, raising, digits = reference.services[service_id]
            meter = meters.get((premise_id, service_id))
            zones = len(meter.zones) if meter else 1
            heat_norm = None
            norm_kind = 'per_person'
            if method == 'hot_water_two_component':
                heat_table = reference.norm(service_id, 'heat_per_volume')
                heat_norm = heat_table.on(period_start) if heat_table \
                    else None
            if method.startswith('heating'):
                norm_kind = 'per_area'
            service_inputs.append(engine.Service(
                    code=code, method=_ENGINE_METHODS.get(method, method),
                    tariffs=reference.tariffs(
                        service_id, zones, building_id, heat_norm),
                    first=first, last=last,
                    norms=reference.norm(
                        service_id, norm_kind, rooms, persons),
                    raising=raising, meter=meter,
                    sources=WASTEWATER_SOURCES if method == 'wastewater'
                    else (), volume_places=digits))
            service_ids[code] = service_id
        result.append(ChunkAccount(
                account_id, centre, account_input,
                (service_inputs, service_ids)))
    return result


def _load_building_heat(period_start, period_end, building_ids, heating):
    """Heat used by each building by its common meter: in the period, and
    over the last calendar year (for heating paid evenly)."""
    pool = Pool()
    Meter = pool.get('rkc.meter')
    Reading = pool.get('rkc.meter.reading')
    if heating is None:
        return {}
    meter, reading = Meter.__table__(), Reading.__table__()
    year_start = dt.date(period_start.year - 1, 1, 1)
    values = defaultdict(list)
    for building_id, read_at, value in _rows(meter.join(
                reading, condition=reading.meter == meter.id).select(
                meter.building, reading.read_at, reading.value,
                where=meter.building.in_(list(building_ids))
                & (meter.service == heating) & (meter.state == 'active')
                & (reading.state == 'valid')
                & (reading.read_at >= dt.datetime.combine(
                        year_start - dt.timedelta(days=31), dt.time()))
                & (reading.read_at < dt.datetime.combine(
                        period_end + dt.timedelta(days=1), dt.time())),
                order_by=[meter.building, reading.read_at])):
        values[building_id].append(
            (_datetime(read_at).date(), _decimal(value)))

    def last_before(readings, day):
        found = [v for d, v in readings if d < day]
        return found[-1] if found else None
    result = {}
    for building_id, readings in values.items():
        start = last_before(readings, period_start)
        # Only a reading taken in the period closes it.
        during = [v for d, v in readings if d >= period_start]
        end = during[-1] if during else None
        year_from = last_before(readings, year_start)
        year_to = last_before(readings, dt.date(period_start.year, 1, 1))
        result[building_id] = (
            end - start if start is not None and end is not None else None,
            year_to - year_from if None not in (year_from, year_to)
            else None)
    return result


def _load_meters(period_start, period_end, premise_accounts):
    """Meters of the premises with their previous and current readings,
    monthly history and the volumes billed by estimate since."""
    pool = Pool()
    Meter = pool.get('rkc.meter')
    Reading = pool.get('rkc.meter.reading')
    Line = pool.get('rkc.ledger.line')
    meter, reading, line = (
        Meter.__table__(), Reading.__table__(), Line.__table__())
    meter_rows = _rows(meter.select(
            meter.id, meter.premise, meter.service, meter.state,
            meter.installed_on, meter.verified_on,
            meter.verification_interval, meter.zones, meter.digits,
            where=_in(meter.premise, premise_accounts)
            & (meter.state != 'removed')
            & (meter.installed_on <= period_end),
            order_by=[meter.id]))
    if not meter_rows:
        return {}
    history_start = add_months(period_start, -HISTORY_MONTHS)
    readings = defaultdict(list)
    for meter_id, read_at, v1, v2, v3 in _rows(reading.select(
                reading.meter, reading.read_at, reading.value,
                reading.value_t2, reading.value_t3,
                where=_in(reading.meter, (r[0] for r in meter_rows))
                & (reading.state == 'valid')
                & (reading.read_at >= dt.datetime.combine(
                        history_start, dt.time()))
                & (reading.read_at < dt.datetime.combine(
                        period_end + dt.timedelta(days=1), dt.time())),
                order_by=[reading.meter, reading.read_at])):
        readings[meter_id].append(
            (_datetime(read_at).date(), (_decimal(v1), _decimal(v2),
                    _decimal(v3))))

    estimated = defaultdict(list)
    for account_id, service_id, period, volume, basis in _rows(line.select(
                line.account, line.service, line.period, line.volume,
                line.basis,
                where=_in(line.account, premise_accounts.values())
                & (line.kind == 'charge') & (line.method == 'average')
                & (line.period >= history_start)
                & (line.period < period_start),
                order_by=[line.period])):
        zone = json.loads(basis or '{}').get('zone', 0)
        estimated[(account_id, service_id, zone)].append(
            (_date(period), _decimal(volume)))

    result = {}
    for (meter_id, premise_id, service_id, state, installed, verified,
            interval, zones, digits) in meter_rows:
        installed = _date(installed)
        start = _date(verified) or installed
        expired = bool(interval) and add_months(
            start, 12 * interval) <= period_start
        meter_state = FAILED if state == 'failed' else (
            VERIFICATION_EXPIRED if expired else WORKING)
        history = readings[meter_id]
        before = [(day, values) for day, values in history
            if day < period_start]
        during = [(day, values) for day, values in history
            if day >= period_start]
        zone_inputs = []
        for index in range(zones):
            previous = before[-1][1][index] if before else None
            if previous is None:
                # No reading yet: the meter starts from its first one.
                previous = during[0][1][index] if during else Decimal(0)
            current = during[-1][1][index] if during else None
            since = before[-1][0] if before else installed
            zone_inputs.append(engine.Zone(
                    previous=previous, current=current,
                    history=_monthly_volumes(before, index),
                    estimated=tuple(volume for period, volume in
                        estimated.get((premise_accounts[premise_id],
                                service_id, index), ())
                        if period > since)))
        result[(premise_id, service_id)] = engine.Meter(
            meter_state, installed, tuple(zone_inputs), digits)
    return result


def _monthly_volumes(readings, zone):
    "Consumption between readings of consecutive months, oldest first."
    last_by_month = {}
    for day, values in readings:
        last_by_month[(day.year, day.month)] = values[zone]
    months = sorted(last_by_month)
    volumes = []
    for previous, current in zip(months, months[1:], strict=False):
        if (current[0] * 12 + current[1]) - (previous[0] * 12 + previous[1]) \
                == 1:
            delta = last_by_month[current] - last_by_month[previous]
            if delta >= 0:
                volumes.append(delta)
    return tuple(volumes)
