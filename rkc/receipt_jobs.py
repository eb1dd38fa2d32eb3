"""Entry points of the receipt jobs (RQ or inline): one building of a
receipt batch printed, or e-mailed, in one Tryton transaction."""
from rkc.jobs import chunk_job

CHUNK = 'rkc.receipt.batch.chunk'


def print_chunk(database, user, context, chunk_id):
    chunk_job(CHUNK, 'print_', database, user, context, chunk_id)


def email_chunk(database, user, context, chunk_id):
    chunk_job(CHUNK, 'email', database, user, context, chunk_id)
