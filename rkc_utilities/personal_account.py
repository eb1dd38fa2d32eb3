# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Personal accounts (лицевые счета): who pays for which premise and services."
from decimal import Decimal
from fractions import Fraction

from sql.aggregate import Max, Sum

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from rkc.engine.account_number import account_number_is_valid

from rkc.engine.dated import add_months
from rkc.engine.money import round_money

from .common import DatedMixin, today
from .exceptions import (
    AccountDeletionError, AccountNumberError, ShareError)

STATES = [
    ('open', "Open"),
    ('closed', "Closed"),
    ]
ACCOUNT_DIGITS = 10
# Fewer digits are too common a start of an account number to search by.
ACCOUNT_PREFIX_DIGITS = 4
# The documents the account card lists while they are in progress: the
# model, its state field and the states that end them.
OPEN_MATTERS = [
    ('rkc.recalculation', 'state', ['posted', 'cancelled']),
    ('rkc.subsidy.application', 'state', ['refused']),
    ('rkc.agreement', 'state', ['completed']),
    ('rkc.legal.case', 'stage', ['paid', 'written_off', 'cancelled']),
    ]


class Account(Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.account'
    _history = True

    number = fields.Char(
        "Number", size=10, readonly=True,
        help="Ten digits: the centre's code, a sequence and a check digit. "
        "Given when the account is opened.")
    premise = fields.Many2One(
        'rkc.premise', "Premise", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') == 'closed'})
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') == 'closed'},
        help="The centre that serves the account.")
    payer = fields.Many2One(
        'party.party', "Payer", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') == 'closed'},
        help="The person or organisation the bills are addressed to.")
    organisation = fields.Boolean(
        "Organisation",
        help="Billed to an organisation that also gets invoices.")
    owners = fields.One2Many(
        'rkc.account.owner', 'account', "Owners and Tenants",
        states={'readonly': Eval('state') == 'closed'})
    opened_on = fields.Date(
        "Opened On", required=True,
        states={'readonly': Eval('state') == 'closed'})
    closed_on = fields.Date(
        "Closed On",
        domain=[
            ['OR', ('closed_on', '=', None),
                ('closed_on', '>=', Eval('opened_on', None))]],
        states={
            'readonly': Eval('state') == 'closed',
            'required': Eval('state') == 'closed',
            })
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    services = fields.One2Many(
        'rkc.account.service', 'account', "Services",
        states={'readonly': Eval('state') == 'closed'},
        help="The services billed to the account and since when.")
    meters = fields.Function(fields.Many2Many(
            'rkc.meter', None, None, "Meters", readonly=True,
            help="The meters of the account's premise."), 'get_meters')
    ledger_lines = fields.One2Many(
        'rkc.ledger.line', 'account', "Subledger", readonly=True,
        help="Every charge, recalculation, payment and penalty posted.")
    turnovers = fields.One2Many(
        'rkc.turnover', 'account', "Turnover", readonly=True,
        help="Opening, movements and closing by period and service.")
    phone = fields.Char("Phone", help="For reminders by SMS and calls.")
    email = fields.Char("E-mail", help="For receipts and reminders.")
    sms_consent = fields.Boolean("SMS Consent",
        help="The consumer agreed to SMS messages.")
    email_consent = fields.Boolean("E-mail Consent",
        help="The consumer agreed to receive receipts and notices by "
        "e-mail.")
    call_consent = fields.Boolean("Call Consent",
        help="The consumer agreed to reminder calls.")
    balance = fields.Function(fields.Numeric(
            "Balance", digits=(16, 2),
            help="Debt (positive) or advance (negative) in the subledger."),
        'get_balance')
    residents = fields.Function(fields.Integer(
            "Residents", help="Registered at the premise today."),
        'get_residents')
    last_readings = fields.Function(fields.Many2Many(
            'rkc.meter.reading', None, None, "Last Readings",
            help="The latest reading of each meter of the premise."),
        'get_last_readings')
    recent_turnovers = fields.Function(fields.Many2Many(
            'rkc.turnover', None, None, "Turnover, 12 Months"),
        'get_recent_ledger')
    payments = fields.Function(fields.Many2Many(
            'rkc.ledger.line', None, None, "Payments, 12 Months"),
        'get_recent_ledger')
    open_matters = fields.Function(fields.Text(
            "Open Matters",
            help="Recalculations, subsidies, agreements and legal cases "
            "still in progress."),
        'get_open_matters')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'rkc_utilities.msg_account_number_unique'),
            ]
        cls._order.insert(0, ('number', 'ASC'))
        cls._transitions |= {('open', 'closed'), ('closed', 'open')}
        cls._buttons.update({
                'close': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'closed',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'open'

    @staticmethod
    def default_opened_on():
        return today()

    @fields.depends('premise', '_parent_premise.building', 'centre')
    def on_change_premise(self):
        if self.premise and self.premise.building:
            self.centre = self.premise.building.centre

    def get_rec_name(self, name):
        return f'{self.number} {self.payer.rec_name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        if bool_op == 'OR' and operator.endswith('like') \
                and isinstance(value, str):
            words = [w for w in value.replace('%', ' ').replace(
                    ',', ' ').split() if not w.endswith('.')]
            if len(words) > 1:
                return cls._search_desk_words(words)
            # sao sends each typed word as a clause of its own.
            if not words:
                # Only an abbreviation ("ул.", "кв."): it narrows nothing.
                return []
            if words[0].isdigit() and len(words[0]) < ACCOUNT_DIGITS:
                return cls._search_desk_number(words[0])
        return [bool_op,
            ('number', operator, value) + tuple(clause[3:]),
            ('payer.name', operator, value) + tuple(clause[3:]),
            ('premise.building.street', operator, value) + tuple(clause[3:]),
            ('premise.building.house', operator, value) + tuple(clause[3:]),
            ('premise.number', operator, value) + tuple(clause[3:]),
            ]

    @staticmethod
    def _search_desk_number(word):
        "A short number: a house or a flat, or the start of a number."
        domain = ['OR',
            ('premise.building.house', '=', word),
            ('premise.number', '=', word),
            ]
        if len(word) >= ACCOUNT_PREFIX_DIGITS:
            domain.append(('number', 'like', f'{word}%'))
        return domain

    @staticmethod
    def _search_desk_words(words):
        """Words typed as at the desk: an address ("Ленина 5 кв. 12": the
        numbers after the street are the house and the flat) or a name;
        every word must match."""
        numbers = []
        while words and any(c.isdigit() for c in words[-1]) \
                and len(numbers) < 2:
            numbers.insert(0, words.pop())
        domain = [['OR',
                ('payer.name', 'ilike', f'%{w}%'),
                ('premise.building.street', 'ilike', f'%{w}%'),
                ] for w in words]
        for field, number in zip(
                ['premise.building.house', 'premise.number'][:len(numbers)],
                numbers, strict=True):
            domain.append((field, '=', number))
        return domain

    def get_meters(self, name):
        pool = Pool()
        Meter = pool.get('rkc.meter')
        return [m.id for m in Meter.search(
                [('premise', '=', self.premise.id)])]

    @classmethod
    def get_balance(cls, accounts, name):
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        balances = dict.fromkeys((a.id for a in accounts), Decimal(0))
        cursor.execute(*line.select(line.account, Sum(line.amount),
                where=line.account.in_(list(balances)),
                group_by=[line.account]))
        for account, amount in cursor:
            balances[account] = _money(amount)
        return balances

    def get_residents(self, name):
        return self.premise.residents_on(today())

    @classmethod
    def get_last_readings(cls, accounts, name):
        pool = Pool()
        Meter = pool.get('rkc.meter')
        Reading = pool.get('rkc.meter.reading')
        meter = Meter.__table__()
        reading = Reading.__table__()
        latest = Reading.__table__()
        premises = {a.premise.id: a.id for a in accounts}
        readings = {a.id: [] for a in accounts}
        cursor = Transaction().connection.cursor()
        last = latest.join(meter, condition=meter.id == latest.meter).select(
            latest.meter, Max(latest.read_at).as_('read_at'),
            where=meter.premise.in_(list(premises)),
            group_by=[latest.meter])
        cursor.execute(*reading.join(last, condition=(
                    last.meter == reading.meter)
                & (last.read_at == reading.read_at)).join(
                meter, condition=meter.id == reading.meter).select(
                meter.premise, Max(reading.id),
                group_by=[meter.premise, reading.meter]))
        for premise, reading_id in cursor:
            readings[premises[premise]].append(reading_id)
        return readings

    @classmethod
    def get_recent_ledger(cls, accounts, name):
        "The account's turnover or payments of the last 12 months."
        pool = Pool()
        Model, domain = {
            'recent_turnovers': (pool.get('rkc.turnover'), []),
            'payments': (pool.get('rkc.ledger.line'),
                [('kind', '=', 'payment')]),
            }[name]
        since = add_months(today().replace(day=1), -11)
        records = {a.id: [] for a in accounts}
        for record in Model.search([
                    ('account', 'in', list(records)),
                    ('period', '>=', since),
                    ] + domain):
            records[record.account.id].append(record.id)
        return records

    def get_open_matters(self, name):
        pool = Pool()
        matters = []
        for model, state, closed in OPEN_MATTERS:
            try:
                Model = pool.get(model)
            except KeyError:
                # Not installed (yet): nothing of that kind can be open.
                continue
            for record in Model.search([
                        ('account', '=', self.id),
                        (state, 'not in', closed),
                        ]):
                matters.append(
                    f'{Model.__names__()["model"]}: {record.rec_name} '
                    f'({_selection_string(record, state)})')
        return '\n'.join(matters)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Centre = pool.get('rkc.centre')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number') \
                and values.get('centre'):
            centre = Centre(values['centre'])
            # Serialize the openings of one centre so that numbers differ.
            Centre.lock([centre])
            values['number'] = centre.next_account_number()
        return values

    @classmethod
    def check_modification(cls, mode, accounts, values=None, external=False):
        super().check_modification(
            mode, accounts, values=values, external=external)
        # An account is closed, never deleted: its number is not given
        # again and its history is kept. The subledger's and payments'
        # references to accounts are checked per statement, which relies
        # on it (see BulkReferencesMixin).
        if mode == 'delete' and accounts:
            raise AccountDeletionError(gettext(
                    'rkc_utilities.msg_account_delete',
                    account=accounts[0].rec_name))

    @classmethod
    def validate_fields(cls, accounts, field_names):
        super().validate_fields(accounts, field_names)
        if field_names is None or 'number' in field_names:
            for account in accounts:
                if not account_number_is_valid(account.number):
                    raise AccountNumberError(gettext(
                            'rkc_utilities.msg_account_number_check_digit',
                            number=account.number))

    @classmethod
    def copy(cls, accounts, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('number', None)
        default.setdefault('state', 'open')
        default.setdefault('closed_on', None)
        default.setdefault('ledger_lines', None)
        default.setdefault('turnovers', None)
        return super().copy(accounts, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, accounts):
        for account in accounts:
            if not account.closed_on:
                account.closed_on = today()
        cls.save(accounts)

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def reopen(cls, accounts):
        cls.write(accounts, {'closed_on': None})

    def services_on(self, date):
        "The account's services billed on a date."
        return [s.service for s in self.services if s.covers(date)]


def _money(value):
    "A sum read from SQL (SQLite sums money as floats) in kopecks."
    return round_money(Decimal(str(value)))


def _selection_string(record, field):
    return dict(record.fields_get([field])[field]['selection']).get(
        getattr(record, field), getattr(record, field))


class AccountOwner(ModelSQL, ModelView):
    __name__ = 'rkc.account.owner'
    _history = True

    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='RESTRICT')
    role = fields.Selection([
            ('owner', "Owner"),
            ('tenant', "Tenant"),
            ], "Role", required=True,
        help="Owners hold a share; tenants rent under a social lease.")
    share = fields.Char(
        "Share",
        states={'required': Eval('role') == 'owner',
            'invisible': Eval('role') != 'owner'},
        help="The ownership share as a fraction, e.g. 1/2 or 1.")

    @staticmethod
    def default_role():
        return 'owner'

    @staticmethod
    def default_share():
        return '1'

    def share_fraction(self):
        try:
            share = Fraction(self.share or '0')
        except (ValueError, ZeroDivisionError):
            raise ShareError(gettext(
                    'rkc_utilities.msg_share_format',
                    share=self.share)) from None
        if not 0 < share <= 1:
            raise ShareError(gettext(
                    'rkc_utilities.msg_share_format', share=self.share))
        return share

    @classmethod
    def validate_fields(cls, owners, field_names):
        super().validate_fields(owners, field_names)
        if field_names is None or field_names & {'share', 'role'}:
            accounts = {o.account for o in owners}
            for account in accounts:
                total = sum(o.share_fraction() for o in account.owners
                    if o.role == 'owner')
                if total > 1:
                    raise ShareError(gettext(
                            'rkc_utilities.msg_share_total',
                            account=account.rec_name, total=str(total)))


class AccountService(DatedMixin, ModelSQL, ModelView):
    __name__ = 'rkc.account.service'
    _history = True
    _dated_scope = ('account', 'service')

    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='CASCADE')
    service = fields.Many2One(
        'rkc.service', "Service", required=True, ondelete='RESTRICT')
    balance = fields.Function(fields.Numeric(
            "Balance", digits=(16, 2),
            help="Debt (positive) or advance (negative) for the service."),
        'get_balance')

    @staticmethod
    def default_valid_from():
        context = Transaction().context
        return context.get('opened_on') or today()

    def get_rec_name(self, name):
        return f'{self.service.rec_name}: {super().get_rec_name(name)}'

    @classmethod
    def get_balance(cls, subscriptions, name):
        """The subledger balance of the service, shown on the latest
        subscription to it (earlier ones would count it twice)."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        latest = {}
        for subscription in sorted(
                subscriptions, key=lambda s: s.valid_from):
            latest[subscription.account.id, subscription.service.id] = (
                subscription.id)
        balances = dict.fromkeys(s.id for s in subscriptions)
        balances.update(dict.fromkeys(latest.values(), Decimal(0)))
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(
                line.account, line.service, Sum(line.amount),
                where=line.account.in_(list({a for a, _ in latest})),
                group_by=[line.account, line.service]))
        for account, service, amount in cursor:
            if (account, service) in latest:
                balances[latest[account, service]] = _money(amount)
        return balances
