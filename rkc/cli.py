"""The ``rkc`` console command: one entry point for the jobs.

Subcommands import their implementation lazily so that ``rkc calc`` starts
without loading Tryton.
"""
import argparse
import sys


def _calc(args):
    from rkc import calc
    return calc.run(args.kind)


def _meters_simulate(args):
    if args.from_db:
        return _tryton('simulate_meters')(args)
    from rkc.metering import simulator
    return simulator.main(args)


def _tryton(name):
    "A subcommand implemented in rkc.tryton_commands (needs Tryton)."
    def run(args):
        from rkc import tryton_commands
        return getattr(tryton_commands, name)(args)
    return run


def _print_receipts(args):
    from rkc import receipt_command
    return receipt_command.command(args)


def _import_registry(args):
    from rkc.payments import importer
    return importer.command(args)


def _notify(args):
    from rkc import notify_command
    return notify_command.command(args)


def _period(text):
    import datetime as dt
    try:
        return dt.datetime.strptime(text, '%Y-%m').date()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'not a month in the form YYYY-MM: {text!r}') from None


def _date(text):
    import datetime as dt
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'not a date in the form YYYY-MM-DD: {text!r}') from None


def build_parser():
    from rkc import calc
    parser = argparse.ArgumentParser(
        prog='rkc', description='Utility billing jobs and tools.')
    parser.add_argument(
        '-c', '--config', help='trytond configuration file '
        '(default: $TRYTOND_CONFIG or the embedded SQLite demo setup)')
    parser.add_argument(
        '-d', '--database', help='database name (default: $RKC_DATABASE '
        'or "rkc")')
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('calc', help='run one calculation, JSON in and out')
    p.add_argument('kind', choices=calc.KINDS)
    p.set_defaults(func=_calc)

    p = sub.add_parser('db', help='create or update the database')
    p.add_argument('action', choices=('create', 'update'))
    p.set_defaults(func=_tryton('db'))

    p = sub.add_parser(
        'demo', help='create the demo town and start the desk')
    p.add_argument('--accounts', type=int, default=2000,
        help='number of personal accounts to generate (default 2000)')
    p.add_argument('--no-serve', action='store_true',
        help='set everything up, then exit instead of serving')
    p.add_argument('--bulk', action='store_true',
        help='load the town with COPY (PostgreSQL only; for big towns)')
    p.add_argument('--billed-months', type=int, default=3,
        help='complete months to bill after loading (default 3)')
    p.add_argument('--port', type=int, default=8000)
    p.set_defaults(func=_tryton('demo'))

    p = sub.add_parser('serve', help='serve the desk and portal')
    p.add_argument('--port', type=int, default=8000)
    p.set_defaults(func=_tryton('serve'))

    p = sub.add_parser('bill', help='run the monthly billing')
    p.add_argument('--period', required=True, type=_period,
        help='the month to bill, YYYY-MM')
    scope = p.add_mutually_exclusive_group()
    scope.add_argument('--centre', type=int, help='only this centre (code)')
    scope.add_argument('--building', type=int,
        help='only this building (id)')
    p.add_argument('--preview', action='store_true',
        help='compute totals and outliers without posting')
    p.set_defaults(func=_tryton('bill'))

    p = sub.add_parser('close-period', help='close a billed period')
    p.add_argument('--period', required=True, type=_period)
    p.set_defaults(func=_tryton('close_period'))

    p = sub.add_parser('fold-open-items',
        help="fold the open items of the accounts whose subledger changed "
        "(what the nightly cron does; once after an upgrade)")
    p.set_defaults(func=_tryton('fold_open_items'))

    p = sub.add_parser('partition-subledger',
        help="give the months of the subledger's default partition their "
        "own partitions (PostgreSQL; after lines were loaded by hand)")
    p.set_defaults(func=_tryton('partition_subledger'))

    p = sub.add_parser('print-receipts',
        help="print a month's receipts into PDF files, by building")
    p.add_argument('--period', required=True, type=_period,
        help='the month of the receipts, YYYY-MM')
    scope = p.add_mutually_exclusive_group()
    scope.add_argument('--centre', type=int, help='only this centre (code)')
    scope.add_argument('--building', type=int,
        help='only this building (id)')
    p.add_argument('--email', action='store_true',
        help='then e-mail them to the accounts that agreed to it')
    p.set_defaults(func=_print_receipts)

    p = sub.add_parser('worker',
        help='run an RQ worker for the jobs (needs RKC_REDIS_URL)')
    p.add_argument('--burst', action='store_true',
        help='stop when the queue is empty')
    p.set_defaults(func=_tryton('worker'))

    p = sub.add_parser('meters', help='meter fleet tools')
    msub = p.add_subparsers(dest='meters_command', required=True)
    s = msub.add_parser(
        'simulate', help='run a simulated Modbus TCP meter fleet')
    s.add_argument('--gateways', type=int, default=4)
    s.add_argument('--meters-per-gateway', type=int, default=32)
    s.add_argument('--host', default='127.0.0.1')
    s.add_argument('--base-port', type=int, default=15020)
    s.add_argument('--seed', type=int, default=1)
    s.add_argument('--processes', type=int, default=1,
        help='serve the gateways from this many processes')
    s.add_argument('--from-db', action='store_true',
        help='serve the active remote meters of the database instead, '
        'counting on from their last readings')
    s.set_defaults(func=_meters_simulate)

    p = sub.add_parser('import-registry',
        help="import an agent's payment registry file")
    p.add_argument('file', help='the registry file')
    p.add_argument('--agent', required=True, help="the agent's code")
    p.add_argument('--format', help="a registry format's name (default: "
        "the agent's)")
    p.set_defaults(func=_import_registry)

    p = sub.add_parser('read-meters', help='poll the meters over Modbus TCP')
    scope = p.add_mutually_exclusive_group()
    scope.add_argument('--centre', type=int, help='only this centre (code)')
    scope.add_argument('--building', type=int,
        help='only this building (id)')
    p.set_defaults(func=_tryton('read_meters'))

    p = sub.add_parser('notify',
        help='run a notification campaign: select, then send')
    p.add_argument('--campaign', required=True, type=int,
        help="the campaign's id")
    p.add_argument('--date', type=_date,
        help='the day to run it for, YYYY-MM-DD (default today)')
    p.set_defaults(func=_notify)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
