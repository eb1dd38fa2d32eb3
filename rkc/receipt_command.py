"""``rkc print-receipts``: bulk printing of a month's receipts from the
console, the same receipt batch the desk starts, optionally e-mailed."""
import sys
import time

from rkc import tryton_job


def _create_batch(month, centre, building):
    from trytond.pool import Pool
    pool = Pool()
    Period = pool.get('rkc.period')
    Batch = pool.get('rkc.receipt.batch')
    Centre = pool.get('rkc.centre')
    period = Period.get_or_create(month)
    values = {'period': period.id, 'scope': 'all'}
    if centre:
        centres = Centre.search([('code', '=', centre)], limit=1)
        if not centres:
            raise SystemExit(f'no centre with code {centre}')
        values.update(scope='centre', centre=centres[0].id)
    elif building:
        values.update(scope='building', building=building)
    batch, = Batch.create([values])
    return batch.id


def _start(batch_id, action):
    from trytond.pool import Pool
    Batch = Pool().get('rkc.receipt.batch')
    getattr(Batch, action)([Batch(batch_id)])


def _report(batch_id):
    from trytond.pool import Pool
    Batch = Pool().get('rkc.receipt.batch')
    batch = Batch(batch_id)
    return {
        'state': batch.state, 'progress': batch.progress,
        'directory': batch.directory,
        'pages': sum(c.pages or 0 for c in batch.chunks),
        'files': [f for c in batch.chunks if c.files
            for f in c.files.splitlines()],
        'failures': [(c.building.rec_name, c.failure)
            for c in batch.chunks if c.state == 'failed'],
        'deliveries': [(d.account.number, d.email, d.state, d.error or '')
            for d in batch.deliveries],
        }


def _wait(batch_id, database, context, out, done, poll=0.5):
    "Follow the batch's jobs (inline or on RQ workers) until ``done``."
    shown = None
    while True:
        report = tryton_job.transaction(_report, batch_id,
            database=database, context=context, readonly=True)
        if done(report) or report['failures']:
            return report
        if report['progress'] != shown:
            shown = report['progress']
            print(f'batch {batch_id}: {shown:.0%}', file=out, flush=True)
        time.sleep(poll)


def print_receipts(database, context, month, centre=None, building=None,
        email=False, out=sys.stdout):
    from trytond.exceptions import UserError
    batch_id = tryton_job.transaction(_create_batch, month, centre,
        building, database=database, context=context)
    try:
        tryton_job.transaction(_start, batch_id, 'print_',
            database=database, context=context)
    except UserError as error:
        print(f'refused: {error.message}', file=out)
        return 2
    report = _wait(batch_id, database, context, out,
        lambda r: r['state'] == 'done')
    if email and not report['failures']:
        consenting = _consenting(batch_id, database, context)
        tryton_job.transaction(_start, batch_id, 'send',
            database=database, context=context)
        report = _wait(batch_id, database, context, out,
            lambda r: len(r['deliveries']) >= consenting)
    print(f'batch {batch_id}: {report["pages"]} receipts in '
        f'{len(report["files"])} files under {report["directory"]}',
        file=out)
    for path in report['files']:
        print(f'  {path}', file=out)
    for number, address, state, error in report['deliveries']:
        print(f'  e-mail {number} {address}: {state} {error}', file=out)
    for building_name, failure in report['failures']:
        print(f'  FAILED {building_name}:\n{failure}', file=out)
    return 1 if report['failures'] else 0


def _consenting(batch_id, database, context):
    "How many accounts of the batch get their receipt by e-mail."
    def count():
        from trytond.pool import Pool
        from rkc.documents.from_ledger import accounts_of_buildings
        pool = Pool()
        Batch = pool.get('rkc.receipt.batch')
        Account = pool.get('rkc.account')
        batch = Batch(batch_id)
        return Account.search([
                ('id', 'in', accounts_of_buildings(
                        batch.buildings(), batch.period.start_date)),
                ('email_consent', '=', True), ('email', '!=', None)],
            count=True)
    return tryton_job.transaction(count, database=database,
        context=context, readonly=True)


def command(args):
    "The ``rkc print-receipts`` subcommand."
    from rkc.tryton_commands import _company_context, _prepare
    _, name = _prepare(args)
    return print_receipts(name, _company_context(name), args.period,
        centre=args.centre, building=args.building, email=args.email)
