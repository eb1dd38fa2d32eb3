# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Payments from every channel (rules.md §3 and §8) and their allocation
into the subledger: one negative payment line per period, service and part
(principal, penalty, advance), dated on the day the money was accepted."""
import json
from collections import defaultdict
from decimal import Decimal
from importlib import resources

from sql import Conflict
from sql.functions import CurrentTimestamp
from sql.operators import Concat

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from rkc.engine.payment_lines import (
    REVERSAL, Allocated, AdvanceWithoutService,
    LedgerSums, build_ledgers, period_debts, subledger_rows)
from rkc.engine.regulations import default_regulations
from rkc.payments.registry_format import (
    KINDS as LAYOUT_KINDS, RegistryFormat as Layout, RegistryFormatError)

from .common import BulkReferencesMixin, LeanIndexesMixin, among, today
from .exceptions import CashDeskError, PaymentError

CHANNELS = [
    ('cash', "Cash"),
    ('card', "Card"),
    ('agent', "Payment Agent"),
    ('registry', "Registry"),
    ]
# What a cashier takes at a centre's desk, within a shift.
DESK_CHANNELS = {'cash', 'card'}
STATES = [
    ('received', "Received"),
    ('posted', "Posted"),
    ('cancelled', "Cancelled"),
    ]
ZERO = Decimal('0.00')


class Payment(
        BulkReferencesMixin, LeanIndexesMixin, Workflow, ModelSQL,
        ModelView):
    __name__ = 'rkc.payment'
    _bulk_references = ('centre', 'agent', 'registry_import', 'account')

    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'received'})
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, readonly=True,
        ondelete='RESTRICT', help="The centre of the account when paid.")
    amount = fields.Numeric(
        "Amount", digits=(16, 2), required=True,
        domain=[('amount', '>', 0)],
        states={'readonly': Eval('state') != 'received'},
        help="What the consumer is credited.")
    commission = fields.Numeric(
        "Commission", digits=(16, 2), required=True,
        domain=[('commission', '>=', 0)],
        states={'readonly': Eval('state') != 'received'},
        help="The agent's fee, paid by the payer on top of the amount; it "
        "never reduces what the consumer is credited.")
    accepted_at = fields.DateTime(
        "Accepted At", required=True,
        states={'readonly': Eval('state') != 'received'},
        help="When the desk, bank or post office accepted the money.")
    date = fields.Date(
        "Payment Date", required=True, readonly=True,
        help="The day the money was accepted (rules.md §3).")
    period = fields.Date(
        "Named Period",
        states={'readonly': Eval('state') != 'received'},
        help="The first day of the month the payer named, if any.")
    channel = fields.Selection(
        CHANNELS, "Channel", required=True, readonly=True)
    agent = fields.Many2One(
        'rkc.payment.agent', "Agent", readonly=True, ondelete='RESTRICT')
    branch = fields.Char("Branch", readonly=True)
    terminal = fields.Char("Terminal", readonly=True)
    operation_id = fields.Char("Operation", readonly=True,
        help="The agent's number of the operation.")
    operation_key = fields.Char("Operation Key", readonly=True,
        help="What makes the operation unique for its agent.")
    payer_name = fields.Char("Payer", readonly=True)
    shift = fields.Many2One(
        'rkc.cash_desk.shift', "Shift", readonly=True, ondelete='RESTRICT',
        help="The cash-desk shift that took the cash or card payment.")
    registry_import = fields.Many2One(
        'rkc.payment.registry.import', "Registry", readonly=True,
        ondelete='RESTRICT')
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    ledger_lines = fields.One2Many(
        'rkc.ledger.line', 'origin', "Subledger Lines", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # An agent's operation is credited once, whatever resends it.
        cls._sql_constraints += [
            ('operation_unique', Unique(t, t.agent, t.operation_key),
                'rkc_utilities.msg_payment_operation_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.registry_import, Index.Equality())),
                Index(t, (t.account, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.agent, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.shift, Index.Equality())),
                })
        cls._order = [('accepted_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('received', 'posted'), ('posted', 'cancelled')}
        cls._buttons.update({
                'post': {
                    'invisible': Eval('state') != 'received',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'received'

    @staticmethod
    def default_commission():
        return ZERO

    @staticmethod
    def default_channel():
        return 'cash'

    def get_rec_name(self, name):
        return (f'{self.account.number} {self.amount} '
            f'({self.date:%d.%m.%Y})')

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Account = pool.get('rkc.account')
        values = super().preprocess_values(mode, values)
        if values.get('accepted_at'):
            values['date'] = values['accepted_at'].date()
        if values.get('period'):
            values['period'] = values['period'].replace(day=1)
        if mode == 'create' and values.get('account') \
                and not values.get('centre'):
            values['centre'] = Account(values['account']).centre.id
        if mode == 'create' and values.get(
                'channel', cls.default_channel()) in DESK_CHANNELS:
            values['shift'] = cls._desk_shift(values.get('shift'))
        return values

    @classmethod
    def _desk_shift(cls, shift_id):
        """The open shift of the current user that takes a desk payment:
        cash and card are only taken within one."""
        pool = Pool()
        Shift = pool.get('rkc.cash_desk.shift')
        User = pool.get('res.user')
        user = Transaction().user
        if shift_id is None:
            shifts = Shift.search([
                    ('cashier', '=', user), ('state', '=', 'open')],
                limit=1)
            if not shifts:
                raise CashDeskError(gettext(
                        'rkc_utilities.msg_cash_desk_no_shift',
                        user=User(user).rec_name))
            return shifts[0].id
        shift = Shift(shift_id)
        if shift.state != 'open' or shift.cashier.id != user:
            raise CashDeskError(gettext(
                    'rkc_utilities.msg_cash_desk_shift_not_open',
                    shift=shift.rec_name, user=User(user).rec_name))
        return shift.id

    @classmethod
    def ledger_origins(cls, where):
        "The subledger origins of the payments ``where`` selects."
        table = cls.__table__()
        return table.select(
            Concat(cls.__name__ + ',', table.id), where=where(table))

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, payments):
        "Allocate the payments into the subledger."
        lock_accounts({p.account.id for p in payments})
        for payment in payments:
            if payment.account.state != 'open':
                raise PaymentError(gettext(
                        'rkc_utilities.msg_payment_account_closed',
                        account=payment.account.number))
        allocate_into_subledger([Allocated(p.id, p.account.id, p.centre.id,
                    p.date, p.amount, p.period) for p in payments])

    @classmethod
    def cancel(cls, payments, date=None):
        """Reverse the payments' subledger lines (posted lines are never
        deleted) and mark them cancelled."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        date = date or today()
        rows = []
        for payment in payments:
            if payment.state != 'posted':
                raise PaymentError(gettext(
                        'rkc_utilities.msg_payment_not_posted',
                        payment=payment.rec_name))
            for line in payment.ledger_lines:
                rows.append({
                        'account': line.account.id,
                        'centre': line.centre.id,
                        'service': line.service.id, 'period': line.period,
                        'date': date, 'kind': 'payment',
                        'amount': -line.amount, 'volume': None,
                        'tariff': None, 'excess': None,
                        'method': 'reversal', 'basis': None,
                        'origin': str(payment),
                        'part': line.part + REVERSAL})
        Line.insert_rows(rows)
        cls.write(payments, {'state': 'cancelled'})


