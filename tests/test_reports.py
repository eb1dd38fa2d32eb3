"""The managers' reports and the account card on a billed demo town in
PostgreSQL: their totals reconcile with the subledger and the GL, debt
ageing agrees with a first-in first-out replay of the lines, visit KPIs."""
import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest

from rkc import tryton_job
from rkc.engine.dated import add_months

import town

pytestmark = pytest.mark.postgresql

ACCOUNTS = 60
ZERO = Decimal(0)


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    "A billed demo town with payments of a part of the debt."
    from trytond import config
    var = tmp_path_factory.mktemp('reports')
    env = town.environment(var)
    name = f'reports_{uuid.uuid4().hex[:8]}'
    town.build(name, ACCOUNTS, env)
    saved = {option: config.get('database', option)
        for option in ('uri', 'path')}
    tryton_job.configure(str(var / 'trytond.conf'))
    in_tryton(name, _pay_oldest_month)
    yield name
    for option, value in saved.items():
        config.set('database', option, value)
    town.drop(name)


def in_tryton(database, function, *args, context=None):
    "Run ``function(pool, *args)`` in a committed Tryton transaction."
    from trytond.pool import Pool

    from rkc import setup

    company = tryton_job.transaction(setup.company_id, database=database)
    return tryton_job.transaction(
        lambda: function(Pool(), *args), database=database, user=1,
        context={'company': company, **(context or {})})


def _pay_oldest_month(pool):
    """Every other account pays its first billed month and a third of the
    next on the 10th of the month still open (the closed months' turnover
    stays as it was): ageing then has several buckets."""
    Line = pool.get('rkc.ledger.line')
    lines = Line.search([('kind', '=', 'charge')], order=[('id', 'ASC')])
    months = sorted({line.period for line in lines})
    paid_on = months[-1] + dt.timedelta(days=9)
    rows = []
    for line in lines:
        if line.account.id % 2 or line.period not in months[:2]:
            continue
        share = 1 if line.period == months[0] else Decimal(1) / 3
        amount = (line.amount * share).quantize(Decimal('0.01'))
        rows.append({
                'account': line.account.id, 'centre': line.centre.id,
                'service': line.service.id, 'period': line.period,
                'date': paid_on,
                'kind': 'payment', 'amount': -amount, 'volume': None,
                'tariff': None, 'excess': None, 'method': None,
                'basis': None, 'origin': str(line.origin),
                'part': 100 + line.part})
    assert Line.insert_rows(rows) == len(rows)


def _lines(pool):
    Line = pool.get('rkc.ledger.line')
    return [(line.account.id, line.account.centre.id, line.centre.id,
            line.service.id, line.period, line.date, line.kind, line.amount,
            line.method)
        for line in Line.search([])]


def test_turnover_sheet_closing_is_the_subledger_at_period_end(database):
    def check(pool):
        Line = pool.get('rkc.ledger.line')
        Sheet = pool.get('rkc.report.turnover_sheet')
        Turnover = pool.get('rkc.turnover')
        closing = defaultdict(Decimal)
        rows = Sheet.search([])
        assert rows, 'the demo closes its billed months but one'
        for row in rows:
            closing[row.centre.id, row.period] += row.closing
            assert row.opening + row.charged + row.recalculated \
                + row.subsidy + row.paid + row.penalty + row.other \
                == row.closing
        for (centre, period), amount in closing.items():
            end = add_months(period, 1) - dt.timedelta(days=1)
            assert amount == Line.balance(centre=centre, date=end)
            assert amount == sum(t.closing for t in Turnover.search([
                        ('centre', '=', centre), ('period', '=', period)]))
        return len(closing)
    assert in_tryton(database, check) >= 2


