"""Entry points of the receipt jobs (RQ or inline): one building of a
receipt batch printed, or e-mailed, in one Tryton transaction."""
import traceback

from rkc import tryton_job


def _chunk_job(method, database, user, context, chunk_id):
    """Run a method of the chunk. A failure is recorded on the chunk for
    the desk, then raised for RQ to retry."""
    def run():
        from trytond.pool import Pool
        Chunk = Pool().get('rkc.receipt.batch.chunk')
        getattr(Chunk(chunk_id), method)()

    def record(failure):
        from trytond.pool import Pool
        Chunk = Pool().get('rkc.receipt.batch.chunk')
        Chunk.write([Chunk(chunk_id)], {
                'state': 'failed', 'failure': failure})
    try:
        tryton_job.transaction(run, database=database, user=user,
            context=context)
    except Exception:
        tryton_job.transaction(record, traceback.format_exc(limit=5),
            database=database, user=user, context=context)
        raise


def print_chunk(database, user, context, chunk_id):
    _chunk_job('print_', database, user, context, chunk_id)


def email_chunk(database, user, context, chunk_id):
    _chunk_job('email', database, user, context, chunk_id)


def finish_batch(database, user, context, batch_id):
    """Close the batch once its last chunk is printed, in a transaction of
    its own that sees the other chunks' commits."""
    def finish():
        from trytond.pool import Pool
        Pool().get('rkc.receipt.batch').finish_if_printed(batch_id)
    tryton_job.transaction(finish, database=database, user=user,
        context=context)
