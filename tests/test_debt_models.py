"""Debt work through the Tryton models on PostgreSQL: the penalty run and
calculator (rules.md §3), restructuring agreements (§5) and legal cases
with their documents (§6), on a fresh account of a small demo town."""
import datetime as dt
import uuid
from decimal import Decimal

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
def database(tmp_path_factory):
    "A demo town of 5 accounts, Tryton configured on it."
    from trytond import config
    var = tmp_path_factory.mktemp('debt')
    env = town.environment(var)
    name = f'debt_{uuid.uuid4().hex[:8]}'
    town.build(name, 5, env)
    saved = {option: config.get('database', option)
        for option in ('uri', 'path')}
    tryton_job.configure(str(var / 'trytond.conf'))
    yield name
    for option, value in saved.items():
        config.set('database', option, value)
    town.drop(name)


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