def test_turnover_sheet_by_account_adds_up_to_the_sheet(database):
    """The CSV export of a centre's sheet by account: one row per account
    and service, its columns summing to the sheet's by service, a payer
    name that a spreadsheet would run as a formula made inert."""
    import csv
    import io

    def export(pool):
        Sheet = pool.get('rkc.report.turnover_sheet')
        Report = pool.get('rkc.report.turnover_sheet.accounts',
            type='report')
        Turnover = pool.get('rkc.turnover')
        Party = pool.get('party.party')
        rows = Sheet.search([])
        period = max(r.period for r in rows)
        selected = [r for r in rows
            if r.period == period and r.centre == rows[0].centre]
        payer = Turnover.search([('period', '=', period),
                ('centre', '=', rows[0].centre.id)],
            limit=1)[0].account.payer
        name = payer.name
        Party.write([payer], {'name': '=HYPERLINK("http://x")'})
        ext, content, _, _ = Report.execute([r.id for r in selected], {})
        Party.write([payer], {'name': name})
        sheet = {r.service.name: [r.accounts] + [getattr(r, f) for f in (
                    'opening', 'charged', 'recalculated', 'subsidy', 'paid',
                    'penalty', 'other', 'closing')] for r in selected}
        return ext, bytes(content), sheet, period, rows[0].centre.name
    ext, content, sheet, period, centre = in_tryton(database, export)
    assert ext == 'csv' and content.startswith(b'\xef\xbb\xbf')
    header, *lines = list(csv.reader(
            io.StringIO(content.decode('utf-8-sig')), delimiter=';'))
    assert header[:5] == [
        'Период', 'Центр', 'Лицевой счёт', 'Плательщик', 'Услуга']
    by_service = defaultdict(lambda: [0] + [ZERO] * 8)
    for line in lines:
        assert line[:2] == [f'{period:%Y-%m}', centre]
        totals = by_service[line[4]]
        totals[0] += 1
        for i, amount in enumerate(line[5:], start=1):
            totals[i] += Decimal(amount.replace(',', '.'))
    assert dict(by_service) == sheet
    assert '\'=HYPERLINK("http://x")' in {line[3] for line in lines}


def test_collection_totals_are_the_subledger_kinds(database):
    def check(pool):
        lines = _lines(pool)
        charged, paid = defaultdict(Decimal), defaultdict(Decimal)
        for _, _, centre, service, period, _, kind, amount, _ in lines:
            if kind in ('charge', 'recalculation'):
                charged[centre, service, period] += amount
            elif kind == 'payment':
                paid[centre, service, period] -= amount
        rows = pool.get('rkc.report.collection').search([])
        assert {(r.centre.id, r.service.id, r.period) for r in rows} \
            == set(charged) | set(paid)
        for row in rows:
            key = row.centre.id, row.service.id, row.period
            assert (row.charged, row.paid) == (charged[key], paid[key])
            if row.charged:
                assert row.rate == (
                    row.paid * 100 / row.charged).quantize(Decimal('0.1'))
        return sum(r.paid for r in rows), sum(r.charged for r in rows)
    paid, charged = in_tryton(database, check)
    assert 0 < paid < charged


def fifo_ageing(lines, date):
    """Per centre, the debt in each ageing bucket replayed in Python:
    credits settle the oldest debits first."""
    month = date.replace(day=1)
    starts = [0, 1, 3, 6, 12]
    debits = defaultdict(lambda: defaultdict(Decimal))
    credits = defaultdict(Decimal)
    centres = {}
    for account, centre, _, _, period, day, _, amount, _ in lines:
        if day > date:
            continue
        centres[account] = centre
        if amount > 0:
            debits[account][period] += amount
        else:
            credits[account] -= amount
    ageing = defaultdict(lambda: [ZERO] * len(starts))
    for account, centre in centres.items():
        credit = credits[account]
        for period in sorted(debits[account]):
            debt = max(debits[account][period] - credit, ZERO)
            credit = max(credit - debits[account][period], ZERO)
            age = (month.year - period.year) * 12 + month.month - period.month
            bucket = max(i for i, s in enumerate(starts) if age >= s or i == 0)
            ageing[centre][bucket] += debt
    return ageing


def test_debt_ageing_replays_first_in_first_out(database):
    def check(pool, date):
        Ageing = pool.get('rkc.report.debt_ageing')
        Line = pool.get('rkc.ledger.line')
        expected = fifo_ageing(_lines(pool), date)
        rows = Ageing.search([])
        buckets = ['months_0_1', 'months_1_3', 'months_3_6', 'months_6_12',
            'months_12_plus']
        for row in rows:
            assert [getattr(row, b) for b in buckets] \
                == expected[row.centre.id]
            assert row.debt == sum(expected[row.centre.id])
            assert row.debt - row.advances == row.balance
            assert row.balance == Line.balance(
                centre=row.centre.id, date=date)
        return sum(sum(1 for v in expected[r.centre.id] if v) for r in rows)

    today = dt.date.today()
    filled = in_tryton(database, check, today, context={'date': today})
    assert filled >= 2 * 1, 'the payments must leave debt of two ages'
    earlier = add_months(today.replace(day=1), -1) - dt.timedelta(days=1)
    in_tryton(database, check, earlier, context={'date': earlier})


