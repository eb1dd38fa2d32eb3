"""Load the generated demo town into PostgreSQL with COPY, table by table in
batches of thousands of accounts: the benchmark towns (10,000–100,000
accounts) in minutes, where the ORM loader (rkc.demo.loader) writes a few
hundred accounts a minute.

The database is set up as for ``rkc demo`` (module, company, reference
data). Each table's ids are reserved from its sequence beforehand, so the
foreign keys are written without round trips; the rows carry what the ORM's
``create`` would store (its defaults, computed columns, history), and the
few centres, organisations, meter models and building heat meters go
through the ORM loader itself.
"""
import datetime as dt
from itertools import chain

from rkc import tryton_job

from . import loader
from .town import Town

ACCOUNTS_PER_TRANSACTION = 5000
# History of the readings is skipped, as the ORM loader skips it: they are
# migrated data (see loader._insert_readings).
UNHISTORIED = {'rkc.meter.reading'}
# The tables a batch writes, in the order of their foreign keys, with the
# columns it gives (the ORM's defaults fill the others).
COLUMNS = [
    ('party.party', ['name', 'code', 'code_alnum', 'code_digit']),
    # The party's language as the company's multi-value.
    ('party.party.lang', ['party', 'company']),
    ('party.identifier', ['party', 'type', 'code', 'code_compact']),
    ('rkc.building', ['centre', 'region', 'city', 'street', 'house',
        'block', 'fias_guid', 'category', 'year_built',
        'floors', 'total_area', 'common_area', 'heating_mode',
        'heat_meter', 'court_district']),
    ('rkc.premise', ['building', 'number', 'kind', 'floor', 'rooms',
        'total_area', 'living_area', 'meter_installable',
        'no_meter_act']),
    ('rkc.premise.residents', ['premise', 'valid_from', 'valid_to',
        'count']),
    ('rkc.account', ['number', 'premise', 'centre', 'payer',
        'organisation', 'opened_on', 'phone', 'email',
        'sms_consent', 'email_consent', 'call_consent']),
    ('rkc.account.owner', ['account', 'party', 'share']),
    ('rkc.account.service', ['account', 'service', 'valid_from']),
    ('rkc.meter', ['serial', 'model', 'service', 'premise',
        'installed_on', 'verified_on', 'verification_interval',
        'digits', 'zones', 'modbus_host', 'modbus_port',
        'modbus_unit', 'state']),
    ('rkc.meter.reading', ['meter', 'read_at', 'value', 'value_t2',
        'value_t3', 'source', 'state']),
    ]


def load_town(database, accounts=2000, seed=1, months=7, today=None):
    "Generate the town and write it; returns the number of accounts."
    town = Town(accounts, seed=seed, months=months, today=today)
    company = tryton_job.transaction(loader._company_id, database=database)
    context = {'company': company, 'language': 'ru'}
    state = tryton_job.transaction(loader._load_centres, town, company,
        database=database, context=context)
    state['today'] = town.today
    for batch in _batches(town.buildings()):
        tryton_job.transaction(_load_buildings, batch, state,
            database=database, context=context)
    tryton_job.transaction(_analyze, database=database)
    return accounts


