"""Entry points of the background jobs (RQ or inline): plain arguments in,
one Tryton transaction with the retry loop per job."""
import traceback

from rkc import tryton_job


def chunk_job(model, method, database, user, context, chunk_id, *args):
    """Run ``method(*args)`` of the chunk ``chunk_id`` of ``model`` (a
    building of a run or batch). A failure is recorded on the chunk for
    the desk, then raised for RQ to retry."""
    def run():
        from trytond.pool import Pool
        Chunk = Pool().get(model)
        getattr(Chunk(chunk_id), method)(*args)

    def record(failure):
        from trytond.pool import Pool
        Chunk = Pool().get(model)
        Chunk.write([Chunk(chunk_id)], {
                'state': 'failed', 'failure': failure})
    _recording_failure(run, record, database, user, context)


def _recording_failure(run, record, database, user, context):
    """``run()`` in a transaction; if it fails, ``record(traceback)`` in
    another one (the first is rolled back), then the failure is raised
    for RQ to retry."""
    try:
        tryton_job.transaction(run, database=database, user=user,
            context=context)
    except Exception:
        tryton_job.transaction(record, traceback.format_exc(limit=5),
            database=database, user=user, context=context)
        raise


def process_chunk(database, user, context, phase, chunk_id):
    "Preview or post one chunk (building) of a billing run."
    chunk_job('rkc.billing.run.chunk', 'process', database, user, context,
        chunk_id, phase)


def call(database, user, context, model, method, record_id, *args):
    """The job calling the classmethod ``model.method(record_id, *args)``
    in a transaction of its own, e.g. closing a run once its chunks are
    committed: the chunks' transactions neither wait for nor retry on the
    run's lock, and a fresh transaction sees all their commits. A model
    with a ``failure`` field (JobFailureMixin) gets the failure recorded
    for the desk, then RQ retries; success clears it."""
    def run():
        from trytond.pool import Pool
        Model = Pool().get(model)
        getattr(Model, method)(record_id, *args)
        if 'failure' in Model._fields and Model(record_id).failure:
            Model.write([Model(record_id)], {'failure': None})

    def record(failure):
        from trytond.pool import Pool
        Model = Pool().get(model)
        if 'failure' in Model._fields:
            Model.write([Model(record_id)], {'failure': failure})
    _recording_failure(run, record, database, user, context)


def preview_recalculation(database, user, context, recalculation_id,
        building_id):
    "Preview the lines of one building of a building-wide recalculation."
    def run():
        from trytond.pool import Pool
        Recalculation = Pool().get('rkc.recalculation')
        Recalculation(recalculation_id).compute_building(building_id)
    tryton_job.transaction(run, database=database, user=user,
        context=context)
