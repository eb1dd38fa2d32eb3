"""Registry import on PostgreSQL through ``rkc import-registry``: payments
allocated into the subledger and summarized into the general ledger,
suspense for unknown and closed accounts, readings from the file, each
registry error quarantining the file with nothing lost, a file imported
twice or by two workers at once counted once."""
import datetime as dt
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest

from rkc import tryton_job
from rkc.payments.export import write_registry
from rkc.payments.registry import Payment, Reading
from rkc.payments.registry_format import load_format

import town

pytestmark = pytest.mark.postgresql

ACCOUNTS = 30
SBERBANK = load_format('sberbank')
ACCEPTED = dt.datetime(2026, 6, 20, 10, 15, 30)
AGENT = """INSERT INTO rkc_payment_agent (name, code, account, active)
    SELECT 'ПАО Сбербанк', 'SBER', id, true FROM account_account
    WHERE code = '57'"""


@pytest.fixture(scope='module')
def template(tmp_path_factory):
    from trytond import config
    var = tmp_path_factory.mktemp('payments')
    env = town.environment(var)
    prefix = f'payreg_{uuid.uuid4().hex[:8]}'
    town.build(prefix, ACCOUNTS, env)
    saved = {option: config.get('database', option)
        for option in ('uri', 'path')}
    tryton_job.configure(str(var / 'trytond.conf'))
    # In SQL: a Tryton connection would keep the template from copying.
    town.execute(prefix, (AGENT, ()))
    databases = []

    def copy():
        name = f'{prefix}_{len(databases)}'
        town.copy(prefix, name)
        databases.append(name)
        return name
    yield copy, env, var
    for option, value in saved.items():
        config.set('database', option, value)
    for name in databases + [prefix]:
        town.drop(name)


@pytest.fixture
def database(template):
    copy, env, var = template
    return copy(), env, var


def in_tryton(database, function, *args):
    from trytond.pool import Pool

    from rkc import setup
    company = tryton_job.transaction(setup.company_id, database=database)
    return tryton_job.transaction(
        lambda: function(Pool(), *args), database=database, user=1,
        context={'company': company})


def payment(number, account, amount, commission='0.00', period=None,
        readings=(), when=ACCEPTED):
    return Payment(
        line=0, accepted_at=when, branch='8609', terminal='8609/0100',
        operation_id=str(number), account=account, payer='Иванов И.И.',
        address='ул. Ленина, 1', period=period, amount=Decimal(amount),
        commission=Decimal(commission), readings=tuple(readings))


def registry_file(var, name, payments):
    path = var / name
    with open(path, 'wb') as stream:
        write_registry(stream, SBERBANK, payments)
    return path


def import_file(database, env, path, *options):
    return town.rkc(database, 'import-registry', str(path), '--agent',
        'SBER', '--format', 'sberbank', *options, env=env, check=False)


def debts(database):
    "{account number: (account id, balance)} of accounts that owe."
    return {number: (id_, balance) for number, id_, balance in town.rows(
            database, """
            SELECT a.number, a.id, sum(l.amount) FROM rkc_account a
            JOIN rkc_ledger_line l ON l.account = a.id
            GROUP BY a.number, a.id HAVING sum(l.amount) > 0
            ORDER BY a.number""")}


def balance(database, account):
    return town.rows(database, 'SELECT coalesce(sum(amount), 0) '
        'FROM rkc_ledger_line WHERE account = %s', account)[0][0]


def counts(database):
    return town.rows(database, """
        SELECT (SELECT count(*) FROM rkc_payment),
            (SELECT count(*) FROM rkc_payment_suspense),
            (SELECT count(*) FROM rkc_ledger_line WHERE kind = 'payment'),
            (SELECT count(*) FROM rkc_ledger_posting),
            (SELECT count(*) FROM rkc_meter_reading
                WHERE source = 'bank')""")[0]


def assert_subledger_equals_gl(database):
    def balances(pool):
        Line = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        Centre = pool.get('rkc.centre')
        return [(Line.balance(centre=c.id),
                Line.balance(centre=c.id, summarized=True),
                Posting.control_balance(centre=c.id))
            for c in Centre.search([])]
    for subledger, summarized, control in in_tryton(database, balances):
        assert subledger == summarized == control


