"""Organisations' invoices and building announcements on a billed demo town
in PostgreSQL: a month billed for a building with an organisation account
gives it one posted Tryton invoice (VAT on the taxed service) that replaces
the GL summary, so the subledger still equals the control account per
centre; the step run again creates nothing. The announcement prints one
page per account of a building in delivery order."""
import io
import subprocess
from collections import defaultdict
from decimal import Decimal

import pytest
from test_reports import database, in_tryton  # noqa: F401

from rkc import billing_command, setup, tryton_job
from rkc.engine.dated import add_months
from rkc_utilities import account_invoice

pytestmark = pytest.mark.postgresql

VAT = Decimal('0.20')


def _organisation_with_vat(pool):
    """A household account of the latest billed month becomes an
    organisation; one of its services' products carries 20 % VAT. Returns
    the account, the taxed service, the month to bill next."""
    Line = pool.get('rkc.ledger.line')
    Account = pool.get('rkc.account')
    Building = pool.get('rkc.building')
    Tax = pool.get('account.tax')
    AccountAccount = pool.get('account.account')
    Category = pool.get('product.category')
    Template = pool.get('product.template')
    lines = Line.search([('kind', '=', 'charge'),
            ('account.organisation', '=', False), ('amount', '>', 0)],
        order=[('period', 'DESC'), ('account', 'ASC')])
    account = lines[0].account
    month = lines[0].period
    services = sorted({line.service for line in lines
            if line.account == account and line.period == month},
        key=lambda s: s.id)
    assert len(services) > 1
    Account.write([account], {'organisation': True})
    # Heating by the norm: the demo's building meters have no readings
    # past its last month.
    Building.write([account.premise.building], {'heat_meter': False})
    payable, = AccountAccount.search([('code', '=', '62.02')])
    vat_account, = AccountAccount.create([{
                'code': '68.02', 'name': 'НДС', 'type': payable.type.id,
                'company': payable.company.id}])
    tax, = Tax.create([{
                'name': 'НДС 20%', 'description': 'НДС 20%',
                'type': 'percentage', 'rate': VAT,
                'company': payable.company.id,
                'invoice_account': vat_account.id,
                'credit_note_account': vat_account.id}])
    taxed = services[0]
    template = taxed.product.template
    category, = Category.copy([template.account_category],
        default={'name': 'Услуги с НДС'})
    Category.write([category], {'customer_taxes': [('add', [tax.id])]})
    Template.write([template], {'account_category': category.id})
    return (account.id, account.premise.building.id, taxed.id,
        add_months(month, 1).isoformat())


def _invoice_state(pool, account_id):
    Line = pool.get('rkc.ledger.line')
    Record = pool.get('rkc.account.invoice')
    records = Record.search([('account', '=', account_id)],
        order=[('period', 'DESC')])
    record = records[0]
    invoice = record.invoice
    lines = Line.search([('account', '=', account_id),
            ('period', '=', record.period.start_date)])
    charges = defaultdict(Decimal)
    vat = defaultdict(Decimal)
    for line in lines:
        assert line.move == invoice.move
        (vat if line.method == 'vat' else charges)[line.service.id] += (
            line.amount)
    return {
        'records': len(records), 'state': invoice.state,
        'account': invoice.account.code, 'party': invoice.party.id,
        'payer': record.account.payer.id,
        'lines': {line.product.id: line.amount for line in invoice.lines},
        'products': {s: pool.get('rkc.service')(s).product.id
            for s in charges},
        'charges': {s: str(a) for s, a in charges.items()},
        'vat': {s: str(a) for s, a in vat.items()},
        'taxes': [(t.tax.rate, t.base, t.amount) for t in invoice.taxes],
        'tax_amount': invoice.tax_amount, 'total': invoice.total_amount,
        'run': record.run.id,
        }


def _balances(pool):
    Line = pool.get('rkc.ledger.line')
    Posting = pool.get('rkc.ledger.posting')
    return [(c.id, Line.balance(c.id, summarized=True),
            Posting.control_balance(c.id), r.difference)
        for c, r in ((r.centre, r) for r in pool.get(
                    'rkc.ledger.reconciliation').search([]))]


