"""``rkc`` subcommands that need Tryton: the database, the demo, the server."""
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rkc import settings, tryton_job

MODULE = 'rkc_utilities'
DEMO_PASSWORD = 'admin'


def _bin(name):
    "A console script installed beside the running interpreter."
    return str(Path(sys.executable).with_name(name))


def _prepare(args, port=8000):
    conf = settings.config_file(args.config, port=port)
    os.environ['TRYTOND_CONFIG'] = conf
    tryton_job.configure(conf)
    return conf, tryton_job.database_name(args.database)


def _maintenance_connection():
    "An autocommit connection to the server's maintenance database."
    import psycopg
    from trytond import backend
    return psycopg.connect(
        **backend.Database._connection_params('postgres'), autocommit=True)


def create_database(name, drop=False):
    """Create an empty database for trytond-admin to initialise (it does not
    create PostgreSQL databases itself)."""
    from trytond.config import config
    uri = config.get('database', 'uri')
    if uri.startswith('sqlite'):
        path = Path(config.get('database', 'path')) / f'{name}.sqlite'
        if drop and path.exists():
            path.unlink()
        path.touch()
        return
    from psycopg import sql
    with _maintenance_connection() as conn:
        if drop:
            conn.execute(sql.SQL(
                    'DROP DATABASE IF EXISTS {} WITH (FORCE)').format(
                    sql.Identifier(name)))
        exists = conn.execute(
            'SELECT 1 FROM pg_database WHERE datname = %s',
            (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL('CREATE DATABASE {}').format(
                    sql.Identifier(name)))


def admin(conf, name, *options, password=DEMO_PASSWORD):
    "Run trytond-admin with the admin password given non-interactively."
    with tempfile.NamedTemporaryFile('w', suffix='.pass') as passfile:
        passfile.write(password)
        passfile.flush()
        env = dict(os.environ, TRYTONPASSFILE=passfile.name)
        subprocess.run(
            [_bin('trytond-admin'), '-c', conf, '-d', name, *options],
            check=True, env=env, input='\n', text=True)


def db(args):
    conf, name = _prepare(args)
    if args.action == 'create':
        create_database(name)
        admin(conf, name, '--all', '-u', MODULE, '--activate-dependencies',
            '-l', 'ru')
        from rkc import setup
        tryton_job.transaction(setup.company_and_accounts, database=name)
    else:
        admin(conf, name, '-u', MODULE, '--activate-dependencies')
    print(f'database "{name}" ready')


def _company_context(name):
    from rkc import setup
    return {'company': tryton_job.transaction(
            setup.company_id, database=name)}


def bill(args):
    "Create and run a billing run; print its totals and errors."
    from rkc import billing_command
    _, name = _prepare(args)
    return billing_command.bill(name, _company_context(name), args.period,
        centre=args.centre, building=args.building, preview=args.preview)


def close_period(args):
    from rkc import billing_command
    _, name = _prepare(args)
    return billing_command.close_period(
        name, _company_context(name), args.period)


def fold_open_items(args):
    "Fold the open items of the accounts changed since their fold."
    _, name = _prepare(args)
    tryton_job.transaction(_fold_open_items, database=name)
    print(f'open items of "{name}" folded')


def _fold_open_items():
    from trytond.pool import Pool
    Pool().get('rkc.ledger.open_items').fold_changed()


def partition_subledger(args):
    "Split the subledger's default partition by month."
    _, name = _prepare(args)
    months = tryton_job.transaction(_split_default_partition, database=name)
    print(f'subledger of "{name}": months given a partition: '
        + (', '.join(f'{month:%Y-%m}' for month in months) or 'none'))


def _split_default_partition():
    from trytond.pool import Pool
    return Pool().get('rkc.ledger.line').split_default_partition()


def read_meters(args):
    "Poll the meters of the scope now (rkc.metering.jobs)."
    from rkc.metering import jobs
    _, name = _prepare(args)
    return jobs.main(name, args.centre, args.building)


def simulate_meters(args):
    "Serve the database's remote meters as a simulated fleet."
    from rkc.metering import simulator
    _, name = _prepare(args)
    fleet, models = tryton_job.transaction(
        _stored_fleet, database=name, readonly=True)
    return simulator.run_forever(fleet, models, args.processes)


def _stored_fleet():
    from trytond.transaction import Transaction

    from rkc.metering import stored_fleet
    return stored_fleet.load(Transaction().connection)


def _start_fleet(name):
    """The demo's meters served by a simulator process (left running for
    the desk), once it is listening."""
    fleet = subprocess.Popen(
        [sys.executable, '-m', 'rkc.cli', '-d', name, 'meters', 'simulate',
            '--from-db'], stdout=subprocess.PIPE, text=True)
    fleet.stdout.readline()
    return fleet


def worker(args):
    """A long-lived RQ worker: one process, Tryton's pool initialised once,
    jobs run without forking (DESIGN.md: ≈3 ms a job instead of ≈0.65 s)."""
    from rq import SimpleWorker

    from rkc import job_scheduler, queue
    _, name = _prepare(args)
    jobs = queue.queue()
    if jobs is None:
        raise SystemExit('set RKC_REDIS_URL to the Redis the jobs go to')
    if args.burst:
        job_scheduler.enqueue_due()
        scheduler = None
    else:
        # Before the pool opens its database connections: see job_scheduler.
        scheduler = job_scheduler.start()
    try:
        tryton_job.pool(name)
        SimpleWorker([jobs], connection=jobs.connection).work(
            burst=args.burst)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait()


def serve(args, conf=None, name=None):
    if conf is None:
        conf, name = _prepare(args, port=args.port)
    print(f'Desk: http://localhost:{args.port}/  (Ctrl+C stops it)',
        flush=True)
    print(f'Portal: {_portal_url(args.port, name)}', flush=True)
    # trytond initialises the pools of the databases named at start; a
    # database it was not told about fails the first login.
    os.execv(_bin('trytond'), [_bin('trytond'), '-c', conf, '-d', name])


def _portal_url(port, name):
    return f'http://localhost:{port}/{name}/portal/'


def _bill_demo_months(name, context, count):
    """Bill the last ``count`` complete months, closing all but the latest,
    as a centre that has run for a while would have."""
    import datetime as dt

    from rkc import billing_command
    from rkc.engine.dated import add_months
    this_month = dt.date.today().replace(day=1)
    months = [add_months(this_month, -n) for n in range(count, 0, -1)]
    for month in months:
        print(f'Billing {month:%Y-%m}…', flush=True)
        report = io.StringIO()
        if billing_command.bill(name, context, month, out=report):
            raise SystemExit(f'the demo billing of {month:%Y-%m} failed:\n'
                + report.getvalue())
        if month != months[-1]:
            billing_command.close_period(name, context, month, out=report)


def _install_demo(conf, name):
    """Replace the database ``name`` by one with the module installed, the
    company, its chart and the reference data; returns the company."""
    from rkc import setup
    create_database(name, drop=True)
    admin(conf, name, '--all', '-u', MODULE, '--activate-dependencies',
        '-l', 'ru')
    company = tryton_job.transaction(
        setup.company_and_accounts, database=name)
    tryton_job.transaction(setup.reference_data, database=name,
        context={'company': company})
    return company


def _installed_demo_database(conf, name):
    """:func:`_install_demo`, or a copy of its kept result where
    ``RKC_DEMO_CACHE`` asks for one (see :mod:`rkc.demo.template_cache`)."""
    from trytond import backend
    from trytond.config import config

    from rkc import setup
    from rkc.demo import template_cache
    if not template_cache.enabled(config.get('database', 'uri')):
        return _install_demo(conf, name)
    template = template_cache.template_name()
    with _maintenance_connection() as conn:
        built = template_cache.exists(conn, template)
    if not built:
        building = f'{template}_{os.getpid()}'
        try:
            _install_demo(conf, building)
            # A template may have nobody connected: close this process's.
            backend.Database(building).close()
            with _maintenance_connection() as conn:
                template_cache.keep(conn, building, template)
        except BaseException:
            with _maintenance_connection() as conn:
                template_cache.drop(conn, building)
            raise
    with _maintenance_connection() as conn:
        template_cache.copy(conn, template, name)
    return tryton_job.transaction(setup.company_id, database=name)


def demo(args):
    conf, name = _prepare(args, port=args.port)
    from rkc.demo import bulk_loader, loader
    from trytond.config import config
    if args.bulk and not config.get('database', 'uri').startswith(
            'postgresql'):
        raise SystemExit('rkc demo --bulk loads with COPY: PostgreSQL only')
    print(f'Creating the demo database "{name}"…', flush=True)
    company = _installed_demo_database(conf, name)
    started = time.monotonic()
    (bulk_loader if args.bulk else loader).load_town(
        name, accounts=args.accounts)
    print(f'Demo town of {args.accounts} accounts is ready (loaded in '
        f'{time.monotonic() - started:.0f} s).', flush=True)
    _bill_demo_months(name, {'company': company}, args.billed_months)
    if args.billed_months and not args.no_serve:
        from rkc.demo import agent_api
        agent_api.show(name, args.port)
    print(f'Log in at http://localhost:{args.port}/ as admin, '
        f'password "{DEMO_PASSWORD}", database "{name}".', flush=True)
    from rkc.demo import portal_user
    number = tryton_job.transaction(portal_user.create, database=name)
    print(f'Consumers\' portal: {_portal_url(args.port, name)} as '
        f'{portal_user.EMAIL}, password "{portal_user.PASSWORD}" (account '
        f'{number}; another account links with its receipt code). Phone '
        f'PIN of account {number}: {portal_user.PHONE_PIN}.', flush=True)
    if not args.no_serve:
        from rkc.metering import jobs
        _start_fleet(name)
        print('The simulated meter fleet is running; first poll:',
            flush=True)
        jobs.main(name)
        serve(args, conf, name)
