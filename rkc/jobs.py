"""Entry points of the background jobs (RQ or inline): plain arguments in,
one Tryton transaction with the retry loop per job."""
import traceback

from rkc import tryton_job


def process_chunk(database, user, context, phase, chunk_id):
    """Preview or post one chunk (building) of a billing run. A failure is
    recorded on the chunk for the desk, then raised for RQ to retry."""
    def run():
        from trytond.pool import Pool
        Chunk = Pool().get('rkc.billing.run.chunk')
        Chunk(chunk_id).process(phase)

    def record(failure):
        from trytond.pool import Pool
        Chunk = Pool().get('rkc.billing.run.chunk')
        Chunk.write([Chunk(chunk_id)], {
                'state': 'failed', 'failure': failure})
    try:
        tryton_job.transaction(run, database=database, user=user,
            context=context)
    except Exception:
        tryton_job.transaction(record, traceback.format_exc(limit=5),
            database=database, user=user, context=context)
        raise


def preview_recalculation(database, user, context, recalculation_id,
        building_id):
    "Preview the lines of one building of a building-wide recalculation."
    def run():
        from trytond.pool import Pool
        Recalculation = Pool().get('rkc.recalculation')
        Recalculation(recalculation_id).compute_building(building_id)
    tryton_job.transaction(run, database=database, user=user,
        context=context)