def test_organisation_invoice_replaces_the_summary(database):  # noqa: F811
    import datetime as dt
    account, building, taxed, month = in_tryton(
        database, _organisation_with_vat)
    company = in_tryton(database, lambda pool: setup.company_id())
    out = io.StringIO()
    assert billing_command.bill(database, {'company': company},
        dt.date.fromisoformat(month), building=building, out=out) == 0, \
        out.getvalue()
    state = in_tryton(database, _invoice_state, account)
    assert state['records'] == 1 and state['state'] == 'posted'
    assert state['account'] == '62.01' and state['party'] == state['payer']
    charges = {s: Decimal(a) for s, a in state['charges'].items()}
    assert {state['products'][s]: a for s, a in charges.items() if a} \
        == state['lines']
    rate, base, tax = state['taxes'][0]
    assert len(state['taxes']) == 1 and rate == VAT
    assert base == charges[taxed]
    assert tax == (base * VAT).quantize(Decimal('0.01')) > 0
    assert state['vat'] == {taxed: str(tax)}
    assert state['total'] == sum(charges.values()) + tax
    # The fixture's payments are left unsummarized: compare what is.
    for centre, summarized, control, difference in in_tryton(
            database, _balances):
        assert summarized == control and difference == 0, centre

    def again(pool):
        Run = pool.get('rkc.billing.run')
        return len(pool.get('rkc.account.invoice').invoice_run(
                Run(state['run'])))
    assert in_tryton(database, again) == 0
    assert in_tryton(database, _invoice_state, account) == state


def test_invoice_printed_by_tryton_report(database):  # noqa: F811
    def report(pool):
        Record = pool.get('rkc.account.invoice')
        record, = Record.search([], limit=1)
        Report = pool.get('account.invoice', type='report')
        ext, content, _, _ = Report.execute([record.invoice.id], {})
        return ext, len(content), record.invoice.number
    ext, size, number = in_tryton(database, report)
    assert ext == 'odt' and size > 1000 and number


def _announce(pool, building_id, data):
    from rkc.documents import from_ledger
    Report = pool.get('rkc.building.announcement', type='report')
    ext, content, _, _ = Report.execute([building_id], data)
    numbers = [number for _, _, _, number in from_ledger.addressees(
            [building_id], data['date'])]
    return ext, bytes(content).hex(), numbers


def test_announcement_one_page_per_account(database, tmp_path):  # noqa: F811
    import datetime as dt
    building = in_tryton(database, lambda pool: pool.get(
            'rkc.building').search([], limit=1)[0].id)
    data = {'title': 'Плановое отключение горячей воды',
        'text': 'Горячей воды не будет.\n\nПриносим извинения.',
        'starts': dt.date(2026, 6, 1), 'ends': dt.date(2026, 6, 14),
        'date': dt.date.today()}
    ext, content, numbers = in_tryton(database, _announce, building, data)
    pdf = tmp_path / 'announcement.pdf'
    pdf.write_bytes(bytes.fromhex(content))
    text = subprocess.run(['pdftotext', '-layout', str(pdf), '-'],
        capture_output=True, text=True, check=True).stdout
    pages = [p for p in text.split('\f') if p.strip()]
    assert ext == 'pdf' and numbers and len(pages) == len(numbers)
    for page, number in zip(pages, numbers, strict=True):
        assert f'Лицевой счёт № {number}' in page
        assert 'ПЛАНОВОЕ ОТКЛЮЧЕНИЕ ГОРЯЧЕЙ ВОДЫ' in page
        assert 'Горячей воды не будет.' in page
        assert 'Срок: с 01.06.2026 по 14.06.2026.' in page


def test_announcement_for_a_building_without_accounts(database):  # noqa: F811
    import datetime as dt

    def empty(pool):
        from trytond.exceptions import UserError
        Building = pool.get('rkc.building')
        building, = Building.copy(Building.search([], limit=1),
            default={'premises': None})
        try:
            _announce(pool, building.id, {'title': 'T', 'text': 'x',
                    'starts': dt.date(2026, 6, 1), 'date': dt.date.today()})
        except UserError as error:
            return error.message, building.rec_name
    message, name = in_tryton(database, empty)
    assert name in message