def test_reconciliation_has_no_difference(database):
    def check(pool):
        return [(r.difference, r.general_ledger, r.subledger)
            for r in pool.get('rkc.ledger.reconciliation').search([])]
    rows = in_tryton(database, check)
    assert rows and all(d == 0 and g == s for d, g, s in rows)


def test_meter_coverage_counts_charges_by_method(database):
    def check(pool):
        counts = defaultdict(lambda: defaultdict(int))
        for _, _, centre, service, period, _, kind, _, method in _lines(
                pool):
            if kind == 'charge' and method in ('metered', 'average', 'norm'):
                counts[centre, service, period][method] += 1
        rows = pool.get('rkc.report.meter_coverage').search([])
        assert len(rows) == len(counts)
        for row in rows:
            count = counts[row.centre.id, row.service.id, row.period]
            assert (row.metered, row.average, row.norm) == (
                count['metered'], count['average'], count['norm'])
            assert row.lines == sum(count.values())
            assert row.metered_share == (Decimal(row.metered) * 100
                / row.lines).quantize(Decimal('0.1'))
        return sum(r.metered for r in rows), sum(r.norm for r in rows)
    metered, norm = in_tryton(database, check)
    assert metered and norm


def test_account_card_balances_and_search(database):
    def check(pool):
        Account = pool.get('rkc.account')
        Line = pool.get('rkc.ledger.line')
        accounts = [a for a in Account.search([]) if a.meters][:5]
        for account in accounts:
            lines = Line.search([('account', '=', account.id)])
            assert account.balance == sum(line.amount for line in lines)
            assert sum(s.balance or 0 for s in account.services) \
                == account.balance
            assert {r.meter for r in account.last_readings} \
                == {m for m in account.meters if m.readings}
            for reading in account.last_readings:
                assert reading.read_at == max(
                    r.read_at for r in reading.meter.readings)
            assert {t.period for t in account.recent_turnovers}
            assert all(p.kind == 'payment' for p in account.payments)
            building = account.premise.building
            found = Account.search([('rec_name', 'ilike',
                        f'%{building.street} {building.house}, кв. '
                        f'{account.premise.number}%')])
            assert account in found
            assert {f.premise for f in found} == {account.premise}
            surname = account.payer.name.split()[0]
            assert account in Account.search(
                [('rec_name', 'ilike', f'%{surname} {building.house}%')])
        assert not Account.search(
            [('rec_name', 'ilike', '%Несуществующая 999999%')])
        return len(accounts)
    assert in_tryton(database, check) == 5


def test_visit_kpis(database):
    def check(pool):
        Visit = pool.get('rkc.visit')
        Account = pool.get('rkc.account')
        Centre = pool.get('rkc.centre')
        OperatorKPI = pool.get('rkc.visit.kpi.operator')
        CentreKPI = pool.get('rkc.visit.kpi.centre')
        account = Account.search([], limit=1)[0]
        centre = account.centre
        Centre.write([centre], {'capacity': 50000})
        visit = Visit(account=account, purposes=['payment', 'reading'])
        visit.on_change_account()
        visit.save()
        assert (visit.centre, visit.state) == (centre, 'waiting')
        Visit.start([visit])
        Visit.finish([visit])
        assert visit.state == 'done' and visit.duration >= dt.timedelta(0)
        start = dt.datetime(2026, 3, 2, 9)
        for minutes in (10, 14, 20, 40):
            other = Visit(account=account, centre=centre, purposes=['receipt'])
            other.save()
            Visit.start([other])
            Visit.finish([other])
            Visit.write([other], {'started_at': start,
                    'ended_at': start + dt.timedelta(minutes=minutes)})
        row, = OperatorKPI.search([('month', '=', dt.date(2026, 3, 1))])
        assert (row.visits, row.average_minutes, row.goal_minutes,
            row.within_goal) == (4, Decimal('21.0'), Decimal('15.0'),
            Decimal('50.0'))
        assert row.operator.id == 1 and row.centre == centre
        row, = CentreKPI.search([('month', '=', dt.date(2026, 3, 1))])
        assert (row.visits, row.capacity, row.load) == (
            4, 50000, Decimal('0.0'))
    in_tryton(database, check)