def test_registry_credits_allocates_and_posts_once(database):
    name, env, var = database
    owing = debts(name)
    (full, (full_id, full_debt)), (over, (over_id, over_debt)), \
        (closed, (closed_id, _)) = list(owing.items())[:3]
    town.execute(name, ("UPDATE rkc_account SET state = 'closed', "
            "closed_on = '2026-06-01' WHERE id = %s", (closed_id,)))
    payments = [
        payment(1, full, full_debt, commission='15.00'),
        payment(2, over, over_debt + Decimal('100.00')),
        payment(3, closed, '50.00'),
        payment(4, '9999999999', '70.00'),
        ]
    path = registry_file(var, 'day1.txt', payments)
    before = counts(name)

    done = import_file(name, env, path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert 'accepted, 4 lines' in done.stdout
    assert ('credited 2, duplicates 0, to suspense 2, readings 0'
        in done.stdout)
    assert balance(name, full_id) == 0
    assert balance(name, over_id) == Decimal('-100.00')
    # The commission is kept beside the amount, never deducted from it.
    assert town.rows(name, 'SELECT amount, commission, date FROM '
        'rkc_payment WHERE operation_id = %s', '1') == [
        (full_debt, Decimal('15.00'), ACCEPTED.date())]
    # Every payment's lines add up to what it credits, on its date.
    for amount, lines, dates in town.rows(name, """
            SELECT p.amount, sum(l.amount), array_agg(DISTINCT l.date)
            FROM rkc_payment p JOIN rkc_ledger_line l
                ON l.origin = 'rkc.payment,' || p.id
            GROUP BY p.id, p.amount"""):
        assert lines == -amount
        assert dates == [ACCEPTED.date()]
    assert town.rows(name, "SELECT sum(amount) FROM rkc_ledger_line "
        "WHERE method = 'advance'") == [(Decimal('-100.00'),)]
    assert sorted(town.rows(name, 'SELECT account_number, reason, amount, '
            'state FROM rkc_payment_suspense')) == sorted([
        (closed, 'closed', Decimal('50.00'), 'open'),
        ('9999999999', 'unknown', Decimal('70.00'), 'open')])
    assert town.rows(name, UNSUMMARIZED_PAYMENT_LINES) == [(0,)]
    # The lines were written into the import's move of their centre: one
    # posted move per centre, holding every line of that centre.
    assert town.rows(name, """
        SELECT count(*) = count(DISTINCT p.centre),
            bool_and(m.state = 'posted'),
            (SELECT count(*) FROM rkc_ledger_line l
                JOIN rkc_payment y ON l.origin = 'rkc.payment,' || y.id
                LEFT JOIN rkc_ledger_posting q ON q.move = l.move
                    AND q.centre = l.centre
                    AND q.origin = 'rkc.payment.registry.import,'
                        || y.registry_import
                WHERE q.id IS NULL)
        FROM rkc_ledger_posting p JOIN account_move m ON m.id = p.move
        WHERE p.origin LIKE 'rkc.payment.registry.import,%%'""") == [
        (True, True, 0)]
    assert_subledger_equals_gl(name)

    after_first = counts(name)
    assert after_first[:2] == (before[0] + 2, before[1] + 2)
    again = import_file(name, env, path)
    assert again.returncode == 0
    assert 'duplicate' in again.stdout
    assert 'nothing changed' in again.stdout
    assert counts(name) == after_first

    # Another file resending two operations credits only the new one.
    resent = registry_file(var, 'day2.txt', payments[:2] + [
            payment(5, full, '10.00')])
    third = import_file(name, env, resent)
    assert 'credited 1, duplicates 2, to suspense 0' in third.stdout
    assert balance(name, full_id) == Decimal('-10.00')
    assert_subledger_equals_gl(name)


def test_readings_in_the_registry_go_to_the_meters(database):
    name, env, var = database
    (account, serial, meter), = town.rows(name, """
        SELECT a.number, m.serial, m.id FROM rkc_account a
        JOIN rkc_meter m ON m.premise = a.premise
        WHERE m.state = 'active' ORDER BY a.number, m.id LIMIT 1""")
    last, = town.rows(name, 'SELECT max(value) FROM rkc_meter_reading '
        'WHERE meter = %s', meter)[0]
    value = (last or 0) + 3
    path = registry_file(var, 'readings.txt', [
            payment(1, account, '100.00', readings=[
                    Reading(serial, value), Reading('NO-SUCH', 1)])])
    done = import_file(name, env, path)
    assert 'readings 1' in done.stdout
    assert (f"meter 'NO-SUCH' is not at the premise of account {account}"
        in done.stdout)
    assert town.rows(name, "SELECT value, read_at FROM rkc_meter_reading "
        "WHERE meter = %s AND source = 'bank'", meter) == [
        (value, ACCEPTED)]


LINE = ('20-06-2026;10-15-30;8609;8609/0100;{op};{account};Иванов И.И.;'
    'ул. Ленина, 1;;{amount};;0,00')


def sberbank_text(*lines):
    return '\r\n'.join(lines).encode('cp1251') + b'\r\n'


BAD_FILES = {
    'field count': (
        [LINE.format(op=1, account='{a}', amount='10,00') + ';x'],
        '=1;10,00;;0,00;;',
        "1: 13 fields, expected 12 + a multiple of 2"),
    'bad amount': (
        [LINE.format(op=1, account='{a}', amount='10.5')],
        '=1;10,50;;0,00;;',
        "1: amount '10.5' is not a non-negative amount in roubles with "
        '"," before kopecks'),
    'bad date': (
        [LINE.format(op=1, account='{a}', amount='10,00').replace(
                '20-06-2026', '31-06-2026', 1)],
        '=1;10,00;;0,00;;',
        "1: acceptance date '31-06-2026': day is out of range for month"),
    'trailer mismatch': (
        [LINE.format(op=1, account='{a}', amount='10,00'),
            LINE.format(op=2, account='{a}', amount='20,00')],
        '=2;31,00;;0,00;;',
        '3: trailer total amount 31.00, the lines sum to 30.00'),
    'duplicate line': (
        [LINE.format(op=1, account='{a}', amount='10,00'),
            LINE.format(op=1, account='{a}', amount='20,00')],
        '=2;30,00;;0,00;;',
        "2: the same operation appears earlier in the file: branch "
        "'8609', operation '1', date 2026-06-20"),
    }


@pytest.mark.parametrize('case', sorted(BAD_FILES) + ['encoding'])
def test_each_registry_error_quarantines_the_file(database, case):
    name, env, var = database
    account = next(iter(debts(name)))
    if case == 'encoding':
        data = LINE.format(op=1, account=account, amount='10,00').encode(
            'utf-8') + b'\r\n=1;10,00;;0,00;;\r\n'
        message = '1: byte 0x98 at position 50 is not valid cp1251'
    else:
        lines, trailer, message = BAD_FILES[case]
        data = sberbank_text(
            *[line.replace('{a}', account) for line in lines], trailer)
    path = var / f'{case}.txt'
    path.write_bytes(data)
    before = counts(name)

    done = import_file(name, env, path)

    assert done.returncode == 2
    assert 'quarantined' in done.stdout
    assert message in done.stdout
    assert counts(name) == before
    (state, errors), = town.rows(name, 'SELECT state, errors FROM '
        'rkc_payment_registry_import')
    assert state == 'quarantined'
    assert message in errors
    # The same bytes again: recognised, still nothing credited.
    again = import_file(name, env, path)
    assert 'duplicate' in again.stdout
    assert counts(name) == before


def test_a_bad_line_after_credited_batches_undoes_them(database):
    from rkc.payments import importer
    name, env, var = database
    numbers = list(debts(name)) + ['UNKNOWN-1']
    lines = importer.BATCH + 500
    path = registry_file(var, 'late.txt', [
            payment(n, numbers[n % len(numbers)], '10.00')
            for n in range(lines)])
    text = path.read_bytes().decode('cp1251').split('\r\n')
    # The last payment line: its batch comes after a written one.
    text[lines - 1] = text[lines - 1].replace(';10,00;', ';10.0;', 1)
    path.write_bytes('\r\n'.join(text).encode('cp1251'))
    before = counts(name)
    moves = town.rows(name, 'SELECT count(*) FROM account_move')

    done = import_file(name, env, path)

    assert done.returncode == 2
    assert f"{lines}: amount '10.0' is not a non-negative amount" in (
        done.stdout)
    assert 'credited 0, duplicates 0, to suspense 0' in done.stdout
    assert counts(name) == before
    assert town.rows(name, 'SELECT count(*) FROM account_move') == moves
    assert town.rows(name, 'SELECT state, records, credited, suspended '
        'FROM rkc_payment_registry_import') == [
        ('quarantined', lines - 1, 0, 0)]


def test_a_batch_allocates_on_the_lines_of_the_one_being_written(database):
    """The next batch is allocated while the last one's lines are still
    being copied: an account paying in both sees its first payment."""
    from rkc.payments import importer
    name, env, var = database
    (paying, (paying_id, debt)), *others = debts(name).items()
    others = [number for number, _ in others]
    # Two short batches (see importer._batches), the account in both.
    second = importer.SHORT_BATCH
    path = registry_file(var, 'two_batches.txt', [
            payment(n, others[n % len(others)], '10.00')
            if n not in {0, second} else
            payment(n, paying, debt if n == 0 else '10.00')
            for n in range(2 * second)])

    done = import_file(name, env, path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f'credited {2 * second}' in done.stdout
    by_payment = dict(town.rows(name, """
        SELECT p.operation_id, array_agg(DISTINCT l.method)
        FROM rkc_payment p JOIN rkc_ledger_line l
            ON l.origin = 'rkc.payment,' || p.id
        WHERE p.account = %s GROUP BY p.operation_id""", paying_id))
    assert by_payment == {'0': ['principal'], str(second): ['advance']}
    assert balance(name, paying_id) == Decimal('-10.00')
    assert_subledger_equals_gl(name)


def test_posting_builds_each_move_once_its_locks_taken_first(
        database, monkeypatch):
    """Posting an import's move creates the journal's period (the first
    move of the month) and numbers the move from a strict sequence; Tryton
    takes these locks by restarting the transaction, which happens before
    the move is built and checked, not after."""
    from rkc import setup
    from rkc.payments import importer
    name, env, var = database
    numbers = list(debts(name))[:3]
    path = registry_file(var, 'locks.txt', [
            payment(n, number, '10.00') for n, number in enumerate(numbers)])
    context = {'company': tryton_job.transaction(
            setup.company_id, database=name)}
    imported = tryton_job.transaction(importer.import_registry, path,
        'SBER', 'sberbank', database=name, user=1, context=context)
    Posting = tryton_job.pool(name).get('rkc.ledger.posting')
    post = Posting._post.__func__
    built = []

    def counted(cls, move, *args, **kwargs):
        built.append(move.id)
        return post(cls, move, *args, **kwargs)
    monkeypatch.setattr(Posting, '_post', classmethod(counted))

    tryton_job.transaction(importer.post_to_general_ledger, imported.id,
        database=name, user=1, context=context)

    assert built and len(built) == len(set(built)), built
    assert town.rows(name, """
        SELECT m.state FROM account_move m JOIN rkc_ledger_posting p
            ON p.move = m.id
        WHERE p.origin = %s""",
        f'rkc.payment.registry.import,{imported.id}') == [
        ('posted',)] * len(built)
    assert_subledger_equals_gl(name)


def test_the_jobs_of_a_process_share_trytond_caches(database):
    """The job's name in the context labels the audit log only: a second
    job reads what the first one put in trytond's caches."""
    from trytond.pool import Pool
    name, _, _ = database
    tryton_job.pool(name)
    cache = Pool(name).get('ir.model')._get_names_cache

    def names_for_the_posting():
        return Pool().get('ir.model').get_names()

    def names_for_the_import():
        return Pool().get('ir.model').get_names()

    posted = tryton_job.transaction(
        names_for_the_posting, database=name, user=1)
    misses = cache.miss
    imported = tryton_job.transaction(
        names_for_the_import, database=name, user=1)

    assert imported == posted
    assert cache.miss == misses


def test_an_origin_is_checked_on_the_names_of_its_models_only(database):
    """The selection an origin is validated on names the models a record
    may come from, as Tryton's does, in the user's language, without
    reading and translating the name of every model: that cost a fresh
    process a fifth of a second on its first move."""
    from trytond.pool import Pool
    name, _, _ = database
    tryton_job.pool(name)

    def selections():
        pool = Pool()
        IrModel = pool.get('ir.model')
        IrModel._get_names_cache.clear()
        origins = {
            'account.move': pool.get('account.move'),
            'account.move.line': pool.get('account.move.line')}
        got = {model: Model.get_origin() for model, Model in origins.items()}
        for model in ['rkc.ledger.line', 'rkc.ledger.posting']:
            got[model] = pool.get(model).get_origins()
        every_name_read = IrModel._get_names_cache.get(
            ('dict', str(None))) is not None
        models = {model: Model._get_origin()
            for model, Model in origins.items()}
        models['rkc.ledger.line'] = models['rkc.ledger.posting'] = (
            pool.get('rkc.ledger.line')._get_origins())
        expected = {model: [(None, '')] + [
                (m, IrModel.get_name(m)) for m in names]
            for model, names in models.items()}
        return got, every_name_read, expected

    for language in ['en', 'ru']:
        got, every_name_read, expected = tryton_job.transaction(selections,
            database=name, user=1, context={'language': language})
        assert not every_name_read
        assert got == expected
        assert ('rkc.payment.registry.import', dict(expected[
                    'rkc.ledger.line'])['rkc.payment.registry.import']) in (
            got['account.move'])
        assert 'rkc.subsidy.crediting' in dict(got['rkc.ledger.posting'])


ALL_LEDGER_SUMS = """
    SELECT account, period, service,
        sum(amount) FILTER (WHERE NOT (kind = 'penalty'
            OR coalesce(method, '') = 'penalty')),
        sum(amount) FILTER (WHERE kind = 'penalty'
            OR coalesce(method, '') = 'penalty'),
        sum(amount) FILTER (WHERE kind = 'charge')
    FROM rkc_ledger_line GROUP BY account, period, service"""


def test_the_allocation_reads_only_debts_and_the_latest_charges(database):
    """Settled and overpaid months are left in the database, and what the
    allocation makes of an account is what the whole history gives."""
    from rkc.engine import payment_lines
    from rkc.engine.regulations import default_regulations
    from rkc_utilities import payment as payments
    name, env, var = database
    owing = list(debts(name).items())
    oldest_month = town.rows(name, 'SELECT min(period) FROM rkc_ledger_line '
        "WHERE kind = 'charge'")[0][0]
    # One account settles everything, one pays its oldest month, one pays
    # more than it owes: their settled months hold zero, their advance a
    # credit.
    (settled, (_, settled_debt)), (oldest, (oldest_id, _)), \
        (over, (_, over_debt)) = owing[:3]
    oldest_debt, = town.rows(name, 'SELECT sum(amount) FROM rkc_ledger_line '
        'WHERE account = %s AND period = %s', oldest_id, oldest_month)[0]
    path = registry_file(var, 'history.txt', [
            payment(1, settled, settled_debt),
            payment(2, oldest, oldest_debt, period=oldest_month),
            payment(3, over, over_debt + Decimal('50.00'))])
    assert import_file(name, env, path).returncode == 0
    whole = town.rows(name, ALL_LEDGER_SUMS)
    accounts = sorted({row[0] for row in whole})

    def read(pool):
        return payments._ledger_sum_rows(accounts)
    read_rows = in_tryton(name, read)

    assert len(read_rows) < len(whole)
    assert {(a, p, s, *(None if v is None else Decimal(v) for v in sums))
        for a, p, s, *sums in read_rows} <= set(whole)
    regulations = default_regulations()
    expected = payment_lines.build_ledgers(whole)
    got = payment_lines.build_ledgers(read_rows)
    for account in accounts:
        assert (payment_lines.period_debts(got[account], regulations)
            == payment_lines.period_debts(expected[account], regulations))
        assert (payment_lines.advance_weights(got[account], None)
            == payment_lines.advance_weights(expected[account], None))
        assert (max(got[account].charged, default=None)
            == max(expected[account].charged, default=None))


def test_two_workers_importing_one_file_count_it_once(database):
    name, env, var = database
    numbers = list(debts(name))[:10]
    path = registry_file(var, 'twice.txt', [
            payment(n, number, '10.00') for n, number in enumerate(
                numbers * 20)])
    command = [sys.executable, '-m', 'rkc.cli', '-d', name,
        'import-registry', str(path), '--agent', 'SBER', '--format',
        'sberbank']
    processes = [subprocess.Popen(command, env=env, cwd=town.ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    reports = sorted(out for out, _ in outputs)
    assert 'credited 200' in reports[0]
    assert 'duplicate' in reports[1]
    assert town.rows(name, 'SELECT count(*), sum(amount) FROM '
        'rkc_payment') == [(200, Decimal('2000.00'))]
    assert town.rows(name, "SELECT -sum(amount) FROM rkc_ledger_line WHERE "
        "kind = 'payment'") == [(Decimal('2000.00'),)]
    assert_subledger_equals_gl(name)


# Lines are written into the import's prepared (draft) moves.
UNSUMMARIZED_PAYMENT_LINES = """SELECT count(*) FROM rkc_ledger_line l
    LEFT JOIN account_move m ON m.id = l.move
    WHERE l.kind = 'payment' AND m.state IS DISTINCT FROM 'posted'"""


def _backend_at(database, query):
    "Whether a session of ``database`` is in a transaction that ran ``query``."
    return bool(town.rows('postgres', """
        SELECT 1 FROM pg_stat_activity
        WHERE datname = %s AND state <> 'idle' AND query LIKE %s""",
        database, f'%{query}%'))


@pytest.mark.parametrize('moment, query, committed', [
    # Allocating into the subledger: the import's transaction is lost.
    ('import', 'rkc_ledger_line', 0),
    # Posting to the general ledger (the prepared moves get their lines):
    # the payments are in, not summarized.
    ('summary', 'account_move_line', 1),
    ])
def test_killed_import_loses_nothing(database, moment, query, committed):
    """SIGKILL of ``rkc import-registry`` during the import or during its
    GL summary: the file imported again credits every payment once, no
    file is half-imported, and the subledger equals the GL."""
    name, env, var = database
    numbers = list(debts(name))
    payments = [payment(n, number, '10.00')
        for n, number in enumerate(numbers * 200)]
    path = registry_file(var, f'killed_{moment}.txt', payments)
    process = subprocess.Popen([sys.executable, '-m', 'rkc.cli', '-d', name,
            'import-registry', str(path), '--agent', 'SBER', '--format',
            'sberbank'], env=env, cwd=town.ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    town.wait_for(
        lambda: process.poll() is not None or _backend_at(name, query),
        timeout=120, poll=0.002, what=f'the import at its {moment}')
    process.kill()
    assert process.wait() == -9, f'the import ended before its {moment}'
    paid = town.rows(name, 'SELECT count(*) FROM rkc_payment')[0][0]
    assert paid == committed * len(payments)
    unsummarized = town.rows(name, UNSUMMARIZED_PAYMENT_LINES)[0][0]
    assert bool(unsummarized) == bool(committed)

    again = import_file(name, env, path)

    assert again.returncode == 0, again.stdout + again.stderr
    assert town.rows(name, 'SELECT count(*), sum(amount) FROM '
        'rkc_payment') == [(len(payments), Decimal('10.00') * len(payments))]
    assert town.rows(name, 'SELECT count(*) FROM '
        'rkc_payment_registry_import') == [(1,)]
    assert town.rows(name, "SELECT -sum(amount) FROM rkc_ledger_line "
        "WHERE kind = 'payment'") == [(Decimal('10.00') * len(payments),)]
    assert town.rows(name, UNSUMMARIZED_PAYMENT_LINES) == [(0,)]
    assert_subledger_equals_gl(name)


def whole_and_folded(pool, accounts):
    """The accounts' open items read from all their lines, and as the
    allocation reads them (folds and the changes since)."""
    from rkc.engine import open_items
    from rkc_utilities import open_items as model
    from rkc_utilities import payment as payments
    whole = open_items.merge(
        {}, model._line_sums(accounts, None), dict.fromkeys(accounts))
    return whole, payments._ledger_sum_rows(accounts)


def test_open_items_folded_then_changed_read_as_the_whole_history(database):
    """After the nightly fold, a registry's payments, a cancellation and a
    correction of an old month are read from the fold and the months they
    changed, and give what every line gives; folding again forgets the
    changes."""
    name, env, var = database
    accounts = [a for a, in town.rows(
            name, 'SELECT id FROM rkc_account ORDER BY id')]
    assert town.rkc(name, 'fold-open-items', env=env).returncode == 0
    assert town.rows(name, 'SELECT count(*) FROM rkc_ledger_open_items '
        'WHERE account = ANY(%s)', accounts)[0][0] == len(accounts)
    assert town.rows(
        name, 'SELECT count(*) FROM rkc_ledger_open_items_change')[0][0] == 0
    owing = list(debts(name).items())
    oldest_month = town.rows(name, 'SELECT min(period) FROM rkc_ledger_line '
        "WHERE kind = 'charge'")[0][0]
    path = registry_file(var, 'after-fold.txt', [
            payment(1, owing[0][0], owing[0][1][1]),
            payment(2, owing[1][0], '10.00', period=oldest_month),
            payment(3, owing[2][0], owing[2][1][1] + Decimal('50.00'))])
    assert import_file(name, env, path).returncode == 0
    corrected = owing[3][1][0]

    def cancel_and_correct(pool):
        Payment = pool.get('rkc.payment')
        Line = pool.get('rkc.ledger.line')
        Payment.cancel(Payment.search([('operation_id', '=', '2')]))
        charge, = Line.search([('account', '=', corrected),
                ('period', '=', oldest_month), ('kind', '=', 'charge')],
            limit=1)
        Line.create([{'account': corrected, 'centre': charge.centre.id,
                    'service': charge.service.id, 'period': oldest_month,
                    'date': charge.date, 'kind': 'recalculation',
                    'amount': Decimal('-1000000.00'),
                    'origin': str(charge.origin), 'part': 9}])
        return charge.service.id
    service = in_tryton(name, cancel_and_correct)
    changed = town.rows(name, 'SELECT account, min(period) FROM '
        'rkc_ledger_open_items_change GROUP BY account ORDER BY account')
    assert (owing[1][1][0], oldest_month) in changed
    assert (corrected, oldest_month) in changed
    whole, read = in_tryton(name, whole_and_folded, accounts)
    assert read == whole
    # The correction made an advance of the oldest month: not an open item.
    assert not [row for row in read
        if row[:3] == (corrected, oldest_month, service)]

    in_tryton(name, lambda pool: pool.get(
            'rkc.ledger.open_items').fold_changed(batch=7))
    assert town.rows(
        name, 'SELECT count(*) FROM rkc_ledger_open_items_change')[0][0] == 0
    assert in_tryton(name, whole_and_folded, accounts)[1] == whole


def run_fold_cron(pool):
    "Run the nightly fold as trytond's cron runs it."
    Cron = pool.get('ir.cron')
    ModelData = pool.get('ir.model.data')
    Cron.run_once([Cron(ModelData.get_id(
                    'rkc_utilities', 'cron_open_items_fold'))])


def test_a_change_committed_during_a_fold_is_kept(database):
    """A line and its change written by a transaction that commits after
    the nightly fold began are not folded, and their change stays to be
    read."""
    name, env, var = database
    account = next(iter(debts(name).values()))[0]
    latest_charged = """SELECT sum(amount) FROM rkc_ledger_line
        WHERE account = %s AND kind = 'charge' AND period = (
            SELECT max(period) FROM rkc_ledger_line WHERE account = %s)"""
    charged, = town.rows(name, latest_charged, account, account)[0]
    with town.connect(name) as concurrent:
        concurrent.execute("""
            INSERT INTO rkc_ledger_line (account, centre, service, period,
                date, kind, amount, origin, part, create_uid, create_date)
            SELECT account, centre, service, period, date, 'charge', 25,
                'rkc.billing.run,-1', 0, 1, now()
            FROM rkc_ledger_line WHERE account = %s AND kind = 'charge'
            ORDER BY period DESC LIMIT 1""", (account,))
        concurrent.execute("""
            INSERT INTO rkc_ledger_open_items_change (account, period,
                create_uid, create_date)
            SELECT account, period, 1, now() FROM rkc_ledger_line
            WHERE origin = 'rkc.billing.run,-1'""")
        in_tryton(name, run_fold_cron)
        concurrent.commit()
    assert town.rows(name, 'SELECT count(*) FROM '
        'rkc_ledger_open_items_change WHERE account = %s', account)[0][0] == 1
    whole, read = in_tryton(name, whole_and_folded, [account])
    assert read == whole
    latest = max(row[1] for row in read if row[5] is not None)
    assert sum(Decimal(row[5]) for row in read
        if row[1] == latest) == charged + 25


def test_open_items_refuse_a_second_fold_or_a_change_without_period(
        database):
    """An account has one fold, and a change names its period: each wrong
    record is refused with its own message (the desk is in Russian), and
    nothing of it is kept."""
    from trytond.model.modelsql import SQLConstraintError
    from trytond.model.modelstorage import RequiredValidationError
    name, env, var = database
    account = town.rows(name, 'SELECT min(id) FROM rkc_account')[0][0]

    def twice(pool):
        pool.get('rkc.ledger.open_items').create(
            [{'account': account, 'items': '[]'}] * 2)
    with pytest.raises(SQLConstraintError,
            match='У лицевого счёта одна запись открытых позиций'):
        in_tryton(name, twice)

    def without_period(pool):
        pool.get('rkc.ledger.open_items.change').create(
            [{'account': account}])
    with pytest.raises(RequiredValidationError, match='Период'):
        in_tryton(name, without_period)
    assert town.rows(name, 'SELECT (SELECT count(*) FROM '
        'rkc_ledger_open_items WHERE account = %s), (SELECT count(*) FROM '
        'rkc_ledger_open_items_change WHERE period IS NULL)',
        account)[0] == (0, 0)


def test_a_month_opened_takes_its_lines_out_of_the_default_partition(
        database):
    """A line of a month with no period opened waits in the subledger's
    default partition; opening the period moves it into the month's own,
    and the subledger reads the same before and after."""
    name, env, var = database
    month = dt.date(2027, 3, 1)
    partition = f'rkc_ledger_line_y{month:%Y}m{month:%m}'
    everything = ('SELECT tableoid::regclass::text, id, account, period, '
        'amount, origin FROM rkc_ledger_line ORDER BY id')

    def post_in_march(pool):
        Line = pool.get('rkc.ledger.line')
        line, = Line.search([('kind', '=', 'charge')], limit=1)
        return Line.insert_rows([{
                    'account': line.account.id, 'centre': line.centre.id,
                    'service': line.service.id, 'period': month,
                    'date': month, 'kind': 'charge',
                    'amount': Decimal('12.34'), 'volume': None,
                    'tariff': None, 'excess': None, 'method': None,
                    'basis': None, 'origin': str(line.origin), 'part': 0,
                    'move': None}])
    assert in_tryton(name, post_in_march) == 1
    before = town.rows(name, everything)
    assert [row[0] for row in before if row[3] == month] == [
        'rkc_ledger_line_default']

    in_tryton(name, lambda pool: pool.get('rkc.period').get_or_create(
            month.replace(day=20)))

    after = town.rows(name, everything)
    assert [row[1:] for row in after] == [row[1:] for row in before]
    assert [row[0] for row in after if row[3] == month] == [partition]
    assert town.rows(name,
        'SELECT count(*) FROM rkc_ledger_line_default') == [(0,)]
    # The next two months are made ahead, for the advances paid to them.
    assert town.rows(name, "SELECT to_regclass('rkc_ledger_line_y2027m05') "
        "IS NOT NULL, to_regclass('rkc_ledger_line_y2027m06') IS NULL") == [
        (True, True)]
    split = town.rkc(name, 'partition-subledger', env=env)
    assert 'months given a partition: none' in split.stdout


def test_a_period_opens_while_the_default_partition_is_read(
        database, caplog):
    """A long read of the default partition does not hold up opening a
    period: after the lock timeout the period is opened without its
    partitions, with a warning, its month's lines read as before, and
    rkc partition-subledger gives them their partition afterwards."""
    name, env, var = database
    month = dt.date(2027, 8, 1)
    with town.connect(name) as reader:
        reader.execute('SELECT count(*) FROM rkc_ledger_line_default')
        in_tryton(name, lambda pool: pool.get('rkc.period').get_or_create(
                month))
    assert 'subledger partitions of 2027-08, 2027-09, 2027-10 not made' \
        in caplog.text
    assert town.rows(name, "SELECT count(*) FROM rkc_period "
        "WHERE start_date = %s", month) == [(1,)]
    assert town.rows(name, "SELECT to_regclass('rkc_ledger_line_y2027m08') "
        'IS NULL') == [(True,)]
    town.execute(name, ("INSERT INTO rkc_ledger_line (account, centre, "
        'service, period, date, kind, amount, origin, part) SELECT account, '
        "centre, service, %s, %s, kind, amount, origin, part "
        'FROM rkc_ledger_line ORDER BY id LIMIT 1', (month, month)))

    split = town.rkc(name, 'partition-subledger', env=env)

    assert 'months given a partition: 2027-08\n' in split.stdout
    assert town.rows(name, 'SELECT tableoid::regclass::text, count(*) '
        'FROM rkc_ledger_line WHERE period = %s GROUP BY 1', month) == [
        ('rkc_ledger_line_y2027m08', 1)]


# The subledger as databases made before it was partitioned have it: a
# plain table with its lines and ids, the sequence past a line undone.
UNPARTITIONED = [
    'CREATE TABLE plain (LIKE rkc_ledger_line INCLUDING IDENTITY '
    'INCLUDING DEFAULTS)',
    'INSERT INTO plain SELECT * FROM rkc_ledger_line',
    'DROP TABLE rkc_ledger_line',
    'ALTER TABLE plain RENAME TO rkc_ledger_line',
    'ALTER SEQUENCE plain_id_seq RENAME TO rkc_ledger_line_id_seq',
    'ALTER TABLE rkc_ledger_line ADD CONSTRAINT rkc_ledger_line_pkey '
    'PRIMARY KEY (id)',
    "SELECT setval('rkc_ledger_line_id_seq', max(id) + 7) "
    'FROM rkc_ledger_line',
    ]


def test_an_unpartitioned_subledger_is_partitioned_on_update(database):
    """Updating a database whose subledger is a plain table partitions it:
    every line kept with its id, in its month's partition, the ids going
    on past the old sequence, the table's keys, indexes and triggers back;
    a registry imported afterwards is credited and posted."""
    name, env, var = database
    everything = ('SELECT id, account, service, period, date, kind, amount, '
        'origin, part, move FROM rkc_ledger_line ORDER BY id')
    town.execute(name, *[(statement, ()) for statement in UNPARTITIONED])
    before = town.rows(name, everything)
    last_id = before[-1][0]
    assert town.rows(name, "SELECT relkind FROM pg_class "
        "WHERE relname = 'rkc_ledger_line'") == [('r',)]

    updated = town.rkc(name, 'db', 'update', env=env, check=False)

    assert updated.returncode == 0, updated.stderr
    assert town.rows(name, everything) == before
    assert town.rows(name, "SELECT relkind FROM pg_class "
        "WHERE relname = 'rkc_ledger_line'") == [('p',)]
    assert town.rows(name, 'SELECT count(*) FROM rkc_ledger_line_default'
        ) == [(0,)]
    assert town.rows(name, "SELECT count(*) FROM pg_trigger WHERE tgrelid "
        "= 'rkc_ledger_line'::regclass AND NOT tgisinternal") == [(2,)]
    owing = debts(name)
    number, (account, debt) = next(iter(owing.items()))
    done = import_file(name, env, registry_file(
            var, 'after_update.txt', [payment(1, number, debt)]))
    assert 'credited 1' in done.stdout, done.stdout + done.stderr
    assert balance(name, account) == 0
    new_ids = town.rows(name, 'SELECT min(id) FROM rkc_ledger_line '
        'WHERE id > %s', last_id)
    assert new_ids == [(last_id + 8,)]
    assert_subledger_equals_gl(name)