def _household_turned_organisation(pool):
    """An account of the latest billed month, in a building no later run
    billed, becomes an organisation (no VAT). Returns the account, its
    building and the month to bill next."""
    Line = pool.get('rkc.ledger.line')
    Account = pool.get('rkc.account')
    Building = pool.get('rkc.building')
    latest = Line.search([('kind', '=', 'charge')],
        order=[('period', 'DESC')], limit=1)[0].period
    for line in Line.search([('kind', '=', 'charge'),
                ('period', '=', latest), ('amount', '>', 0),
                ('account.organisation', '=', False)],
            order=[('account', 'DESC')]):
        building = line.account.premise.building
        if not Line.search([('period', '>', latest),
                    ('account.premise.building', '=', building.id)]):
            break
    account = line.account
    Account.write([account], {'organisation': True})
    Building.write([building], {'heat_meter': False})
    return account.id, building.id, add_months(latest, 1).isoformat()


def _revenue_accounts(pool, account_id, accounts):
    """Set the revenue account of the product categories of the account's
    charged services to ``accounts`` ({category: account id}, or None for
    none); returns what they had."""
    Line = pool.get('rkc.ledger.line')
    Category = pool.get('product.category')
    categories = {line.service.product.template.account_category
        for line in Line.search([
                ('account', '=', account_id), ('kind', '=', 'charge')])}
    before = {c.id: getattr(c.account_revenue, 'id', None)
        for c in categories}
    for category in categories:
        Category.write([category], {'account_revenue':
                accounts[category.id] if accounts else None})
    return before


def _run_view(pool, run_id):
    """The run's state, its organisations, the accounts whose lines are
    in no move (households' lines are written into the run's prepared
    moves), whether any line is not in the GL yet, the accounts
    invoiced."""
    Run = pool.get('rkc.billing.run')
    Line = pool.get('rkc.ledger.line')
    run = Run(run_id)
    lines = Line.search([('origin', '=', str(run))])
    return {
        'state': run.state,
        'organisations': sorted({line.account.id for line in lines
                if line.account.organisation}),
        'pending': sorted({line.account.id for line in lines
                if line.move is None}),
        'unposted': any(line.move is None or line.move.state != 'posted'
            for line in lines),
        'invoiced': sorted(r.account.id for r in pool.get(
                'rkc.account.invoice').search([('run', '=', run_id)])),
        }


