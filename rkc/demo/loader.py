"""Load the generated demo town into a Tryton database, a few buildings per
transaction so that memory stays flat however large the town."""
import datetime as dt
from decimal import Decimal
from itertools import islice

from rkc.engine.dated import add_months

from rkc import tryton_job

from .town import Town

BUILDINGS_PER_TRANSACTION = 10
# Register maps the demo's meter makes answer with (see rkc/metering).
REGISTER_MAPS = {
    1: {'register_kind': 'holding', 'value_address': 0, 'zones': 1,
        'word_order': 'big', 'status_address': 2, 'serial_address': 3},
    2: {'register_kind': 'input', 'value_address': 100, 'zones': 2,
        'word_order': 'little', 'status_address': 104,
        'serial_address': 105},
    }
SCALES = {3: '0.001', 0: '1'}
HEAT_METER_MODEL = 'ТЭМ-106'
# Share of the heating norm a building uses by month: the heating season
# runs from October to April.
HEAT_SEASON = {1: '1.6', 2: '1.5', 3: '1.2', 4: '0.8', 10: '0.7', 11: '1.1',
    12: '1.5'}
HEAT_NORM = Decimal('0.0187')
HEAT_HISTORY_MONTHS = 26
INSERT_ROWS = 5000


def _batched(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def load_town(database, accounts=2000, seed=1, months=7, today=None):
    "Generate the town and write it; returns the number of accounts."
    town = Town(accounts, seed=seed, months=months, today=today)
    company = tryton_job.transaction(_company_id, database=database)
    context = {'company': company, 'language': 'ru'}
    state = tryton_job.transaction(
        _load_centres, town, company, database=database, context=context)
    state['today'] = town.today
    for chunk in _batched(town.buildings(), BUILDINGS_PER_TRANSACTION):
        tryton_job.transaction(
            _load_buildings, chunk, state, database=database,
            context=context)
    return accounts


def _company_id():
    from trytond.pool import Pool
    company, = Pool().get('company.company').search([], limit=1)
    return company.id


def _load_centres(town, company):
    "Centres, the organisations and the lookup tables the buildings need."
    from trytond.pool import Pool
    pool = Pool()
    Centre = pool.get('rkc.centre')
    Service = pool.get('rkc.service')
    centres = Centre.create([{
                'code': c.code, 'name': c.name, 'company': company,
                'address': c.address, 'phone': c.phone,
                'opening_hours': c.opening_hours,
                'cash_desks': [('create', [{'name': name}
                            for name in c.cash_desks])],
                } for c in town.centres])
    organisations = _create_parties(town.organisations)
    return {
        'centres': {c.code: c.id for c in centres},
        'services': {s.code: s.id for s in Service.search([])},
        'organisations': {
            o.inn: party for o, party in zip(
                town.organisations, organisations, strict=True)},
        }


def _create_parties(people):
    from trytond.pool import Pool
    Party = Pool().get('party.party')
    values = []
    for person in people:
        name = getattr(person, 'full_name', None) or person.name
        party = {'name': name}
        if person.inn:
            party['identifiers'] = [('create', [{
                            'type': 'ru_vat', 'code': person.inn}])]
        values.append(party)
    return [p.id for p in Party.create(values)]


def _meter_model(models, meter):
    from trytond.pool import Pool
    MeterModel = Pool().get('rkc.meter.model')
    key = meter.model
    if key not in models:
        found = MeterModel.search([('name', '=', meter.model)], limit=1)
        if not found:
            found = MeterModel.create([{
                        'name': meter.model,
                        'scale': SCALES.get(meter.decimals, '0.001'),
                        **REGISTER_MAPS[len(meter.zones)]}])
        models[key] = found[0].id
    return models[key]


def _load_buildings(buildings, state):
    from trytond.pool import Pool
    pool = Pool()
    Building = pool.get('rkc.building')
    Premise = pool.get('rkc.premise')
    Account = pool.get('rkc.account')
    Meter = pool.get('rkc.meter')
    # Looked up per transaction: a retried transaction must not reuse ids
    # it rolled back.
    models = {}

    records = Building.create([{
                'centre': state['centres'][b.centre_code],
                'region': b.region, 'city': b.city, 'street': b.street,
                'house': b.house, 'block': b.block,
                'fias_guid': b.fias_guid, 'category': b.category,
                'year_built': b.year_built, 'floors': b.floors,
                'total_area': b.total_area, 'common_area': b.common_area,
                'heating_mode': b.heating_mode, 'heat_meter': b.heat_meter,
                'court_district': b.court_district,
                } for b in buildings])
    premises = [(building.id, p)
        for building, b in zip(records, buildings, strict=True)
        for p in b.premises]
    premise_records = Premise.create([{
                'building': building_id, 'number': p.number,
                'kind': p.kind, 'floor': p.floor, 'rooms': p.rooms,
                'total_area': p.total_area, 'living_area': p.living_area,
                'meter_installable': p.meter_installable,
                'no_meter_act': p.no_meter_act,
                'residents': [('create', [{
                                'valid_from': r.valid_from,
                                'valid_to': r.valid_to, 'count': r.count}
                            for r in p.residents])],
                } for building_id, p in premises])

    people = {}
    for _, p in premises:
        for owner in p.account.owners:
            if not p.account.organisation:
                people.setdefault(owner.party.code, owner.party)
    person_ids = dict(zip(
            people, _create_parties(people.values()), strict=True))

    def party_id(party):
        if hasattr(party, 'code'):
            return person_ids[party.code]
        return state['organisations'][party.inn]

    Account.create([{
                'number': a.number, 'premise': record.id,
                'centre': state['centres'][a.centre_code],
                'payer': party_id(a.payer),
                'organisation': a.organisation,
                'opened_on': a.opened_on,
                'phone': getattr(a.payer, 'phone', None),
                'email': getattr(a.payer, 'email', None),
                'sms_consent': a.sms_consent,
                'email_consent': a.email_consent,
                'call_consent': a.call_consent,
                'owners': [('create', [{
                                'party': party_id(o.party), 'share': o.share}
                            for o in a.owners])],
                'services': [('create', [{
                                'service': state['services'][code],
                                'valid_from': a.opened_on}
                            for code in a.services])],
                } for record, (_, p) in zip(
                premise_records, premises, strict=True)
            for a in [p.account]])

    meters = [(record.id, m) for record, (_, p) in zip(
            premise_records, premises, strict=True) for m in p.meters]
    meter_records = Meter.create([{
                'serial': m.serial, 'model': _meter_model(models, m),
                'service': state['services'][m.service],
                'premise': premise_id, 'installed_on': m.installed_on,
                'verified_on': m.verified_on,
                'verification_interval': m.verification_years,
                'digits': m.integer_digits, 'zones': len(m.zones),
                'modbus_host': m.host, 'modbus_port': m.port,
                'modbus_unit': m.unit_id,
                'state': 'failed' if m.failed_on else 'active',
                } for premise_id, m in meters])
    _insert_readings(
        (record.id, reading.taken_on, reading.values)
        for record, (_, meter) in zip(meter_records, meters, strict=True)
        for reading in meter.readings)
    _building_heat_meters(state, models, [
            (record, b) for record, b in zip(records, buildings, strict=True)
            if b.heat_meter])


def _building_heat_meters(state, models, buildings):
    """A common heat meter per metered building with monthly readings at
    each month's end: the norm for its area, shaped by the season."""
    from trytond.pool import Pool
    pool = Pool()
    Meter = pool.get('rkc.meter')
    MeterModel = pool.get('rkc.meter.model')
    if not buildings:
        return
    if HEAT_METER_MODEL not in models:
        found = MeterModel.search([('name', '=', HEAT_METER_MODEL)]) or \
            MeterModel.create([{
                        'name': HEAT_METER_MODEL, 'scale': '0.000001',
                        **REGISTER_MAPS[1]}])
        models[HEAT_METER_MODEL] = found[0].id
    first = add_months(state['today'].replace(day=1), -HEAT_HISTORY_MONTHS)
    meters = Meter.create([{
                'serial': f'{b.index:08d}', 'building': record.id,
                'model': models[HEAT_METER_MODEL],
                'service': state['services']['heating'],
                'installed_on': first, 'digits': 7, 'zones': 1,
                } for record, b in buildings])
    rows = []
    for meter, (_, building) in zip(meters, buildings, strict=True):
        total = Decimal(0)
        for index in range(HEAT_HISTORY_MONTHS):
            month = add_months(first, index)
            total += (building.total_area * HEAT_NORM * Decimal(
                    HEAT_SEASON.get(month.month, '0'))).quantize(
                Decimal('0.000001'))
            end = add_months(month, 1) - dt.timedelta(days=1)
            rows.append((meter.id, end, (total,)))
    _insert_readings(rows)


def _insert_readings(readings):
    """Reading history, (meter id, day, values per zone), in one multi-row
    INSERT: it is migrated data, so it skips the ORM's per-record
    validation that the live paths apply."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Reading = Pool().get('rkc.meter.reading')
    table = Reading.__table__()
    now = dt.datetime.now()
    user = Transaction().user
    rows = []
    for meter_id, day, values in readings:
        values = list(values) + [None, None]
        rows.append([
                meter_id, dt.datetime.combine(day, dt.time(12)),
                values[0], values[1], values[2], 'remote', 'valid',
                user, now])
    cursor = Transaction().connection.cursor()
    # A statement carries at most 65,535 parameters on PostgreSQL.
    for start in range(0, len(rows), INSERT_ROWS):
        cursor.execute(*table.insert([
                    table.meter, table.read_at, table.value,
                    table.value_t2, table.value_t3, table.source,
                    table.state, table.create_uid, table.create_date],
                values=rows[start:start + INSERT_ROWS]))
