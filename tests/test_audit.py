"""The audit log on a demo town (PostgreSQL): changes of tariffs, norms,
readings, passports, approvals and write-offs are recorded with the user,
the time, old and new values and the job that made them; the log is
read-only and only administrators and accountants read it."""
import datetime as dt
from decimal import Decimal

import pytest
from test_access_matrix import as_user

from rkc import tryton_job

import town

pytestmark = pytest.mark.postgresql

IMMUTABLE = ('Журнал изменений хранит, кто, что и когда изменил: его '
    'записи нельзя изменить или удалить.')


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    with town.unbilled_town(tmp_path_factory, 'audit', 20) as name:
        yield name, tryton_job.transaction(_users, database=name)


def _users():
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    Company = pool.get('company.company')
    Centre = pool.get('rkc.centre')
    ModelData = pool.get('ir.model.data')
    company, = Company.search([], limit=1)
    users = {'company': company.id}
    centres = [c.id for c in Centre.search([])]
    for role in ('accountant', 'operator', 'admin'):
        user, = User.create([{
                    'name': role, 'login': f'audit_{role}',
                    'groups': [('add', [ModelData.get_id(
                                    'rkc_utilities', f'group_rkc_{role}')])],
                    'rkc_centres': [('add', centres)],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    }])
        users[role] = user.id
    return users


def log_of(pool, model, record):
    Log = pool.get('rkc.audit.log')
    return [(e.action, e.field, e.old_value, e.new_value, e.user.id,
            e.job) for e in Log.search([
                ('model', '=', model), ('record', '=', record)],
            order=[('id', 'ASC')])]


def test_desk_change_of_a_tariff_is_logged(database):
    name, users = database

    def change(pool):
        Tariff = pool.get('rkc.tariff')
        Rate = pool.get('rkc.tariff.rate')
        Log = pool.get('rkc.audit.log')
        rate, = Rate.search([('rate', '!=', None)], limit=1)
        tariff = rate.tariff
        old_price = rate.rate
        old_region = tariff.region
        Rate.write([rate], {'rate': old_price + Decimal('1.50')})
        Tariff.write([tariff], {'region': 'Новый регион',
                'rates': [('write', [rate.id], {'rate': old_price})]})
        times = {e.time for e in Log.search([
                    ('model', 'in', ['rkc.tariff', 'rkc.tariff.rate']),
                    ('action', '=', 'write'),
                    ('record', 'in', [tariff.id, rate.id])])}
        return (log_of(pool, 'rkc.tariff', tariff.id),
            log_of(pool, 'rkc.tariff.rate', rate.id),
            old_price, old_region, times)
    before = dt.datetime.now()
    tariff, rate, price, region, times = as_user(
        name, users, users['accountant'], change)
    accountant = users['accountant']
    # Created by the demo's set-up job, changed at the desk.
    assert tariff == [
        ('create', None, None, None, 0, 'rkc.setup.reference_data'),
        ('write', 'region', region, 'Новый регион', accountant, None)]
    assert [(a, f, Decimal(o), Decimal(n), u, j)
        for a, f, o, n, u, j in rate if a == 'write'] == [
        ('write', 'rate', price, price + Decimal('1.50'), accountant, None),
        ('write', 'rate', price + Decimal('1.50'), price, accountant, None)]
    # Stamped with the transaction's time.
    time, = times
    assert before - dt.timedelta(seconds=5) <= time <= dt.datetime.now()


def test_job_changes_name_the_job(database):
    name, users = database

    def reading_by_job():
        from trytond.pool import Pool
        Reading = Pool().get('rkc.meter.reading')
        reading, = Reading.search([], limit=1, order=[('id', 'ASC')])
        Reading.write([reading], {'value': reading.value + 1})
        return reading.id, str(reading.value - 1), str(reading.value)
    reading, old, new = tryton_job.transaction(reading_by_job, database=name)

    def read(pool):
        return log_of(pool, 'rkc.meter.reading', reading)
    job = f'{__name__}.test_job_changes_name_the_job.<locals>.reading_by_job'
    assert as_user(name, users, users['admin'], read) == [
        ('write', 'value', old, new, 0, job)]


def test_scheduled_action_is_the_job(database):
    name, users = database

    def run_cron():
        from trytond.pool import Pool
        pool = Pool()
        Cron = pool.get('ir.cron')
        Agreement = pool.get('rkc.agreement')
        cron, = Cron.search([('method', '=', 'rkc.agreement|monitor')])
        seen = []

        # No agreement is due in the demo town: what matters is the context
        # the scheduled action runs its method in.
        def spy(cls):
            from trytond.transaction import Transaction
            seen.append(Transaction().context.get('rkc_job'))
        Agreement.monitor = classmethod(spy)
        try:
            Cron.run_once([cron])
        finally:
            del Agreement.monitor
        return seen
    assert tryton_job.transaction(run_cron, database=name) == [
        'rkc.agreement|monitor']


def test_passport_reading_create_and_delete_are_logged(database):
    name, users = database

    def change(pool):
        Premise = pool.get('rkc.premise')
        Reading = pool.get('rkc.meter.reading')
        premise, = Premise.search([], limit=1, order=[('id', 'ASC')])
        Premise.write([premise], {'total_area': premise.total_area + 1})
        old = Reading.search([], limit=1, order=[('id', 'DESC')])[0]
        new, = Reading.create([{'meter': old.meter.id,
                    'read_at': old.read_at + dt.timedelta(days=1),
                    'value': old.value + 1, 'source': old.source}])
        new_id = new.id
        Reading.delete([new])
        return (log_of(pool, 'rkc.premise', premise.id),
            log_of(pool, 'rkc.meter.reading', new_id),
            premise.total_area - 1, premise.total_area)
    premise, reading, before, after = as_user(
        name, users, users['admin'], change)
    admin = users['admin']
    *_, (action, field, old, new, user, job) = premise
    assert (action, field, Decimal(old), Decimal(new), user, job) == (
        'write', 'total_area', before, after, admin, None)
    assert reading == [('create', None, None, None, admin, None),
        ('delete', None, None, None, admin, None)]


def test_log_is_read_only_and_for_admin_and_accountant(database):
    from trytond.exceptions import UserError
    from trytond.model.exceptions import AccessError
    name, users = database

    def tamper(pool):
        Tariff = pool.get('rkc.tariff')
        Log = pool.get('rkc.audit.log')
        tariff = Tariff.search([], limit=1)[0]
        Tariff.write([tariff], {'region': 'Другой регион'})
        entry, = Log.search([('model', '=', 'rkc.tariff')], limit=1)
        return entry.id
    # Even root, who passes every access check, cannot change the log.
    for mode in ('write', 'delete'):
        def change(pool, mode=mode):
            Log = pool.get('rkc.audit.log')
            entry = Log(tamper(pool))
            if mode == 'write':
                Log.write([entry], {'new_value': 'подделка'})
            else:
                Log.delete([entry])
        with pytest.raises(UserError) as error:
            as_user(name, users, 0, change)
        assert error.value.message == IMMUTABLE

    def read(pool):
        return len(pool.get('rkc.audit.log').search([]))
    assert as_user(name, users, users['admin'], read) >= 0
    assert as_user(name, users, users['accountant'], read) >= 0
    with pytest.raises(AccessError):
        as_user(name, users, users['operator'], read)
