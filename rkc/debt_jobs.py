"""Entry points of the debt jobs (RQ or inline): one building of a penalty
run, and the monitoring of restructuring agreements, each in one Tryton
transaction."""
import traceback

from rkc import tryton_job


def _chunk_job(model, method, database, user, context, chunk_id):
    """Run a method of a chunk record. A failure is recorded on the chunk
    for the desk, then raised for RQ to retry."""
    def run():
        from trytond.pool import Pool
        Chunk = Pool().get(model)
        getattr(Chunk(chunk_id), method)()

    def record(failure):
        from trytond.pool import Pool
        Chunk = Pool().get(model)
        Chunk.write([Chunk(chunk_id)], {
                'state': 'failed', 'failure': failure})
    try:
        tryton_job.transaction(run, database=database, user=user,
            context=context)
    except Exception:
        tryton_job.transaction(record, traceback.format_exc(limit=5),
            database=database, user=user, context=context)
        raise


def penalty_chunk(database, user, context, chunk_id):
    _chunk_job('rkc.penalty.run.chunk', 'process', database, user, context,
        chunk_id)


def finish_penalty_run(database, user, context, run_id):
    """Close the penalty run once its last chunk is done, in a transaction
    of its own that sees the other chunks' commits."""
    def finish():
        from trytond.pool import Pool
        Pool().get('rkc.penalty.run').finish_if_done(run_id)
    tryton_job.transaction(finish, database=database, user=user,
        context=context)
