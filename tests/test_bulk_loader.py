"""The COPY loader of the demo town (rkc demo --bulk) writes what the ORM
loader writes: the same rows in every table, readable through the ORM, and
billed to the same totals."""
import uuid

import pytest

from rkc import tryton_job

import town

pytestmark = pytest.mark.postgresql

ACCOUNTS = 300
TABLES = ('party_party', 'party_party_lang', 'party_identifier',
    'rkc_building', 'rkc_building__history', 'rkc_premise',
    'rkc_premise__history', 'rkc_premise_residents',
    'rkc_premise_residents__history', 'rkc_account', 'rkc_account__history',
    'rkc_account_owner', 'rkc_account_owner__history', 'rkc_account_service',
    'rkc_account_service__history', 'rkc_meter', 'rkc_meter__history',
    'rkc_meter_reading')
# What the town is made of, independent of the ids the loaders chose.
CONTENT = {
    'accounts': """
        SELECT a.number, a.opened_on, a.organisation, a.phone, a.email,
            a.sms_consent, a.email_consent, a.call_consent, a.state,
            p.number, p.kind, p.total_area, p.living_area, p.rooms,
            b.street, b.house, b.block, b.total_area, b.heat_meter, y.name,
            y.code IS NOT NULL
        FROM rkc_account a JOIN rkc_premise p ON p.id = a.premise
        JOIN rkc_building b ON b.id = p.building
        JOIN party_party y ON y.id = a.payer ORDER BY a.number""",
    'owners': """
        SELECT a.number, y.name, o.share, o.role FROM rkc_account_owner o
        JOIN rkc_account a ON a.id = o.account
        JOIN party_party y ON y.id = o.party ORDER BY 1, 2, 3""",
    'identifiers': """
        SELECT y.name, i.type, i.code, i.code_compact, i.active
        FROM party_identifier i JOIN party_party y ON y.id = i.party
        ORDER BY 1, 3""",
    'meters': """
        SELECT m.serial, d.name, s.code, m.installed_on, m.verified_on,
            m.digits, m.zones, m.state, m.modbus_unit, count(r.id),
            sum(r.value), sum(r.value_t2)
        FROM rkc_meter m JOIN rkc_meter_model d ON d.id = m.model
        JOIN rkc_service s ON s.id = m.service
        LEFT JOIN rkc_meter_reading r ON r.meter = m.id
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 ORDER BY 1, 3""",
    'billed': """
        SELECT s.code, l.kind, count(*), sum(l.amount), sum(l.volume)
        FROM rkc_ledger_line l JOIN rkc_service s ON s.id = l.service
        GROUP BY 1, 2 ORDER BY 1, 2""",
    }


@pytest.fixture(scope='module')
def towns(tmp_path_factory):
    "The same town loaded by the ORM and by COPY, its last month billed."
    from trytond import config
    var = tmp_path_factory.mktemp('bulk_loader')
    env = town.environment(var)
    prefix = f'bulk_{uuid.uuid4().hex[:8]}'
    names = {'orm': f'{prefix}_orm', 'bulk': f'{prefix}_copy'}
    for loader, name in names.items():
        options = ['--bulk'] if loader == 'bulk' else []
        town.rkc(name, 'demo', '--accounts', str(ACCOUNTS), *options,
            '--billed-months', '1', '--no-serve', env=env)
    saved = {option: config.get('database', option)
        for option in ('uri', 'path')}
    tryton_job.configure(str(var / 'trytond.conf'))
    yield names
    for option, value in saved.items():
        config.set('database', option, value)
    for name in names.values():
        town.drop(name)


@pytest.mark.parametrize('table', TABLES)
def test_same_row_count(towns, table):
    query = f'SELECT count(*) FROM {table}'
    assert town.rows(towns['bulk'], query) == town.rows(towns['orm'], query)


@pytest.mark.parametrize('content', CONTENT)
def test_same_content(towns, content):
    query = CONTENT[content]
    bulk = town.rows(towns['bulk'], query)
    assert bulk
    assert bulk == town.rows(towns['orm'], query)


def test_no_column_left_empty_that_the_orm_fills(towns):
    "Columns the ORM's create fills are filled by COPY too."
    for table in TABLES:
        columns = [c for c, in town.rows(towns['orm'], """
            SELECT column_name FROM information_schema.columns
            WHERE table_name = %s AND column_name NOT LIKE 'write_%%'""",
                table)]
        for column in columns:
            query = (f'SELECT count(*) FROM {table} '
                f'WHERE "{column}" IS NULL')
            orm_nulls, = town.rows(towns['orm'], query)
            if not orm_nulls[0]:
                assert town.rows(towns['bulk'], query) == [(0,)], (
                    table, column)


def test_accounts_read_and_written_through_the_orm(towns):
    def read_and_write():
        from trytond.pool import Pool
        pool = Pool()
        Account = pool.get('rkc.account')
        accounts = Account.search([], order=[('id', 'DESC')], limit=5)
        Account.write(accounts, {'email': 'desk@example.com'})
        return [(a.number, a.premise.building.rec_name, a.residents,
                sorted(s.service.code for s in a.services),
                [o.party.rec_name for o in a.owners],
                len(a.meters), a.balance) for a in accounts]
    company, = town.rows(towns['bulk'], 'SELECT id FROM company_company')
    result = tryton_job.transaction(read_and_write,
        database=towns['bulk'], context={'company': company[0]})
    assert len(result) == 5
    for number, building, _, services, owners, _, balance in result:
        assert number and building and owners
        assert 'cold_water' in services
        assert balance > 0
