"""``rkc notify --campaign ID``: run a notification campaign from the
console (or a system timer), the same job the desk's button queues."""
import sys

from rkc import queue, tryton_job


def _counts(run_id):
    from trytond.pool import Pool
    Run = Pool().get('rkc.notification.run')
    run = Run(run_id)
    return run.rec_name, {state: getattr(run, state) for state in (
            'queued', 'sent', 'delivered', 'failed', 'skipped')}


def notify(database, context, campaign_id, date=None, out=sys.stdout):
    from trytond.exceptions import UserError
    try:
        result = queue.enqueue('rkc.notify_jobs.run_campaign', database,
            0, context, campaign_id, date)
    except UserError as error:
        print(f'refused: {error.message}', file=out)
        return 2
    if queue.queue() is not None:
        print(f'queued as job {result.id}', file=out)
    elif result is None:
        print(f'campaign {campaign_id}: nothing to send on this date',
            file=out)
    else:
        name, counts = tryton_job.transaction(_counts, result,
            database=database, context=context, readonly=True)
        print(f'run {result} ({name}): ' + ', '.join(
                f'{state} {count}' for state, count in counts.items()),
            file=out)
    return 0


def command(args):
    "The ``rkc notify`` subcommand."
    from rkc.tryton_commands import _company_context, _prepare
    _, name = _prepare(args)
    return notify(name, _company_context(name), args.campaign, args.date)