def _analyze():
    """Planner statistics of the loaded tables now: autovacuum may not
    have analysed them before the first billing run."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    for model, _ in COLUMNS:
        cursor.execute(f'ANALYZE "{Pool().get(model)._table}"')


def _batches(buildings):
    "Whole buildings, about ACCOUNTS_PER_TRANSACTION accounts a batch."
    batch, size = [], 0
    for building in buildings:
        batch.append(building)
        size += len(building.premises)
        if size >= ACCOUNTS_PER_TRANSACTION:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _Table:
    """The rows of one model's table for COPY: ids reserved from its
    sequence, the ORM's defaults for the columns not given, the creation
    stamp."""

    def __init__(self, model, columns):
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        self.model = Pool().get(model)
        transaction = Transaction()
        given = set(columns) | {'id'}
        stored = [name for name, field in self.model._fields.items()
            if field.sql_type() and name not in given
            and not name.startswith(('create_', 'write_'))]
        defaults = {name: value for name, value in self.model.default_get(
                stored, with_rec_name=False).items() if value is not None}
        self.columns = ['id', *columns, *defaults, 'create_uid',
            'create_date']
        self._tail = (*defaults.values(), transaction.user,
            dt.datetime.now())
        self.rows = []

    def reserve(self, count):
        "``count`` new ids of the table."
        from trytond.transaction import Transaction
        transaction = Transaction()
        return list(transaction.database.sequence_nextvals(
                transaction.connection, f'{self.model._table}_id_seq',
                count))

    def add(self, id_, *values):
        self.rows.append((id_, *values, *self._tail))

    def write(self):
        "COPY the rows, and their history as the ORM's create writes it."
        from psycopg import sql
        from trytond.transaction import Transaction
        if not self.rows:
            return
        cursor = Transaction().connection.cursor()
        statement = sql.SQL('COPY {} ({}) FROM STDIN').format(
            sql.Identifier(self.model._table),
            sql.SQL(', ').join(map(sql.Identifier, self.columns)))
        with cursor.copy(statement) as copy:
            for row in self.rows:
                copy.write_row(row)
        if self.model.__name__ not in UNHISTORIED:
            self.model._insert_history([row[0] for row in self.rows])
        self.rows = []


def _with_ids(table, items):
    "``(id, item)`` pairs, the ids reserved in one round trip."
    items = list(items)
    return list(zip(table.reserve(len(items)), items, strict=True))


def _load_buildings(buildings, state):
    from trytond.pool import Pool
    Building = Pool().get('rkc.building')
    # Looked up per transaction: a retried transaction must not reuse ids
    # it rolled back.
    models = {}
    tables = _tables()
    building_ids = _buildings(tables, buildings, state)
    premises = _with_ids(tables['rkc.premise'], (
            (building_id, p)
            for building_id, b in zip(building_ids, buildings, strict=True)
            for p in b.premises))
    for premise_id, (building_id, p) in premises:
        tables['rkc.premise'].add(premise_id, building_id, p.number, p.kind,
            p.floor, p.rooms, p.total_area, p.living_area,
            p.meter_installable, p.no_meter_act)
    _residents(tables['rkc.premise.residents'], premises)
    parties = _parties(tables, premises, state)
    _accounts(tables, premises, state, parties)
    _meters(tables, premises, state, models)
    for table in tables.values():
        table.write()
    loader._building_heat_meters(state, models, [
            (Building(building_id), b)
            for building_id, b in zip(building_ids, buildings, strict=True)
            if b.heat_meter])


def _tables():
    return {model: _Table(model, columns) for model, columns in COLUMNS}


def _buildings(tables, buildings, state):
    table = tables['rkc.building']
    ids = table.reserve(len(buildings))
    for building_id, b in zip(ids, buildings, strict=True):
        table.add(building_id, state['centres'][b.centre_code], b.region,
            b.city, b.street, b.house, b.block, b.fias_guid, b.category,
            b.year_built, b.floors, b.total_area, b.common_area,
            b.heating_mode, b.heat_meter, b.court_district)
    return ids


def _residents(table, premises):
    residents = [(premise_id, r) for premise_id, (_, p) in premises
        for r in p.residents]
    for resident_id, (premise_id, r) in _with_ids(table, residents):
        table.add(resident_id, premise_id, r.valid_from, r.valid_to,
            r.count)


def _parties(tables, premises, state):
    """The people owning the premises as new parties, with their party
    codes from the party sequence as the ORM's create takes them; returns
    their ids by person code."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Party = pool.get('party.party')
    Identifier = pool.get('party.identifier')
    people = {}
    for _, (_, p) in premises:
        if not p.account.organisation:
            for owner in p.account.owners:
                people.setdefault(owner.party.code, owner.party)
    if not people:
        return {}
    table, langs, identifiers = (tables['party.party'],
        tables['party.party.lang'], tables['party.identifier'])
    codes = Party._code_sequence().get_many(len(people))
    ids = {}
    for (party_id, person), code in zip(
            _with_ids(table, people.values()), codes, strict=True):
        ids[person.code] = party_id
        computed = Party(code=code).compute_fields({'code'})
        table.add(party_id, person.full_name, code, computed['code_alnum'],
            computed['code_digit'])
    company = Transaction().context['company']
    for lang_id, party_id in _with_ids(langs, ids.values()):
        langs.add(lang_id, party_id, company)
    taxed = [(ids[p.code], p.inn) for p in people.values() if p.inn]
    for identifier_id, (party_id, inn) in _with_ids(identifiers, taxed):
        computed = Identifier(type='ru_vat', code=inn).compute_fields(
            {'code'})
        identifiers.add(identifier_id, party_id, 'ru_vat', inn,
            computed.get('code_compact', inn))
    return ids


def _accounts(tables, premises, state, person_ids):
    table, owners, services = (tables['rkc.account'],
        tables['rkc.account.owner'], tables['rkc.account.service'])

    def party_id(party):
        if hasattr(party, 'code'):
            return person_ids[party.code]
        return state['organisations'][party.inn]

    accounts = _with_ids(table, (
            (premise_id, p.account) for premise_id, (_, p) in premises))
    for account_id, (premise_id, a) in accounts:
        table.add(account_id, a.number, premise_id,
            state['centres'][a.centre_code], party_id(a.payer),
            a.organisation, a.opened_on, getattr(a.payer, 'phone', None),
            getattr(a.payer, 'email', None), a.sms_consent,
            a.email_consent, a.call_consent)
    for owner_id, (account_id, o) in _with_ids(owners, (
                (account_id, o) for account_id, (_, a) in accounts
                for o in a.owners)):
        owners.add(owner_id, account_id, party_id(o.party), o.share)
    for service_id, (account_id, opened_on, code) in _with_ids(services, (
                (account_id, a.opened_on, code)
                for account_id, (_, a) in accounts for code in a.services)):
        services.add(service_id, account_id, state['services'][code],
            opened_on)


def _meters(tables, premises, state, models):
    table, readings = tables['rkc.meter'], tables['rkc.meter.reading']
    meters = _with_ids(table, (
            (premise_id, m) for premise_id, (_, p) in premises
            for m in p.meters))
    for meter_id, (premise_id, m) in meters:
        table.add(meter_id, m.serial, loader._meter_model(models, m),
            state['services'][m.service], premise_id, m.installed_on,
            m.verified_on, m.verification_years, m.integer_digits,
            len(m.zones), m.host, m.port, m.unit_id,
            'failed' if m.failed_on else 'active')
    for reading_id, (meter_id, reading) in _with_ids(readings, (
                (meter_id, reading) for meter_id, (_, m) in meters
                for reading in m.readings)):
        values = list(chain(reading.values, [None, None]))
        readings.add(reading_id, meter_id,
            dt.datetime.combine(reading.taken_on, dt.time(12)),
            values[0], values[1], values[2], 'remote', 'valid')
