"""Debt work through the Tryton models on PostgreSQL: the penalty run and
calculator (rules.md §3), restructuring agreements (§5) and legal cases
with their documents (§6), on a fresh account of a small demo town."""
import datetime as dt
import io
import shutil
import tempfile
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from rkc import tryton_job

import town
from debt_helpers import in_tryton, new_account, period, post_lines

pytestmark = pytest.mark.postgresql

JANUARY_2025 = dt.date(2025, 1, 1)
# rules.md §3: 10,000.00 for January 2025 paid in full on 20.06.2025.
EXAMPLE = [
    ('charge', JANUARY_2025, dt.date(2025, 1, 31), Decimal('10000.00')),
    ('payment', JANUARY_2025, dt.date(2025, 6, 20), Decimal('-10000.00')),
    ]


@pytest.fixture(scope='module')
def database():
    "A demo town of 5 accounts, Tryton configured on it."
    # Not pytest's tmp_path: concurrent pytest runs prune its directories.
    var = Path(tempfile.mkdtemp(prefix='debt_'))
    env = town.environment(var)
    name = f'debt_{uuid.uuid4().hex[:8]}'
    with town.configured(var, name, lambda name: town.build(name, 5, env)):
        yield name
    shutil.rmtree(var)


def run_penalties(database, month):
    "Run the penalties of a month; wait for its inline chunk jobs."
    def start(pool):
        Run = pool.get('rkc.penalty.run')
        run, = Run.create([{'period': period(pool, month)}])
        Run.run([run])
        return run.id
    run = in_tryton(database, start)
    town.wait_for(lambda: in_tryton(database,
            lambda pool: pool.get('rkc.penalty.run')(run).state) == 'done',
        what='the penalty run')
    return run


def penalty_lines(pool, account):
    Line = pool.get('rkc.ledger.line')
    return [(line.period, line.date, line.amount, str(line.origin))
        for line in Line.search([
                ('account', '=', account), ('kind', '=', 'penalty')],
            order=[('date', 'ASC'), ('period', 'ASC')])]


def test_penalty_run_posts_the_example_once(database):
    "§3's example through the run: 482.31 in June, nothing more in July."
    account = in_tryton(database, new_account)
    in_tryton(database, post_lines, account, EXAMPLE)
    june = run_penalties(database, dt.date(2025, 6, 1))
    july = run_penalties(database, dt.date(2025, 7, 1))
    assert in_tryton(database, penalty_lines, account) == [
        (JANUARY_2025, dt.date(2025, 6, 30), Decimal('482.31'),
            f'rkc.penalty.run,{june}')]

    def rerun_and_summary(pool):
        Run = pool.get('rkc.penalty.run')
        Chunk = pool.get('rkc.penalty.run.chunk')
        Account = pool.get('rkc.account')
        run = Run(june)
        building = Account(account).premise.building.id
        chunk, = [c for c in run.chunks if c.building.id == building]
        # A job that runs again changes nothing.
        Chunk.write([chunk], {'state': 'pending'})
        chunk.process()
        moves = [(p.amount, sorted((line.account.code, line.debit,
                            line.credit) for line in p.move.lines))
            for p in run.postings]
        return moves, Run(july).amount
    moves, july_amount = in_tryton(database, rerun_and_summary)
    assert in_tryton(database, penalty_lines, account)[0][2] \
        == Decimal('482.31')
    assert moves == [(Decimal('482.31'), [
                ('62.01', Decimal('482.31'), Decimal(0)),
                ('91.01', Decimal(0), Decimal('482.31'))])]
    assert july_amount == Decimal('0.00')


def test_penalty_run_refuses_a_second_run_of_a_period(database):
    from trytond.exceptions import UserError

    def second(pool):
        Run = pool.get('rkc.penalty.run')
        Run.create([{'period': period(pool, dt.date(2025, 5, 1))}])
    run_penalties(database, dt.date(2025, 5, 1))
    with pytest.raises(UserError,
            match='Пени за этот период уже начислены'):
        in_tryton(database, second)


def odt_text(content):
    "The text of an .odt document's content.xml."
    from lxml import etree
    with zipfile.ZipFile(io.BytesIO(content)) as odt:
        root = etree.fromstring(odt.read('content.xml'))
    return ' '.join(''.join(p.itertext()) for p in root.iter(
            '{urn:oasis:names:tc:opendocument:xmlns:text:1.0}p'))


def agree(pool, account, signed, first_due, months=12, share='0.20'):
    "Draw up and sign an agreement; returns its id."
    Agreement = pool.get('rkc.agreement')
    agreement, = Agreement.create([{
                'account': account, 'date': signed, 'months': months,
                'down_payment_share': Decimal(share),
                'first_due': first_due}])
    Agreement.compute([agreement])
    Agreement.activate([agreement])
    return agreement.id


def agreement_state(pool, agreement):
    agreement = pool.get('rkc.agreement')(agreement)
    return (agreement.state, agreement.debt, agreement.down_payment,
        [(i.number, i.amount, i.state) for i in agreement.instalments])


