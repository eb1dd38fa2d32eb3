"""Entry points of the notification jobs (RQ or inline): a campaign's run
created with its messages, then handed over in chunks, one Tryton
transaction each, so that a crash repeats at most one chunk."""
import datetime as dt

from rkc import tryton_job

# Accounts whose messages are created in one transaction.
ACCOUNT_CHUNK = 1000


def run_campaign(database, user, context, campaign_id, date=None):
    """Start the campaign's run of ``date`` (default today), add its
    messages by chunks of accounts and send what is due; returns the run's
    id, or None when there is no occasion."""
    from trytond.pool import Pool
    date = date or dt.date.today()

    def start():
        Campaign = Pool().get('rkc.notification.campaign')
        run, account_ids = Campaign(campaign_id).start(date)
        return run and run.id, account_ids

    def add(account_ids):
        Run = Pool().get('rkc.notification.run')
        Run(run_id).add_messages(date, account_ids)
    run_id, account_ids = tryton_job.transaction(start, database=database,
        user=user, context=context)
    if run_id is None:
        return None
    for index in range(0, len(account_ids), ACCOUNT_CHUNK):
        tryton_job.transaction(add,
            account_ids[index:index + ACCOUNT_CHUNK], database=database,
            user=user, context=context)
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