def lock_accounts(account_ids):
    """Serialize allocations to the same accounts: a payment allocated
    while another one to the account commits would not see its lines.
    An update (not a lock) makes PostgreSQL restart the later transaction
    with a snapshot that does."""
    Account = Pool().get('rkc.account')
    table = Account.__table__()
    cursor = Transaction().connection.cursor()
    for ids in grouped_slice(sorted(account_ids),
            backend.MAX_QUERY_PARAMS):
        cursor.execute(*table.update(
                [table.state], [table.state], where=table.id.in_(list(ids))))


def allocate_into_subledger(payments, regulations=None, moves=None):
    """Post payment lines for ``payments`` (Allocated) by the rules of
    rules.md §3, reading every account's debts in one pass (see
    subledger_rows). ``moves`` ({centre: move id}, LedgerPosting.prepare)
    puts the lines in their batch's prepared move."""
    Line = Pool().get('rkc.ledger.line')
    sums = read_ledger_sums({p.account for p in payments})
    try:
        rows = subledger_rows(payments, sums,
            regulations or default_regulations(), moves)
    except AdvanceWithoutService as error:
        raise no_service_error(error) from None
    # The payments are new: none of them has a line yet.
    return Line.insert_rows(rows, new_origins=True)


def no_service_error(error):
    "The user error of an AdvanceWithoutService."
    return PaymentError(gettext(
            'rkc_utilities.msg_payment_no_service', amount=error.amount))


def read_ledger_sums(account_ids):
    "The LedgerSums of the accounts (see subledger_rows)."
    account_ids = sorted(set(account_ids))
    rows = _ledger_sum_rows(account_ids)
    charged = {row[0] for row in rows if row[5] is not None}
    return LedgerSums(rows, _subscribed_services(
            [a for a in account_ids if a not in charged]))


def _ledgers(account_ids):
    "{account: AccountLedger} of the accounts, read from the subledger."
    return build_ledgers(_ledger_sum_rows(account_ids))


