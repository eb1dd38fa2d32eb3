# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Payment agents (banks, post offices) and their API keys: a key is shown
once when made and stored only as its SHA-256; revoking it is immediate."""
import hashlib
import secrets

from sql import Conflict
from sql.functions import CurrentTimestamp

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .common import today
from .exceptions import PaymentError

KEY_PREFIX = 'rkc_'


def key_hash(key):
    return hashlib.sha256(key.encode('utf-8')).hexdigest()


class Agent(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'rkc.payment.agent'

    name = fields.Char("Name", required=True)
    code = fields.Char("Code", required=True,
        help="Short name used by the registry import and the API.")
    party = fields.Many2One('party.party', "Party", ondelete='RESTRICT')
    account = fields.Many2One(
        'account.account', "Counter Account", required=True,
        ondelete='RESTRICT',
        help="Where the money is until the agent transfers it (57), or "
        "the bank account it arrives on (51).")
    format = fields.Many2One(
        'rkc.payment.registry.format', "Registry Format",
        ondelete='RESTRICT', help="The layout of the agent's registries.")
    keys = fields.One2Many(
        'rkc.payment.agent.key', 'agent', "API Keys", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'rkc_utilities.msg_agent_code_unique'),
            ]
        cls._order = [('code', 'ASC'), ('id', 'ASC')]

    @staticmethod
    def default_account():
        Account = Pool().get('account.account')
        accounts = Account.search([('code', '=', '57')], limit=1)
        return accounts[0].id if accounts else None

    def new_key(self, name=None):
        "Make an API key for the agent; returns the key, shown only now."
        Key = Pool().get('rkc.payment.agent.key')
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        Key.create([{
                    'agent': self.id, 'name': name,
                    'prefix': key[:len(KEY_PREFIX) + 6],
                    'hash': key_hash(key)}])
        return key

    @classmethod
    def by_key(cls, key):
        "The active agent of a valid, unrevoked key, or None."
        Key = Pool().get('rkc.payment.agent.key')
        keys = Key.search([
                ('hash', '=', key_hash(key)), ('revoked', '=', False),
                ('agent.active', '=', True)], limit=1)
        return keys[0].agent if keys else None


class AgentKey(ModelSQL, ModelView):
    __name__ = 'rkc.payment.agent.key'

    agent = fields.Many2One(
        'rkc.payment.agent', "Agent", required=True, ondelete='CASCADE',
        readonly=True)
    name = fields.Char("Name", help="Which system of the agent uses it.")
    prefix = fields.Char("Prefix", readonly=True,
        help="The key's first characters, to tell keys apart.")
    hash = fields.Char("Hash", readonly=True, required=True)
    revoked = fields.Boolean("Revoked", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('hash_unique', Unique(t, t.hash),
                'rkc_utilities.msg_agent_key_unique'),
            ]
        cls._buttons.update({
                'revoke': {
                    'invisible': Eval('revoked', False),
                    'depends': ['revoked'],
                    },
                })

    @staticmethod
    def default_revoked():
        return False

    @classmethod
    @ModelView.button
    def revoke(cls, keys):
        cls.write(keys, {'revoked': True})


class AgentDay(Workflow, ModelSQL, ModelView):
    """An agent's payments through the API on one day: posted to the
    general ledger as one batch; until then a payment of the day may be
    cancelled."""
    __name__ = 'rkc.payment.agent.day'

    agent = fields.Many2One(
        'rkc.payment.agent', "Agent", required=True, readonly=True,
        ondelete='RESTRICT')
    date = fields.Date("Date", required=True, readonly=True)
    postings = fields.One2Many(
        'rkc.ledger.posting', 'origin', "General Ledger", readonly=True)
    state = fields.Selection([
            ('open', "Open"),
            ('posted', "Posted"),
            ], "State", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('agent_date_unique', Unique(t, t.agent, t.date),
                'rkc_utilities.msg_agent_day_unique'),
            ]
        cls._order = [('date', 'DESC'), ('agent', 'ASC'), ('id', 'DESC')]
        cls._transitions |= {('open', 'posted')}
        cls._buttons.update({
                'post': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'open'

    def get_rec_name(self, name):
        return f'{self.agent.code} {self.date:%d.%m.%Y}'

    @classmethod
    def of(cls, agent, date):
        """The agent's day, added by the first payment; concurrent first
        payments keep one (ON CONFLICT)."""
        table = cls.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        cursor.execute(*table.insert(
                [table.agent, table.date, table.state, table.create_uid,
                    table.create_date],
                [[agent.id, date, 'open', transaction.user,
                        CurrentTimestamp()]],
                on_conflict=Conflict(
                    table, indexed_columns=[table.agent, table.date])))
        day, = cls.search([('agent', '=', agent.id), ('date', '=', date)])
        return day

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, days):
        """One move per centre for the day's API payments and their
        cancellations: the agent's account against settlements."""
        pool = Pool()
        Payment = pool.get('rkc.payment')
        Posting = pool.get('rkc.ledger.posting')
        for day in days:
            # Payments of the day may still come and be cancelled.
            if day.date >= today():
                raise PaymentError(gettext(
                        'rkc_utilities.msg_agent_day_not_over',
                        day=day.rec_name))
            Posting.summarize(str(day), day.date,
                gettext('rkc_utilities.msg_agent_day_move',
                    day=day.rec_name),
                counter_account=day.agent.account,
                line_origins=Payment.ledger_origins(
                    lambda t, day=day: (t.agent == day.agent.id)
                    & (t.date == day.date) & (t.channel == 'agent')))