def test_agreement_schedule_of_the_example(database):
    "§5: 48,000 with 20 % down = 9,600.00, then 12 × 3,200.00."
    account = in_tryton(database, new_account)
    in_tryton(database, post_lines, account, [
            ('charge', dt.date(2025, month, 1),
                dt.date(2025, month, 28), Decimal('12000.00'))
            for month in range(1, 5)])
    agreement = in_tryton(database, agree, account, dt.date(2025, 5, 20),
        dt.date(2025, 6, 15))
    state, debt, down, instalments = in_tryton(
        database, agreement_state, agreement)
    assert (state, debt, down) == (
        'active', Decimal('48000.00'), Decimal('9600.00'))
    assert instalments == [(0, Decimal('9600.00'), 'pending')] + [
        (n, Decimal('3200.00'), 'pending') for n in range(1, 13)]

    def print_(pool):
        Report = pool.get('rkc.agreement', type='report')
        return Report.execute([agreement], {})[:2]
    extension, content = in_tryton(database, print_)
    text = odt_text(content)
    assert extension == 'odt'
    assert f'Соглашение № {agreement} о реструктуризации' in text
    assert '48\u00a0000,00' in text and '9\u00a0600,00' in text
    # Each instalment's principal and total.
    assert text.count('3\u00a0200,00') == 24
    assert '15.06.2025' in text and '15.05.2026' in text


def test_honoured_agreement_stops_penalties_default_restores(database):
    from rkc.engine.penalty import penalties
    account = in_tryton(database, new_account)
    in_tryton(database, post_lines, account, EXAMPLE[:1])
    agreement = in_tryton(database, agree, account, dt.date(2025, 3, 1),
        dt.date(2025, 4, 1), 6)
    run_penalties(database, dt.date(2025, 8, 1))
    assert in_tryton(database, penalty_lines, account) == []

    # Nothing was paid: the down payment and the instalments are missed.
    in_tryton(database, lambda pool: pool.get('rkc.agreement').monitor(
            dt.date(2025, 9, 1)))
    state, _, _, instalments = in_tryton(
        database, agreement_state, agreement)
    assert state == 'defaulted'
    assert [s for _, _, s in instalments] == ['missed'] * 6 + ['pending']
    september = run_penalties(database, dt.date(2025, 9, 1))
    (expected,), _ = penalties(
        {JANUARY_2025: {'debt': Decimal('10000.00')}}, [],
        dt.date(2025, 9, 30))
    assert in_tryton(database, penalty_lines, account) == [
        (JANUARY_2025, dt.date(2025, 9, 30), expected.penalty,
            f'rkc.penalty.run,{september}')]
    assert expected.penalty > 0


def test_completed_agreement_penalties_written_off_by_another(database):
    from trytond.exceptions import UserError
    account = in_tryton(database, new_account)
    in_tryton(database, post_lines, account, [
            ('charge', JANUARY_2025, dt.date(2025, 1, 31),
                Decimal('1000.00')),
            ('penalty', JANUARY_2025, dt.date(2025, 4, 30),
                Decimal('12.34'))])
    agreement = in_tryton(database, agree, account, dt.date(2025, 5, 5),
        dt.date(2025, 6, 5), 2, '0.50')
    in_tryton(database, post_lines, account, [
            ('payment', JANUARY_2025, dt.date(2025, 6, 1),
                Decimal('-1000.00'))])
    in_tryton(database, lambda pool: pool.get('rkc.agreement').monitor(
            dt.date(2025, 6, 2)))
    assert in_tryton(database, agreement_state, agreement) == (
        'completed', Decimal('1000.00'), Decimal('500.00'), [
            (0, Decimal('500.00'), 'paid'), (1, Decimal('250.00'), 'paid'),
            (2, Decimal('250.00'), 'paid')])

    def write_off(pool):
        Agreement = pool.get('rkc.agreement')
        Agreement.write_off([Agreement(agreement)])
    with pytest.raises(UserError, match='должны быть списаны другим'):
        in_tryton(database, write_off)

    def second_person(pool):
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        admin = ModelData.get_id('rkc_utilities', 'group_rkc_admin')
        user, = User.create([{'name': 'Бухгалтер', 'login': 'accountant2',
                    'groups': [('add', [admin])]}])
        return user.id
    user = in_tryton(database, second_person)
    company = in_tryton(database, lambda pool: pool.get(
            'company.company').search([])[0].id)
    tryton_job.transaction(
        lambda: write_off(__import__('trytond.pool').pool.Pool()),
        database=database, user=user,
        context={'company': company, 'companies': [company]})

    def written_off(pool):
        Line = pool.get('rkc.ledger.line')
        return sorted((line.kind, line.amount) for line in Line.search([
                    ('account', '=', account),
                    ('service.code', '=', 'penalty')]))
    assert in_tryton(database, written_off) == [
        ('penalty', Decimal('12.34')), ('write_off', Decimal('-12.34'))]


FILED = dt.date(2026, 3, 20)
DISTRICT = '№ 3 Ленинского судебного района г. Екатеринбурга'