def test_organisations_invoiced_before_the_run_is_posted(
        database, monkeypatch):  # noqa: F811
    """The run writes its households' lines into its prepared moves, then
    stops in "invoicing" until its own job invoices the organisation and
    posts the run; Resume queues that job again, and the job run twice
    invoices once."""
    import datetime as dt

    from redis import Redis
    from rq import Queue

    from rkc import queue
    url = 'redis://127.0.0.1:6379/10'
    jobs = Redis.from_url(url)
    jobs.flushdb()
    monkeypatch.setenv('RKC_REDIS_URL', url)
    monkeypatch.setattr(account_invoice, 'PRINTOUTS_PER_TASK', 1)
    account, building, month = in_tryton(
        database, _household_turned_organisation)
    context = {'company': in_tryton(
            database, lambda pool: setup.company_id())}
    run = tryton_job.transaction(billing_command._create_run,
        dt.date.fromisoformat(month), None, building, database=database,
        context=context)
    tryton_job.transaction(billing_command._start, run, False,
        database=database, context=context)
    rq_queue = Queue(queue.QUEUE_NAME, connection=jobs)

    def perform_until(method):
        "Run the queued jobs in turn up to the first call of ``method``."
        while True:
            job = rq_queue.dequeue_any([rq_queue], None,
                connection=jobs)[0]
            if job.func_name == 'rkc.jobs.call' and job.args[4] == method:
                return job
            job.perform()

    invoicing = perform_until('invoice_organisations')
    view = in_tryton(database, _run_view, run)
    assert account in view['organisations']
    assert view == {'state': 'invoicing', 'invoiced': [],
        'organisations': view['organisations'],
        'pending': view['organisations'], 'unposted': True}
    # The accountant left a product category without its revenue account:
    # the invoicing job fails, the run says why and stays in invoicing.
    revenue = in_tryton(database, _revenue_accounts, account, None)
    with pytest.raises(Exception, match='Счет доходов'):
        invoicing.perform()
    failed = in_tryton(database, lambda pool: pool.get('rkc.billing.run')(
            run).failure)
    assert 'Счет доходов' in failed and 'Traceback' in failed
    assert in_tryton(database, _run_view, run) == view
    in_tryton(database, _revenue_accounts, account, revenue)
    in_tryton(database, lambda pool: pool.get('rkc.billing.run').resume(
            [pool.get('rkc.billing.run')(run)]))
    again = perform_until('invoice_organisations')
    invoicing.perform()
    assert in_tryton(database, lambda pool: pool.get('rkc.billing.run')(
            run).failure) is None
    again.perform()
    # Tryton's tasks caching the invoices' printouts are jobs of their
    # own, one per slice of invoices, for any worker to take.
    tasks = rq_queue.get_jobs()
    assert len(tasks) == len(view['organisations'])
    assert {job.func_name for job in tasks} == {
        'rkc.tryton_job.run_queued_task'}
    for task in tasks:
        task.perform()
    assert in_tryton(database, lambda pool: [
            bool(r.invoice.invoice_report_cache) for r in pool.get(
                'rkc.account.invoice').search([('run', '=', run)])]) == [
        True] * len(view['organisations'])
    assert in_tryton(database, _run_view, run) == {'state': 'done',
        'organisations': view['organisations'], 'pending': [],
        'unposted': False, 'invoiced': view['organisations']}
    for centre, summarized, control, difference in in_tryton(
            database, _balances):
        assert summarized == control and difference == 0, centre
    jobs.flushdb()


def _run_with_a_line_in_no_move(pool):
    """A draft run of a building whose households' lines went into the
    run's prepared move and one line into none (an organisation's that no
    invoice took); the run posted. Returns its moves and postings."""
    Run = pool.get('rkc.billing.run')
    Period = pool.get('rkc.period')
    Line = pool.get('rkc.ledger.line')
    Posting = pool.get('rkc.ledger.posting')
    line = Line.search([('kind', '=', 'charge'), ('amount', '>', 0)],
        order=[('period', 'DESC')], limit=1)[0]
    accounts = pool.get('rkc.account').search([
            ('premise.building', '=', line.account.premise.building.id)],
        limit=3)
    period = Period.get_or_create(add_months(line.period, 1))
    run, = Run.create([{'period': period.id, 'scope': 'building',
                'building': line.account.premise.building.id}])
    moves = run.prepare_moves([a.centre.id for a in accounts])
    Line.insert_rows([{
                'account': a.id, 'centre': a.centre.id,
                'service': line.service.id, 'period': period.start_date,
                'date': period.end_date, 'kind': 'charge',
                'amount': Decimal('10.00') * (i + 1), 'volume': None,
                'tariff': None, 'excess': None, 'method': 'test',
                'basis': '{}', 'origin': str(run), 'part': 0,
                'move': moves[a.centre.id] if i else None}
            for i, a in enumerate(accounts)])
    run.summarize()
    run.summarize()
    lines = Line.search([('origin', '=', str(run))])
    return ({(line.move.id if line.move else None, line.move.state
                if line.move else None) for line in lines},
        [(p.centre.id, p.move.id, p.amount) for p in Posting.search([
                    ('origin', '=', str(run))])],
        [a.centre.id for a in accounts])


def test_line_in_no_move_joins_the_run_move(database):  # noqa: F811
    """Posting a run puts the lines that are in no move into its prepared
    move of their centre: one posted move per centre, every line in it,
    and posting again changes nothing."""
    moves, postings, centres = in_tryton(
        database, _run_with_a_line_in_no_move)
    assert len(set(centres)) == len(postings) == len(moves)
    assert all(state == 'posted' for _, state in moves)
    assert {move for move, _ in moves} == {m for _, m, _ in postings}
    assert sum(amount for _, _, amount in postings) == Decimal('60.00')