def _ledger_sum_rows(account_ids):
    """The accounts' subledger summed to one row per period and service:
    (account, period, service, principal, penalty, charged), the rows that
    the allocation reads (rkc.ledger.open_items)."""
    return Pool().get('rkc.ledger.open_items').sum_rows(account_ids)


def _subscribed_services(account_ids):
    "The services of accounts that were never charged: {account: [ids]}."
    pool = Pool()
    AccountService = pool.get('rkc.account.service')
    table = AccountService.__table__()
    cursor = Transaction().connection.cursor()
    services = defaultdict(list)
    for ids in grouped_slice(account_ids, backend.MAX_QUERY_PARAMS):
        cursor.execute(*table.select(
                table.account, table.service,
                where=among(table.account, list(ids)),
                order_by=[table.account, table.service]))
        for account, service in cursor:
            if service not in services[account]:
                services[account].append(service)
    return services


def account_debts(account_id, regulations=None):
    """What an account owes by period (allocation.PeriodDebt with the
    principal by service id), as the allocation of a payment sees it."""
    regulations = regulations or default_regulations()
    return period_debts(_ledgers([account_id])[account_id], regulations)


class RegistryFormat(DeactivableMixin, ModelSQL, ModelView):
    "The layout of an agent's registry file, as configuration."
    __name__ = 'rkc.payment.registry.format'

    name = fields.Char("Name", required=True,
        help="Lower-case letters, digits and underscores.")
    kind = fields.Function(fields.Selection(
            [(k, k) for k in LAYOUT_KINDS], "Kind"),
        'get_kind')
    configuration = fields.Text("Configuration", required=True,
        help="The layout as JSON: encoding, delimiter, fields, date "
        "formats, trailer and where the readings sit.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_unique', Unique(t, t.name),
                'rkc_utilities.msg_registry_format_name_unique'),
            ]
        cls._order = [('name', 'ASC'), ('id', 'ASC')]

    def layout(self):
        "The parser's :class:`RegistryFormat` of the configuration."
        try:
            return Layout.from_dict(json.loads(self.configuration))
        except (ValueError, RegistryFormatError) as exc:
            raise PaymentError(gettext(
                    'rkc_utilities.msg_registry_format_invalid',
                    format=self.name, error=str(exc))) from None

    def get_kind(self, name):
        return json.loads(self.configuration).get('kind')

    @classmethod
    def validate_fields(cls, formats, field_names):
        super().validate_fields(formats, field_names)
        for record in formats:
            record.layout()

    @classmethod
    def shipped(cls):
        """Add the layouts shipped in ``rkc/payments/formats`` that the
        database lacks; returns all of them by name. Concurrent importers
        may both add them: ON CONFLICT keeps one of each."""
        table = cls.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        folder = resources.files('rkc.payments') / 'formats'
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if not path.name.endswith('.json'):
                continue
            configuration = path.read_text('utf-8')
            Layout.from_dict(json.loads(configuration))
            cursor.execute(*table.insert(
                    [table.name, table.configuration, table.active,
                        table.create_uid, table.create_date],
                    [[path.name.removesuffix('.json'), configuration, True,
                            transaction.user, CurrentTimestamp()]],
                    on_conflict=Conflict(
                        table, indexed_columns=[table.name])))
        return {f.name: f for f in cls.search(
                [('active', 'in', [True, False])])}

    @classmethod
    def named(cls, name):
        formats = cls.shipped()
        if name not in formats:
            raise PaymentError(gettext(
                    'rkc_utilities.msg_registry_format_unknown',
                    format=name))
        return formats[name]