def test_legal_case_through_all_stages_with_its_documents(database):
    """§6: the claim of 10,482.31 (§3's penalty and a fresh debt) filed in
    2026 costs a duty of 2,000; the case goes from the claim to the
    bailiffs through an objection, and the application holds the
    claimant, the debtor, the amounts and the table."""
    # Imported once Tryton is configured: its backend follows the config.
    from rkc_utilities.common import today
    account = in_tryton(database, new_account)
    in_tryton(database, post_lines, account, EXAMPLE + [
            ('charge', dt.date(2026, 2, 1), dt.date(2026, 2, 28),
                Decimal('10000.00'))])

    def open_case(pool):
        Case = pool.get('rkc.legal.case')
        Account = pool.get('rkc.account')
        Building = pool.get('rkc.building')
        Building.write([Account(account).premise.building],
            {'court_district': DISTRICT})
        case, = Case.create([{'account': account,
                    'claim_sent_on': dt.date(2026, 2, 10)}])
        assert case.deadline == today() + dt.timedelta(days=30)
        case.filed_on = FILED
        case.save()
        Case.apply([case])
        return case.id
    case = in_tryton(database, open_case)

    def case_state(pool):
        case_ = pool.get('rkc.legal.case')(case)
        return (case_.stage, case_.principal, case_.penalty, case_.claim,
            case_.duty, case_.court_district, case_.deadline)
    assert in_tryton(database, case_state) == (
        'application', Decimal('10000.00'), Decimal('482.31'),
        Decimal('10482.31'), Decimal('2000'), DISTRICT, None)

    def print_(pool, name):
        Report = pool.get(name, type='report')
        return Report.execute([case], {})[:2]
    extension, content = in_tryton(
        database, print_, 'rkc.legal.application')
    text = odt_text(content)
    payer = in_tryton(database, lambda pool: pool.get('rkc.account')(
            account).payer.name)
    company = in_tryton(database, lambda pool: pool.get(
            'company.company').search([])[0].party.name)
    assert extension == 'odt'
    assert f'Мировому судье судебного участка {DISTRICT}' in text
    assert f'Взыскатель: {company}' in text
    assert f'Должник: {payer}' in text
    assert 'дата и место рождения: неизвестны' in text
    identifiers = in_tryton(database, lambda pool: pool.get(
            'rkc.legal.case')(case).debtor_identifiers())
    assert 'идентификаторы: ' + (', '.join(identifiers) or (
            'идентификаторы должника (СНИЛС, ИНН, серия и номер паспорта) '
            'взыскателю неизвестны')) in text
    assert 'Цена иска: 10\u00a0482,31 руб. Государственная пошлина: '\
        '2\u00a0000,00 руб.' in text
    # The table: each period, its payment with the date, the bands.
    assert '10\u00a0000,00 (20.06.2025)' in text
    assert 'Итого: задолженность 10\u00a0000,00 руб., пени 482,31 руб.' \
        in text
    assert '190,00' in text and '292,31' in text
    assert '1/300' in text and '1/130' in text
    _, claim = in_tryton(database, print_, 'rkc.legal.claim')
    assert 'Досудебная претензия' in odt_text(claim)

    def step(pool, button, values=None):
        Case = pool.get('rkc.legal.case')
        case_ = Case(case)
        if values:
            Case.write([case_], values)
        getattr(Case, button)([case_])
        return Case(case).stage, Case(case).deadline
    assert in_tryton(database, step, 'issue', {
            'order_number': '2-15/2026', 'order_date': dt.date(2026, 4, 1),
            }) == ('order', dt.date(2026, 4, 11))
    assert in_tryton(database, step, 'object') == ('lawsuit', None)
    assert in_tryton(database, step, 'enforce') == ('bailiffs', None)
    assert in_tryton(database, step, 'close_paid')[0] == 'paid'
    # A closed case stays closed.
    assert in_tryton(database, step, 'cancel')[0] == 'paid'


def test_debtor_selection_skips_honoured_agreements(database):
    debtor, agreed = in_tryton(database, new_account), in_tryton(
        database, new_account)
    for account in (debtor, agreed):
        in_tryton(database, post_lines, account, EXAMPLE[:1])
    in_tryton(database, agree, agreed, dt.date(2026, 3, 1),
        dt.date(2026, 4, 1), 6)

    def select(pool):
        Case = pool.get('rkc.legal.case')
        return Case.debtors(Decimal('5000'), 3, FILED)
    selected = in_tryton(database, select)
    assert debtor in selected and agreed not in selected

    def open_cases(pool):
        Select = pool.get('rkc.legal.select', type='wizard')
        session_id, _, _ = Select.create()
        session = Select(session_id)
        session.start.threshold = Decimal('5000')
        session.start.months = 3
        session.start.date = FILED
        session.transition_open_()
        Case = pool.get('rkc.legal.case')
        return [c.account.id for c in Case.search([
                    ('account', 'in', [debtor, agreed])])]
    assert in_tryton(database, open_cases) == [debtor]
    # An open case keeps the debtor out of the next selection.
    assert debtor not in in_tryton(database, select)
