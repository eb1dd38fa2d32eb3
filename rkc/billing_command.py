"""``rkc bill`` and ``rkc close-period``: the billing run from the console,
the same run the desk starts."""
import sys

from rkc import tryton_job


def _create_run(month, centre, building):
    from trytond.pool import Pool
    pool = Pool()
    Period = pool.get('rkc.period')
    Run = pool.get('rkc.billing.run')
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
    run, = Run.create([values])
    return run.id


def _start(run_id, preview):
    from trytond.pool import Pool
    Run = Pool().get('rkc.billing.run')
    run = Run(run_id)
    if preview:
        Run.preview([run])
    else:
        Run.post([run])


def _report(run_id):
    from trytond.pool import Pool
    Run = Pool().get('rkc.billing.run')
    run = Run(run_id)
    totals = {}
    for total in run.totals:
        key = (total.centre.rec_name, total.service.name, total.phase)
        amount, lines = totals.get(key, (0, 0))
        totals[key] = (amount + total.amount, lines + total.lines)
    return {
        'state': run.state, 'progress': run.progress,
        'failures': [(c.building.rec_name, c.failure) for c in run.chunks
            if c.state == 'failed'],
        'totals': sorted(
            (c, s, p, str(a), n) for (c, s, p), (a, n) in totals.items()),
        'errors': [(e.account.number if e.account else '',
                e.service.code if e.service else '', e.message)
            for e in run.errors],
        'outliers': len(run.outliers),
        }


def _state(run_id):
    from trytond.pool import Pool
    pool = Pool()
    Run = pool.get('rkc.billing.run')
    Chunk = pool.get('rkc.billing.run.chunk')
    run = Run(run_id)
    failed = Chunk.search([('run', '=', run_id), ('state', '=', 'failed')],
        count=True)
    return run.state, run.progress, failed


def _wait(run_id, database, context, out, poll=0.5):
    """Follow the run's chunks (inline or on RQ workers) until it is done,
    reading only its state so that following costs the workers nothing."""
    import time
    shown = None
    while True:
        state, progress, failed = tryton_job.transaction(
            _state, run_id, database=database, context=context,
            readonly=True)
        if state in ('done', 'previewed') or failed:
            return tryton_job.transaction(
                _report, run_id, database=database, context=context,
                readonly=True)
        if progress != shown:
            shown = progress
            print(f'run {run_id}: {shown:.0%}', file=out, flush=True)
        time.sleep(poll)


def bill(database, context, month, centre=None, building=None,
        preview=False, out=sys.stdout):
    from trytond.exceptions import UserError
    run_id = tryton_job.transaction(
        _create_run, month, centre, building, database=database,
        context=context)
    try:
        tryton_job.transaction(_start, run_id, preview, database=database,
            context=context)
    except UserError as error:
        print(f'refused: {error.message}', file=out)
        return 2
    report = _wait(run_id, database, context, out)
    print(f'run {run_id}: {report["state"]}, '
        f'{report["progress"]:.0%} of chunks done', file=out)
    for centre_name, service, phase, amount, lines in report['totals']:
        print(f'  {centre_name:<24} {service:<28} {amount:>14} '
            f'({lines} lines, {phase})', file=out)
    for number, service, message in report['errors'][:50]:
        print(f'  error {number} {service}: {message}', file=out)
    if len(report['errors']) > 50:
        print(f'  … {len(report["errors"]) - 50} more errors', file=out)
    print(f'  {report["outliers"]} outliers to review', file=out)
    for building, failure in report['failures']:
        print(f'  FAILED chunk {building}:\n{failure}', file=out)
    return 1 if report['failures'] else 0


def close_period(database, context, month, out=sys.stdout):
    from trytond.exceptions import UserError

    def close():
        from trytond.pool import Pool
        Period = Pool().get('rkc.period')
        period = Period.get_or_create(month)
        Period.close([period])
        return period.name
    try:
        name = tryton_job.transaction(
            close, database=database, context=context)
    except UserError as error:
        print(f'refused: {error.message}', file=out)
        return 2
    print(f'period {name} closed', file=out)
    return 0
