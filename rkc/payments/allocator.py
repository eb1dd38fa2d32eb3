"""The allocation of a registry's payments in a process of its own.

The importing process is the longest path of a big registry: it parses the
file, writes the payments and reads their accounts' sums, and allocating
the payments into about five subledger lines each, then formatting those
for COPY, took as much again. On two cores the allocation runs here, in a
second process, while the import writes the next batch; it reads nothing
(:mod:`rkc.engine.payment_lines`) and answers each batch with its lines
as COPY text and the earliest period they change of each account.

The import reads a batch's sums before the lines of the batch allocated
just before it are written; this process keeps those lines and counts
them in, as if they were in the table.
"""
import multiprocessing
import operator

from rkc.copy_text import copy_text
from rkc.engine.open_items import earliest_periods
from rkc.engine.payment_lines import subledger_rows, unwritten_sums

STOP = None


class AllocationProcess:
    """A process that allocates the batches it is sent, one at a time: a
    batch's result is taken before the next batch is submitted (both
    sides writing a message bigger than the pipe holds would wait for
    each other). Used as a context manager: leaving it stops the
    process."""

    def __init__(self, regulations, columns, user):
        """``columns`` are the subledger columns of the COPY, the last one
        being ``create_uid`` (``user``)."""
        # Spawned, not forked: the importing process has threads (the
        # reader, the database pool's) whose locks a fork would copy.
        context = multiprocessing.get_context('spawn')
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, regulations, columns[:-1], user),
            name='registry-allocation', daemon=True)
        self._process.start()
        child.close()
        self._submitted = False

    def submit(self, payments, sums, moves):
        """Allocate ``payments`` (Allocated) from ``sums`` (LedgerSums read
        before the lines of the batch submitted before were written) into
        the ``moves`` of their centres."""
        if self._submitted:
            raise RuntimeError('the result of the batch before is not taken')
        try:
            self._connection.send((payments, sums, moves))
        except OSError:  # a broken pipe, or reset if it died reading
            self._ended()
        self._submitted = True

    def result(self):
        """The COPY text of the lines of the batch submitted and their
        earliest period by account; what the allocation raised is raised
        here."""
        if not self._submitted:
            raise RuntimeError('no batch is submitted')
        self._submitted = False
        try:
            answer = self._connection.recv()
        except (EOFError, OSError):  # reset if it died with data unread
            self._ended()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def _ended(self):
        self._process.join(5)
        raise RuntimeError('the allocation process ended (exit code '
            f'{self._process.exitcode})') from None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._submitted:
            # Left with a batch in it (the import failed): its answer
            # would wait for a reader that is gone.
            self._process.kill()
        else:
            try:
                self._connection.send(STOP)
            except OSError:  # it ended already
                pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()


def _serve(connection, regulations, columns, user):
    "The process: batches in, COPY text (or what was raised) out."
    values = operator.itemgetter(*columns)
    unwritten = []
    while (message := connection.recv()) is not STOP:
        payments, sums, moves = message
        try:
            sums.rows.extend(unwritten_sums(
                    unwritten, {p.account for p in payments}))
            unwritten = subledger_rows(payments, sums, regulations, moves)
            answer = (copy_text((*values(row), user) for row in unwritten),
                earliest_periods(unwritten))
        except Exception as error:  # handed over to the import
            # The batch writes nothing; the one before is written by now.
            unwritten = []
            answer = error
        connection.send(answer)
    connection.close()