class RegistryImport(ModelSQL, ModelView):
    "One registry file of an agent, accepted or quarantined as a whole."
    __name__ = 'rkc.payment.registry.import'

    agent = fields.Many2One(
        'rkc.payment.agent', "Agent", required=True, readonly=True,
        ondelete='RESTRICT')
    format = fields.Many2One(
        'rkc.payment.registry.format', "Format", required=True,
        readonly=True, ondelete='RESTRICT')
    filename = fields.Char("File Name", readonly=True)
    sha256 = fields.Char("SHA-256", readonly=True, required=True,
        help="The file's identity: the same bytes are imported once.")
    size = fields.Integer("Size", readonly=True)
    state = fields.Selection([
            ('accepted', "Accepted"),
            ('quarantined', "Quarantined"),
            ], "State", readonly=True, required=True,
        help="Quarantined: the file does not reconcile with itself or its "
        "trailer; nothing of it was credited.")
    records = fields.Integer("Lines", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    commission = fields.Numeric("Commission", digits=(16, 2), readonly=True)
    credited = fields.Integer("Credited", readonly=True,
        help="Payments credited to accounts.")
    duplicates = fields.Integer("Duplicates", readonly=True,
        help="Operations already imported from another file.")
    suspended = fields.Integer("To Suspense", readonly=True,
        help="Lines with an unknown or closed account.")
    readings = fields.Integer("Readings", readonly=True)
    errors = fields.Text("Errors", readonly=True)
    payments = fields.One2Many(
        'rkc.payment', 'registry_import', "Payments", readonly=True)
    suspense = fields.One2Many(
        'rkc.payment.suspense', 'registry_import', "Suspense",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('file_unique', Unique(t, t.agent, t.sha256),
                'rkc_utilities.msg_registry_import_unique'),
            ]
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return f'{self.agent.code} {self.filename or self.sha256[:12]}'


class Suspense(Workflow, ModelSQL, ModelView):
    """Money accepted for an account that is unknown or closed: never
    guessed, an operator assigns it to an account or refunds it."""
    __name__ = 'rkc.payment.suspense'

    agent = fields.Many2One(
        'rkc.payment.agent', "Agent", required=True, readonly=True,
        ondelete='RESTRICT')
    registry_import = fields.Many2One(
        'rkc.payment.registry.import', "Registry", readonly=True,
        ondelete='RESTRICT')
    account_number = fields.Char("Account Number", readonly=True,
        help="As the payer gave it.")
    reason = fields.Selection([
            ('unknown', "Unknown Account"),
            ('closed', "Closed Account"),
            ], "Reason", readonly=True, required=True)
    payer_name = fields.Char("Payer", readonly=True)
    address = fields.Char("Address", readonly=True)
    accepted_at = fields.DateTime("Accepted At", readonly=True,
        required=True)
    period = fields.Date("Named Period", readonly=True)
    amount = fields.Numeric(
        "Amount", digits=(16, 2), readonly=True, required=True)
    commission = fields.Numeric("Commission", digits=(16, 2), readonly=True)
    branch = fields.Char("Branch", readonly=True)
    terminal = fields.Char("Terminal", readonly=True)
    operation_id = fields.Char("Operation", readonly=True)
    operation_key = fields.Char("Operation Key", readonly=True,
        required=True)
    account = fields.Many2One(
        'rkc.account', "Credit To",
        domain=[('state', '=', 'open')],
        states={
            'readonly': Eval('state') != 'open',
            'required': Eval('state') == 'assigned',
            },
        help="The account the operator found the money is for.")
    payment = fields.Many2One(
        'rkc.payment', "Payment", readonly=True, ondelete='RESTRICT')
    note = fields.Text("Note",
        help="How the account was found, or the refund's details.")
    state = fields.Selection([
            ('open', "Open"),
            ('assigned', "Assigned"),
            ('refunded', "Refunded"),
            ], "State", readonly=True, required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('operation_unique', Unique(t, t.agent, t.operation_key),
                'rkc_utilities.msg_payment_operation_unique'),
            ]
        cls._order = [('accepted_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('open', 'assigned'), ('open', 'refunded')}
        cls._buttons.update({
                'assign': {
                    'invisible': Eval('state') != 'open',
                    'readonly': ~Eval('account'),
                    'depends': ['state', 'account'],
                    },
                'refund': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'open'

    @classmethod
    @ModelView.button
    @Workflow.transition('assigned')
    def assign(cls, items):
        """Credit the money to the chosen account, as the payment the agent
        meant, and post it to the general ledger on its own."""
        pool = Pool()
        Payment = pool.get('rkc.payment')
        Posting = pool.get('rkc.ledger.posting')
        for item in items:
            if not item.account:
                raise PaymentError(gettext(
                        'rkc_utilities.msg_suspense_no_account',
                        number=item.account_number))
            payment, = Payment.create([{
                        'account': item.account.id, 'amount': item.amount,
                        'commission': item.commission or ZERO,
                        'accepted_at': item.accepted_at,
                        'period': item.period, 'channel': 'registry',
                        'agent': item.agent.id, 'branch': item.branch,
                        'terminal': item.terminal,
                        'operation_id': item.operation_id,
                        'operation_key': item.operation_key,
                        'payer_name': item.payer_name,
                        'registry_import': (item.registry_import.id
                            if item.registry_import else None),
                        }])
            Payment.post([payment])
            Posting.summarize(str(payment), payment.date,
                gettext('rkc_utilities.msg_suspense_move_description',
                    number=item.account_number),
                counter_account=item.agent.account)
            item.payment = payment
        cls.save(items)

    @classmethod
    @ModelView.button
    @Workflow.transition('refunded')
    def refund(cls, items):
        "The money goes back to the payer through the agent."


def operation_key(branch, operation_id, date):
    """An agent's registry operation: branch, number and date; the API's
    operations carry no branch and are unique by number alone."""
    if date is None:
        return f'api|{operation_id}'
    return f'{branch}|{operation_id}|{date.isoformat()}'

