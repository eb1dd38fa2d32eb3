"""The whole month on PostgreSQL with two RQ workers, stage by stage.

    .venv/bin/python bench/month.py --accounts 10000 100000 500000

Per scale, the demo town of ``bench/billing.py`` (``rkc demo --bulk``, no
month billed, kept as ``bench_billing_<N>``) is copied, and on the copy a
month runs: poll the simulated meter fleet (served by two processes), bill
last month, invoice its organisations, print its receipts, import a day of
payments (a registry of one line per 20 accounts), run its penalties, close
it. Prints each stage's time, items/s, the peak memory of the stage's
command and of the workers, and the month's time per account, so that how
the cost grows with the scale shows.
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import billing
import payments
import redis
from rq import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
import town  # noqa: E402

from rkc import setup, tryton_job  # noqa: E402

DAY_SHARE = 20  # accounts per payment line of a day's registry


class Month:
    "One month run on a copy of the town, stage by stage."

    def __init__(self, name, accounts, var, workers):
        self.name = name
        self.accounts = accounts
        self.var = var
        self.workers = workers
        self.env = town.environment(var, billing.REDIS_URL)
        self.month = billing.last_month()
        self.total = 0.0

    def stage(self, title, run):
        """Time ``run()``, which returns (items, unit, command peak KiB),
        and print the stage's line."""
        started = time.monotonic()
        items, unit, command_kib = run()
        elapsed = time.monotonic() - started
        self.total += elapsed
        workers = max(billing.peak_rss_kib(p.pid) for p in self.workers)
        command = (f'{command_kib / 1024:5.0f} MiB' if command_kib
            else '    - ')  # run in this process, by the workers
        print(f'{self.accounts:>7} accounts  {title:<9} {elapsed:8.1f} s '
            f'{items:>9} {unit:<9} {items / elapsed:>9,.0f}/s  peak '
            f'command {command}, workers {workers / 1024:5.0f} MiB',
            flush=True)

    def command(self, *args):
        "``rkc args`` on the copy; its output and its own peak memory."
        # Files, not pipes: the process is reaped by wait4 (for its peak
        # memory) before its output is read, and a full pipe would block it.
        with tempfile.TemporaryFile('w+') as out, \
                tempfile.TemporaryFile('w+') as err:
            process = subprocess.Popen(
                [sys.executable, '-m', 'rkc.cli', '-d', self.name, *args],
                env=self.env, cwd=town.ROOT, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, text=True)
            _, status, usage = os.wait4(process.pid, 0)
            out.seek(0)
            err.seek(0)
            output, errors = out.read(), err.read()
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(
                f'rkc {" ".join(args)} failed:\n{output}{errors}')
        return output, usage.ru_maxrss

    def meters(self):
        fleet = subprocess.Popen(
            [sys.executable, '-m', 'rkc.cli', '-d', self.name, 'meters',
                'simulate', '--from-db', '--processes', '2'], env=self.env,
            cwd=town.ROOT,
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            fleet.stdout.readline()
            since = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            output, peak = self.command('read-meters')
            chunks = json.loads(output.splitlines()[-1])['chunks']
            town.wait_for(lambda: self._polls(since)[0] == chunks,
                timeout=3600, poll=0.5, what='the polls done')
        finally:
            fleet.terminate()
            fleet.wait()
        return self._polls(since)[1], 'meters', peak

    def _polls(self, since):
        "Polls done since ``since`` and the meters they read."
        (done, read), = town.rows(self.name, """
            SELECT count(*), coalesce(sum(read_count), 0)
            FROM rkc_meter_poll WHERE state = 'done'
                AND create_date >= %s""", since)
        return done, read

    def bill(self):
        "The run until its chunks are done."
        self.run = billing.post_run(self.name, self.month, self.var)
        town.wait_for(lambda: billing.run_done(
                self.name, self.run, ('invoicing', 'done')),
            timeout=7200, poll=0.5, what=f'run {self.run} summarized')
        (billed,), = town.rows(self.name, """
            SELECT sum(accounts) FROM rkc_billing_run_chunk
            WHERE run = %s""", self.run)
        return billed, 'accounts', 0

    def invoices(self):
        """The run's organisation invoices and its general-ledger posting,
        until the run is done and the tasks Tryton queued for it (the
        invoices' printouts) are finished: measured before, the printouts
        kept the workers busy during the penalty run."""
        town.wait_for(lambda: billing.run_done(self.name, self.run),
            timeout=7200, poll=0.5, what=f'run {self.run} done')
        town.wait_for(lambda: town.rows(self.name, """
                SELECT count(*) FROM ir_queue
                WHERE finished_at IS NULL""")[0][0] == 0,
            timeout=7200, poll=0.5, what="Tryton's queued tasks done")
        (invoices,), = town.rows(self.name, """
            SELECT count(*) FROM rkc_account_invoice WHERE run = %s""",
            self.run)
        return invoices, 'invoices', 0

    def receipts(self):
        output, peak = self.command(
            'print-receipts', '--period', f'{self.month:%Y-%m}')
        summary = [line for line in output.splitlines()
            if ' receipts in ' in line][-1]
        printed = int(summary.split(': ', 1)[1].split()[0])
        return printed, 'receipts', peak

    def payments(self):
        town.execute(self.name, (payments.AGENT, ()))
        numbers = [n for n, in town.rows(self.name,
                'SELECT number FROM rkc_account ORDER BY number')]
        lines = max(1, self.accounts // DAY_SHARE)
        path = Path(self.var) / f'registry_{self.name}.txt'
        payments.registry(path, lines, numbers)
        _, peak = self.command('import-registry', str(path), '--agent',
            'BENCH', '--format', 'sberbank')
        return lines, 'payments', peak

    def penalties(self):
        def start():
            from trytond.pool import Pool
            pool = Pool()
            Period = pool.get('rkc.period')
            Run = pool.get('rkc.penalty.run')
            run, = Run.create([{
                        'period': Period.get_or_create(self.month).id}])
            Run.run([run])
            return run.id
        run = tryton_job.transaction(start, database=self.name, user=1,
            context={'company': tryton_job.transaction(
                    setup.company_id, database=self.name)})
        town.wait_for(lambda: town.rows(self.name,
                'SELECT state FROM rkc_penalty_run WHERE id = %s',
                run)[0][0] == 'done', timeout=3600, poll=0.5,
            what='the penalty run done')
        (accounts,), = town.rows(self.name, """
            SELECT coalesce(sum(accounts), 0) FROM rkc_penalty_run_chunk
            WHERE run = %s""", run)
        return accounts, 'accounts', 0

    def close(self):
        _, peak = self.command(
            'close-period', '--period', f'{self.month:%Y-%m}')
        return self.accounts, 'accounts', peak


def bench(accounts, var):
    template = billing.bench_town(accounts, var)
    name = f'bench_month_{accounts}'
    town.drop(name)
    town.copy(template, name)
    jobs = redis.Redis.from_url(billing.REDIS_URL)
    jobs.flushdb()
    try:
        env = town.environment(var, billing.REDIS_URL)
        with town.workers(name, env, billing.WORKERS) as workers:
            town.wait_for(lambda: len(Worker.all(connection=jobs))
                == billing.WORKERS, what='the workers ready')
            month = Month(name, accounts, var, workers)
            for title in ('meters', 'bill', 'invoices', 'receipts',
                    'payments', 'penalties', 'close'):
                month.stage(title, getattr(month, title))
        print(f'{accounts:>7} accounts  month     {month.total:8.1f} s '
            f'= {month.total / accounts * 1000:.2f} ms per account',
            flush=True)
    finally:
        jobs.flushdb()
        town.drop(name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--accounts', type=int, nargs='+',
        default=[10000, 100000, 500000])
    args = parser.parse_args(argv)
    var = Path(tempfile.mkdtemp(prefix='bench_month_'))
    # The workers' configuration, which the stages run in-process share.
    os.environ['RKC_REDIS_URL'] = billing.REDIS_URL
    for accounts in args.accounts:
        bench(accounts, var)


if __name__ == '__main__':
    main()
