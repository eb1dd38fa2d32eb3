# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Payment agents (banks, post offices) and their API keys: a key is shown
once when made and stored only as its SHA-256; revoking it is immediate."""
import hashlib
import secrets

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval

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
