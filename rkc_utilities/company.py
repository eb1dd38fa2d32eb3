# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"The supplier's bank details printed on receipts and in the payment QR code."
from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import PoolMeta

from rkc.engine.bank import account_key_is_valid, correspondent_key_is_valid
from rkc.engine.errors import CalculationError

from .exceptions import BankDetailsError


class Company(metaclass=PoolMeta):
    __name__ = 'company.company'

    payee_name = fields.Char(
        "Payee Name", size=160,
        help="The payee's name as printed on receipts and in the QR code.")
    payee_inn = fields.Char(
        "Payee INN", size=12, help="The payee's taxpayer number (ИНН).")
    payee_kpp = fields.Char(
        "Payee KPP", size=9,
        help="The payee's tax registration reason code (КПП).")
    settlement_account = fields.Char(
        "Settlement Account", size=20,
        help="The 20-digit settlement account (расчётный счёт) that "
        "consumers pay into.")
    bank_name = fields.Char(
        "Bank", size=45, help="The name of the payee's bank.")
    bank_bic = fields.Char(
        "BIC", size=9, help="The 9-digit bank identification code (БИК).")
    correspondent_account = fields.Char(
        "Correspondent Account", size=20,
        help="The bank's 20-digit correspondent account (корр. счёт).")

    @classmethod
    def validate_fields(cls, companies, field_names):
        super().validate_fields(companies, field_names)
        bank_fields = {
            'settlement_account', 'bank_bic', 'correspondent_account'}
        if field_names is None or field_names & bank_fields:
            for company in companies:
                company.check_bank_details()

    def check_bank_details(self):
        "Refuse an account or a correspondent account that fails its key."
        if not (self.settlement_account or self.correspondent_account):
            return
        try:
            if self.settlement_account and not account_key_is_valid(
                    self.settlement_account, self.bank_bic or ''):
                raise BankDetailsError(gettext(
                        'rkc_utilities.msg_settlement_account_key',
                        account=self.settlement_account,
                        bic=self.bank_bic))
            if self.correspondent_account and not (
                    correspondent_key_is_valid(
                        self.correspondent_account, self.bank_bic or '')):
                raise BankDetailsError(gettext(
                        'rkc_utilities.msg_correspondent_account_key',
                        account=self.correspondent_account,
                        bic=self.bank_bic))
        except CalculationError as exc:
            raise BankDetailsError(gettext(
                    'rkc_utilities.msg_bank_details_format',
                    details=str(exc))) from exc
