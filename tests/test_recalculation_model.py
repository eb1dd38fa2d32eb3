"""Recalculations through the Tryton model on a PostgreSQL demo town (rules.md
§2): each reason previewed against the ledger, approved by two persons
above the threshold, posted into the current open period, reversed by a
counter-recalculation, and never counted twice by a billing run."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from rkc import tryton_job
from rkc.engine import calendar
from rkc.engine import recalculation as rules
from rkc.engine.dated import DatedTable
from rkc.engine.money import round_money

import town

pytestmark = [pytest.mark.postgresql]

ACCOUNTS = 40
AUGUST, SEPTEMBER, OCTOBER = (
    dt.date(2026, 8, 1), dt.date(2026, 9, 1), dt.date(2026, 10, 1))


@pytest.fixture(scope='module')
def template(tmp_path_factory):
    "The demo town billed for Aug–Oct 2026 (Aug, Sep closed), built once."
    var = tmp_path_factory.mktemp('recalculation')
    env = town.environment(var)
    with town.copies(var, f'recalc_{uuid.uuid4().hex[:8]}',
            lambda name: town.build(name, ACCOUNTS, env)
            ) as copy:
        yield copy, env


@pytest.fixture
def database(template):
    copy, env = template
    return copy(), env


def in_tryton(database, function, *args, user=1):
    "Run ``function(pool, *args)`` in a committed Tryton transaction."
    from trytond.pool import Pool

    from rkc import setup

    company = tryton_job.transaction(setup.company_id, database=database)
    return tryton_job.transaction(
        lambda: function(Pool(), *args), database=database, user=user,
        context={'company': company, 'language': 'en'})


def refused(database, function, *args, user=1):
    "The message of the user error ``function`` raises."
    from trytond.exceptions import UserError
    with pytest.raises(UserError) as error:
        in_tryton(database, function, *args, user=user)
    return error.value.message


def service_id(database, code):
    return town.rows(database,
        'SELECT id FROM rkc_service WHERE code = %s', code)[0][0]


def charged_account(database, code, method, period=OCTOBER):
    "An account charged for the service by ``method`` in the period."
    return town.rows(database, """
        SELECT l.account FROM rkc_ledger_line l
        JOIN rkc_service s ON s.id = l.service
        WHERE s.code = %s AND l.method = %s AND l.period = %s
            AND l.kind = 'charge'
        ORDER BY l.account LIMIT 1""", code, method, period)[0][0]


def billed(database, account, code, period):
    "Amount and volume charged (one line) for the service and period."
    return town.rows(database, """
        SELECT sum(l.amount), sum(l.volume) FROM rkc_ledger_line l
        JOIN rkc_service s ON s.id = l.service
        WHERE l.account = %s AND s.code = %s AND l.period = %s
            AND l.kind = 'charge'""", account, code, period)[0]


def create(database, **values):
    "A draft recalculation; ``services`` given as codes."
    codes = values.pop('services')
    ids = [service_id(database, code) for code in codes]
    events = values.pop('events', [])

    def make(pool):
        Recalculation = pool.get('rkc.recalculation')
        record, = Recalculation.create([dict(values,
                    services=[('add', ids)],
                    events=[('create', events)] if events else [])])
        return record.id
    return in_tryton(database, make)


def call(database, button, record_id, user=1):
    def run(pool):
        Recalculation = pool.get('rkc.recalculation')
        getattr(Recalculation, button)([Recalculation(record_id)])
    in_tryton(database, run, user=user)


def lines(database, record_id):
    "(account, service code, period, billed, should be, delta) sorted."
    return town.rows(database, """
        SELECT l.account, s.code, l.period, l.billed, l.should_be, l.delta
        FROM rkc_recalculation_line l
        JOIN rkc_service s ON s.id = l.service
        WHERE l.recalculation = %s
        ORDER BY l.account, l.period, s.code""", record_id)


def state(database, record_id):
    return town.rows(database,
        'SELECT state FROM rkc_recalculation WHERE id = %s', record_id)[0][0]


def add_rate(database, code, valid_from, rate):
    "A late tariff decision: a new rate of the service's tariffs."
    town.execute(database, ("""
        INSERT INTO rkc_tariff_rate (tariff, valid_from, rate, create_uid,
            create_date)
        SELECT t.id, %s, %s, 0, now() FROM rkc_tariff t
        JOIN rkc_service s ON s.id = t.service WHERE s.code = %s""",
            (valid_from, rate, code)))


def test_nothing_changed_gives_zero_delta(database):
    "Re-running the engine with unchanged inputs: every delta is zero."
    database, _ = database
    account = charged_account(database, 'cold_water', 'metered')
    record = create(database, account=account, reason='tariff_change',
        period_from=AUGUST, period_to=OCTOBER, documents=True,
        services=['cold_water', 'hot_water', 'wastewater', 'heating',
            'electricity'])
    call(database, 'preview', record)
    result = lines(database, record)
    assert len(result) == 15
    assert all(line[5] == 0 for line in result)
    assert all(line[3] == line[4] for line in result)
    assert sum(line[3] for line in result) > 0


def test_tariff_change_rerates_each_day(database):
    """A rate published late from 16 September: September re-rated half
    at the old, half at the new rate; October wholly at the new one."""
    database, _ = database
    account = charged_account(database, 'cold_water', 'metered')
    old_amounts = {p: billed(database, account, 'cold_water', p)
        for p in (SEPTEMBER, OCTOBER)}
    add_rate(database, 'cold_water', dt.date(2026, 9, 16), Decimal('60.00'))
    record = create(database, account=account, reason='tariff_change',
        period_from=SEPTEMBER, period_to=OCTOBER, documents=True,
        services=['cold_water'])
    call(database, 'preview', record)
    tariffs = DatedTable([(dt.date(2026, 7, 1), Decimal('57.52')),
            (dt.date(2026, 9, 16), Decimal('60.00'))], 'cold water')
    expected = []
    for period, (amount, volume) in old_amounts.items():
        delta = rules.rerated(period, volume, tariffs, amount)
        expected.append((account, 'cold_water', period, amount,
                amount + delta.amount, delta.amount))
    assert lines(database, record) == expected
    # September: 15 days at each rate; the volume is the month's.
    assert expected[0][5] == (
        round_money(old_amounts[SEPTEMBER][1] / 2 * Decimal('57.52'))
        + round_money(old_amounts[SEPTEMBER][1] / 2 * Decimal('60.00'))
        - old_amounts[SEPTEMBER][0])
    assert expected[1][5] == round_money(
        old_amounts[OCTOBER][1] * Decimal('2.48'))


def test_corrected_reading_rebills_the_volume(database):
    "A check finds 5 m³ more than the October reading: billed at the rate."
    database, _ = database
    account = charged_account(database, 'cold_water', 'metered')
    amount, volume = billed(database, account, 'cold_water', OCTOBER)
    current, = town.rows(database, """
        SELECT r.value FROM rkc_meter_reading r
        JOIN rkc_meter m ON m.id = r.meter
        JOIN rkc_account a ON a.premise = m.premise
        JOIN rkc_service s ON s.id = m.service
        WHERE a.id = %s AND s.code = 'cold_water' AND r.state = 'valid'
            AND r.read_at < '2026-11-01'
        ORDER BY r.read_at DESC LIMIT 1""", account)[0]
    record = create(database, account=account, reason='corrected_reading',
        period_from=OCTOBER, period_to=OCTOBER, act=True,
        corrected_reading=current + 5, services=['cold_water'])
    call(database, 'preview', record)
    delta = rules.corrected_reading(OCTOBER, current - volume, current + 5,
        Decimal('57.52'), volume, amount)
    assert delta.amount == round_money((volume + 5) * Decimal('57.52')) \
        - amount
    assert lines(database, record) == [(account, 'cold_water', OCTOBER,
            amount, amount + delta.amount, delta.amount)]


def test_temporary_absence_by_norm_without_meter(database):
    """Away 20 September – 10 October: 10 days of September and 9 of
    October off the per-person norm charge of cold water."""
    database, _ = database
    account = charged_account(database, 'cold_water', 'norm',
        period=SEPTEMBER)
    town.execute(database, ("""
        UPDATE rkc_premise SET meter_installable = false,
            no_meter_act = 'act 1'
        WHERE id = (SELECT premise FROM rkc_account WHERE id = %s)""",
            (account,)))
    persons = town.rows(database, """
        SELECT r.count FROM rkc_premise_residents r
        JOIN rkc_account a ON a.premise = r.premise
        WHERE a.id = %s AND r.valid_from <= '2026-09-01'
            AND (r.valid_to IS NULL OR r.valid_to >= '2026-10-01')""",
        account)[0][0]
    record = create(database, account=account, reason='temporary_absence',
        departure=dt.date(2026, 9, 20), return_date=dt.date(2026, 10, 10),
        applied_on=dt.date(2026, 10, 12), period_from=SEPTEMBER,
        period_to=SEPTEMBER, application=True, documents=True,
        services=['cold_water'])
    call(database, 'preview', record)
    expected = []
    for period, days in ((SEPTEMBER, 10), (OCTOBER, 9)):
        amount, _ = billed(database, account, 'cold_water', period)
        delta = -round_money(
            amount / persons * days / calendar.days_in_period(period))
        expected.append((account, 'cold_water', period, amount,
                amount + delta, delta))
    assert lines(database, record) == expected


def test_temporary_absence_refused_where_a_meter_can_be_installed(
        database):
    database, _ = database
    account = charged_account(database, 'cold_water', 'norm')
    record = create(database, account=account, reason='temporary_absence',
        departure=dt.date(2026, 9, 20), return_date=dt.date(2026, 10, 10),
        period_from=SEPTEMBER, period_to=SEPTEMBER, services=['cold_water'])

    def preview(pool):
        Recalculation = pool.get('rkc.recalculation')
        Recalculation.preview([Recalculation(record)])
    name, = town.rows(database,
        "SELECT name FROM rkc_service WHERE code = 'cold_water'")[0]
    assert refused(database, preview) == (
        f'Service {name} is not recalculated for temporary absence: '
        'only services billed by norm because a meter cannot be installed '
        'are, never heating.')


def test_interruption_excess_hours(database):
    """Hot water off 10 h and 3 h in October: 6 h beyond the 4 h single
    limit, 5 h beyond the 8 h monthly: 6 excess hours × 0.15 %."""
    database, _ = database
    account = charged_account(database, 'hot_water', 'metered')
    amount, _ = billed(database, account, 'hot_water', OCTOBER)
    record = create(database, account=account, reason='interruption',
        period_from=OCTOBER, period_to=OCTOBER, act=True,
        services=['hot_water'], events=[
            {'date': dt.date(2026, 10, 5), 'hours': Decimal(10)},
            {'date': dt.date(2026, 10, 20), 'hours': Decimal(3)}])
    call(database, 'preview', record)
    delta = -round_money(amount * Decimal('0.009'))
    assert lines(database, record) == [
        (account, 'hot_water', OCTOBER, amount, amount + delta, delta)]


def test_hot_water_temperature(database):
    "10 h at 45 °C by day: 12 °C below 57 °C, 4 steps × 10 h × 0.1 %."
    database, _ = database
    account = charged_account(database, 'hot_water', 'metered')
    amount, _ = billed(database, account, 'hot_water', OCTOBER)
    record = create(database, account=account, reason='temperature',
        period_from=OCTOBER, period_to=OCTOBER, act=True,
        services=['hot_water'], events=[{'date': dt.date(2026, 10, 5),
                'hours': Decimal(10), 'temperature': Decimal(45)}])
    call(database, 'preview', record)
    delta = -round_money(amount * Decimal('0.04'))
    assert lines(database, record) == [
        (account, 'hot_water', OCTOBER, amount, amount + delta, delta)]


def test_building_interruption_in_one_job(database):
    "A dispatcher's interruption for a building: every account recalculated."
    database, _ = database
    building, = town.rows(database,
        'SELECT id FROM rkc_building ORDER BY id LIMIT 1')[0]
    record = create(database, scope='building', building=building,
        reason='interruption', period_from=OCTOBER, period_to=OCTOBER,
        act=True, services=['cold_water'], events=[
            {'date': dt.date(2026, 10, 5), 'hours': Decimal(12)}])
    call(database, 'preview', record)
    town.wait_for(lambda: state(database, record) == 'previewed',
        timeout=60, what='the building preview')
    charges = town.rows(database, """
        SELECT l.account, l.amount FROM rkc_ledger_line l
        JOIN rkc_account a ON a.id = l.account
        JOIN rkc_premise p ON p.id = a.premise
        JOIN rkc_service s ON s.id = l.service
        WHERE p.building = %s AND s.code = 'cold_water'
            AND l.period = %s AND l.kind = 'charge'
        ORDER BY l.account""", building, OCTOBER)
    assert charges
    # 12 h at once: 8 h beyond the single limit of 4 h, 1.2 %.
    assert [(line[0], line[5]) for line in lines(database, record)] == [
        (account, -round_money(amount * Decimal('0.012')))
        for account, amount in charges]


def test_manual_correction_posted_into_current_period(database):
    """A recalculation of September, closed: posted into the current open
    period, referring to September; summarized into the GL."""
    database, _ = database
    account = charged_account(database, 'electricity', 'metered',
        period=SEPTEMBER)
    record = create(database, account=account, reason='manual',
        manual_amount=Decimal('-100.00'), documents=True,
        period_from=SEPTEMBER, period_to=SEPTEMBER,
        services=['electricity'])
    for button in ('preview', 'approve', 'post'):
        call(database, button, record)
    posted = town.rows(database, """
        SELECT l.period, l.date, l.amount, l.move IS NOT NULL
        FROM rkc_ledger_line l
        WHERE l.origin = %s""", f'rkc.recalculation,{record}')
    today = dt.date.today()
    assert posted == [(SEPTEMBER, today, Decimal('-100.00'), True)]
    closed = {p for p, in town.rows(database,
            "SELECT start_date FROM rkc_period WHERE state = 'closed'")}
    assert SEPTEMBER in closed and today.replace(day=1) not in closed
    assert town.rows(database, """
        SELECT count(*) FROM rkc_ledger_posting WHERE origin = %s""",
        f'rkc.recalculation,{record}') == [(1,)]

    def differences(pool):
        Reconciliation = pool.get('rkc.ledger.reconciliation')
        return {r.difference for r in Reconciliation.search([])}
    assert in_tryton(database, differences) == {Decimal(0)}
    assert town.rows(database, """
        SELECT prepared_by, approved_by, posted_by,
            posted_at IS NOT NULL FROM rkc_recalculation
        WHERE id = %s""", record) == [(1, 1, 1, True)]


def test_counter_recalculation_reverses(database):
    database, _ = database
    account = charged_account(database, 'electricity', 'metered')
    record = create(database, account=account, reason='manual',
        manual_amount=Decimal('55.10'), documents=True,
        period_from=OCTOBER, period_to=OCTOBER, services=['electricity'])
    for button in ('preview', 'approve', 'post'):
        call(database, button, record)

    def delete(pool):
        Recalculation = pool.get('rkc.recalculation')
        Recalculation.delete([Recalculation(record)])
    assert refused(database, delete) == (
        'Only draft recalculations can be deleted: a posted recalculation '
        'is reversed by a counter-recalculation.')

    def counter(pool):
        Recalculation = pool.get('rkc.recalculation')
        return Recalculation.counter([Recalculation(record)])['res_id'][0]
    counter_id = in_tryton(database, counter)
    for button in ('preview', 'approve', 'post'):
        call(database, button, counter_id)
    assert [line[5] for line in lines(database, counter_id)] == [
        Decimal('-55.10')]
    assert town.rows(database, """
        SELECT sum(amount) FROM rkc_ledger_line
        WHERE kind = 'recalculation' AND account = %s""", account) == [
        (Decimal('0.00'),)]


def test_second_person_approves_above_threshold(database):
    database, _ = database
    account = charged_account(database, 'electricity', 'metered')

    def setup(pool):
        Configuration = pool.get('rkc.configuration')
        User = pool.get('res.user')
        config = Configuration(1)
        config.recalculation_approval_amount = Decimal('100.00')
        config.save()
        admin, = User.search([('login', '=', 'admin')])
        approver, = User.copy([admin], {'login': 'approver'})
        return admin.id, approver.id
    admin, approver = in_tryton(database, setup)

    def prepared(amount):
        record = create(database, account=account, reason='manual',
            manual_amount=amount, documents=True, period_from=OCTOBER,
            period_to=OCTOBER, services=['electricity'])
        call(database, 'preview', record, user=admin)
        return record

    def approve(record_id):
        def run(pool):
            Recalculation = pool.get('rkc.recalculation')
            Recalculation.approve([Recalculation(record_id)])
        return run
    small = prepared(Decimal('-100.00'))
    call(database, 'approve', small, user=admin)
    assert state(database, small) == 'approved'
    large = prepared(Decimal('-100.01'))
    message = refused(database, approve(large), user=admin)
    assert message.startswith(f'Recalculation {large} ')
    assert message.endswith(' 2026-10 amounts to 100.01, more than 100.00: '
        'it must be approved by another user than Administrator who '
        'prepared it.')
    call(database, 'approve', large, user=approver)
    assert town.rows(database, """
        SELECT prepared_by, approved_by FROM rkc_recalculation
        WHERE id = %s""", large) == [(admin, approver)]


def test_documents_checked_before_approval(database):
    database, _ = database
    account = charged_account(database, 'electricity', 'metered')
    record = create(database, account=account, reason='manual',
        manual_amount=Decimal('1'), period_from=OCTOBER, period_to=OCTOBER,
        services=['electricity'])
    call(database, 'preview', record)

    def approve(pool):
        Recalculation = pool.get('rkc.recalculation')
        Recalculation.approve([Recalculation(record)])
    assert refused(database, approve).endswith(
        'cannot be approved: the checklist of supporting documents '
        'required by its reason is not complete.')


def test_unbilled_period_is_the_billing_runs(database):
    database, _ = database
    account = charged_account(database, 'electricity', 'metered')
    record = create(database, account=account, reason='tariff_change',
        period_from=OCTOBER, period_to=dt.date(2026, 11, 1),
        services=['electricity'])

    def preview(pool):
        Recalculation = pool.get('rkc.recalculation')
        Recalculation.preview([Recalculation(record)])
    assert refused(database, preview).endswith(
        'has not been billed for 2026-11 yet: the billing run will charge '
        'that period, there is nothing to recalculate.')


def test_recalculation_and_billing_run_count_nothing_twice(database):
    """A posted tariff correction of October, then November's billing run:
    October's charges stay, the correction counts once, a new preview of
    the same correction finds nothing left, November is billed once."""
    database, env = database
    add_rate(database, 'cold_water', OCTOBER, Decimal('60.00'))
    record = create(database, scope='all', reason='tariff_change',
        period_from=OCTOBER, period_to=OCTOBER, documents=True,
        services=['cold_water'])
    call(database, 'preview', record)
    town.wait_for(lambda: state(database, record) == 'previewed',
        timeout=120, what='the mass tariff correction')
    charged = town.rows(database, """
        SELECT DISTINCT l.account FROM rkc_ledger_line l
        JOIN rkc_service s ON s.id = l.service
        WHERE s.code = 'cold_water' AND l.period = %s
        ORDER BY l.account""", OCTOBER)
    result = lines(database, record)
    assert [(line[0],) for line in result] == charged
    assert all(line[5] >= 0 for line in result)
    assert sum(line[5] for line in result) > 0
    total = sum(line[5] for line in result)
    for button in ('approve', 'post'):
        call(database, button, record)
    posted = sum(1 for line in result if line[5])
    october = town.rows(database, """
        SELECT kind, sum(amount) FROM rkc_ledger_line
        WHERE period = %s AND service = %s GROUP BY kind ORDER BY kind""",
        OCTOBER, service_id(database, 'cold_water'))
    assert october[1] == ('recalculation', total)
    # November's heat by the buildings' common meters, read early.
    town.execute(database, ('''
        INSERT INTO rkc_meter_reading (meter, read_at, value, source,
            state, create_uid, create_date)
        SELECT m.id, '2026-11-25 12:00', max(r.value) + 100,
            min(r.source), 'valid', 0, now()
        FROM rkc_meter m JOIN rkc_meter_reading r ON r.meter = m.id
        WHERE m.building IS NOT NULL AND m.state = 'active'
        GROUP BY m.id''', ()))
    assert town.rkc(database, 'bill', '--period', '2026-11', env=env,
        check=False).returncode == 0
    assert town.rows(database, """
        SELECT period, kind, count(*), count(DISTINCT (account, service,
            part)) FROM rkc_ledger_line
        WHERE date >= '2026-11-01' GROUP BY period, kind
        ORDER BY period, kind""") == [
        (OCTOBER, 'recalculation', posted, posted),
        (dt.date(2026, 11, 1), 'charge', *town.rows(database, """
                SELECT count(*), count(*) FROM rkc_ledger_line
                WHERE period = '2026-11-01' AND kind = 'charge'""")[0]),
        ]
    again = create(database, scope='all', reason='tariff_change',
        period_from=OCTOBER, period_to=OCTOBER, documents=True,
        services=['cold_water'])
    call(database, 'preview', again)
    town.wait_for(lambda: state(database, again) == 'previewed',
        timeout=120, what='the second preview')
    assert {line[5] for line in lines(database, again)} == {Decimal(0)}
