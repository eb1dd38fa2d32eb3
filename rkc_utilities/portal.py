# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The consumers' portal (личный кабинет) over Tryton's web users: the link
between a web user and the personal accounts they proved to hold, the code
printed on the receipt that proves it, and the phone centre's PIN; the
routes are in portal_routes.py."""
import hashlib
import hmac
from secrets import token_hex

from sql import Null

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.res.user import PASSWORD_HASH, LoginAttempt
from trytond.transaction import Transaction

from .exceptions import PortalError

# Readings are accepted from the consumers from day 15 to day 25 of the
# month unless the configuration says otherwise (rules.md §1: until the
# 25th).
READING_DAYS = (15, 25)
PIN_DIGITS = (4, 8)
CODE_DIGITS = 8


class Configuration(metaclass=PoolMeta):
    __name__ = 'rkc.configuration'

    portal_secret = fields.Char(
        "Portal Secret", readonly=True, strip=False,
        help="The key the portal codes printed on receipts are derived "
        "from; a new key changes every code.")
    reading_first_day = fields.Integer(
        "Readings From Day",
        domain=['OR', ('reading_first_day', '=', None), [
                ('reading_first_day', '>=', 1),
                ('reading_first_day', '<=', 31)]],
        help="The first day of the month consumers may submit readings "
        "in the portal (15 when empty).")
    reading_last_day = fields.Integer(
        "Readings To Day",
        domain=['OR', ('reading_last_day', '=', None), [
                ('reading_last_day', '>=', 1),
                ('reading_last_day', '<=', 31)]],
        help="The last day of the month consumers may submit readings "
        "in the portal (25 when empty).")

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        # Migration from 8.0: databases created before the portal.
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.id, where=table.portal_secret == Null))
        for id_, in cursor.fetchall():
            cursor.execute(*table.update(
                    [table.portal_secret], [token_hex(32)],
                    where=table.id == id_))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('portal_secret'):
            values['portal_secret'] = token_hex(32)
        return values

    @property
    def reading_days(self):
        return (self.reading_first_day or READING_DAYS[0],
            self.reading_last_day or READING_DAYS[1])


def link_code(secret, number):
    "The code printed on the receipt of account ``number``: 8 digits."
    digest = hmac.new(secret.encode(), number.encode(), hashlib.sha256)
    code = int.from_bytes(digest.digest()[:8], 'big') % 10 ** CODE_DIGITS
    return f'{code:0{CODE_DIGITS}d}'


class Account(metaclass=PoolMeta):
    __name__ = 'rkc.account'

    portal_links = fields.One2Many(
        'rkc.portal.link', 'account', "Portal Users", readonly=True,
        help="The portal users who linked the account.")
    portal_code = fields.Function(fields.Char(
            "Portal Code",
            help="Printed on the receipt: with the account number it links "
            "the account in the portal."),
        'get_portal_code')
    phone_pin_hash = fields.Char("Phone PIN Hash", readonly=True,
        strip=False)
    phone_pin = fields.Function(fields.Char(
            "Phone PIN",
            help="The digits the consumer keys in to hear the balance by "
            "phone; only a hash is stored."),
        'get_phone_pin', setter='set_phone_pin')

    @classmethod
    def copy(cls, accounts, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('portal_links', None)
        default.setdefault('phone_pin_hash', None)
        return super().copy(accounts, default=default)

    @classmethod
    def get_portal_code(cls, accounts, name):
        codes = Pool().get('rkc.portal.link').codes(
            [a.number for a in accounts])
        return {a.id: codes.get(a.number) for a in accounts}

    def get_phone_pin(self, name):
        return '' if not self.phone_pin_hash else '*' * PIN_DIGITS[0]

    @classmethod
    def set_phone_pin(cls, accounts, name, value):
        if value == '*' * PIN_DIGITS[0]:
            return
        if value and not (value.isdigit()
                and PIN_DIGITS[0] <= len(value) <= PIN_DIGITS[1]):
            raise PortalError(gettext(
                    'rkc_utilities.msg_phone_pin_format',
                    minimum=PIN_DIGITS[0], maximum=PIN_DIGITS[1]))
        cls.write(accounts, {
                'phone_pin_hash': PASSWORD_HASH.hash(value) if value
                else None})

    def check_phone_pin(self, pin):
        if not self.phone_pin_hash:
            return False
        valid, _ = PASSWORD_HASH.verify_and_update(pin, self.phone_pin_hash)
        return valid


class PortalLink(ModelSQL, ModelView):
    "A personal account a portal user proved to hold with its receipt code."
    __name__ = 'rkc.portal.link'

    web_user = fields.Many2One(
        'web.user', "Web User", required=True, ondelete='CASCADE')
    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='CASCADE')
    centre = fields.Function(fields.Many2One('rkc.centre', "Centre"),
        'get_centre', searcher='search_centre')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('web_user_account_unique', Unique(t, t.web_user, t.account),
                'rkc_utilities.msg_portal_link_unique'),
            ]

    def get_centre(self, name):
        return self.account.centre.id

    @classmethod
    def search_centre(cls, name, clause):
        return [('account.centre',) + tuple(clause[1:])]

    @classmethod
    def codes(cls, numbers):
        "The receipt codes of account numbers; none without a secret."
        Configuration = Pool().get('rkc.configuration')
        secret = Configuration(1).portal_secret
        if not secret:
            return {}
        return {n: link_code(secret, n) for n in numbers}

    @classmethod
    def link(cls, web_user, number, code):
        """Link the open account ``number`` to ``web_user`` if ``code`` is
        its receipt code; the account, or None."""
        Account = Pool().get('rkc.account')
        accounts = Account.search([
                ('number', '=', number), ('state', '=', 'open')], limit=1)
        expected = cls.codes([number]).get(number)
        if not accounts or not expected or not hmac.compare_digest(
                expected, code):
            return None
        account, = accounts
        if not cls.search([
                    ('web_user', '=', web_user.id),
                    ('account', '=', account.id)], limit=1):
            cls.create([{'web_user': web_user.id, 'account': account.id}])
        return account

    @classmethod
    def accounts(cls, web_user):
        return [link.account for link in cls.search(
                [('web_user', '=', web_user.id)],
                order=[('account.number', 'ASC')])]


class WebUser(metaclass=PoolMeta):
    __name__ = 'web.user'

    portal_links = fields.One2Many(
        'rkc.portal.link', 'web_user', "Personal Accounts", readonly=True)

    # The links in the mails point at the portal of the database asked,
    # which a process-wide setting cannot know.
    def get_email_validation_url(self, url=None):
        return super().get_email_validation_url(
            url or Transaction().context.get('portal_validation_url'))

    def get_email_reset_password_url(self, url=None):
        return super().get_email_reset_password_url(
            url or Transaction().context.get('portal_reset_url'))


class PortalAttempt(LoginAttempt):
    """A failed proof of holding an account: a wrong PIN at the phone
    centre or a wrong receipt code in the portal."""
    __name__ = 'rkc.portal.attempt'
    _table = None  # LoginAttempt names its table explicitly.


class UserApplication(metaclass=PoolMeta):
    __name__ = 'res.user.application'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.application.selection.append(
            ('rkc_phone', "Phone Centre Lookup"))
