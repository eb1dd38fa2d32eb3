"""Entry points of the notification jobs (RQ or inline): a campaign's run
created with its messages, then handed over in chunks, one Tryton
transaction each, so that a crash repeats at most one chunk."""
import datetime as dt

from rkc import tryton_job


def run_campaign(database, user, context, campaign_id, date=None):
    """Start the campaign's run of ``date`` (default today) and send what
    is due; returns the run's id, or None when there is no occasion."""
    def start():
        from trytond.pool import Pool
        Campaign = Pool().get('rkc.notification.campaign')
        run = Campaign(campaign_id).start(date or dt.date.today())
        return run and run.id
    run_id = tryton_job.transaction(start, database=database, user=user,
        context=context)
    if run_id is not None:
        send_run(database, user, context, run_id)
    return run_id


def send_run(database, user, context, run_id, now=None):
    """Hand over the run's messages due at ``now`` (naive UTC, default the
    current time); returns how many were taken."""
    def chunk():
        from trytond.pool import Pool

        from rkc.notify.quiet import utc_now
        Run = Pool().get('rkc.notification.run')
        return Run(run_id).send_due(now or utc_now())
    total = 0
    while taken := tryton_job.transaction(chunk, database=database,
            user=user, context=context):
        total += taken
    return total
