"""Entry points of the debt jobs (RQ or inline): one building of a penalty
run in one Tryton transaction."""
from rkc.jobs import chunk_job


def penalty_chunk(database, user, context, chunk_id):
    chunk_job('rkc.penalty.run.chunk', 'process', database, user, context,
        chunk_id)
