# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class BankDetailsError(ValidationError):
    "Bank details that fail the control-digit check."


class AreaError(ValidationError):
    "A premise or building area that cannot be right."


class AccountNumberError(ValidationError):
    "A personal account number with a wrong check digit."


class OverlapError(ValidationError):
    "Two dated values of the same scope cover the same day."


class MeterError(ValidationError):
    "Meter data that contradicts itself."


class ReadingError(ValidationError):
    "A meter reading that cannot be accepted."


class ShareError(ValidationError):
    "Ownership shares that do not add up."


class AccountDeletionError(AccessError):
    "A personal account is closed, never deleted."


class PostedError(AccessError):
    "Posted or closed data that may no longer change."


class ScopeError(UserError):
    "A job or report called with a scope that does not exist."


class PeriodError(UserError):
    "A billing period in the wrong state for the operation."


class BillingError(UserError):
    "A billing run that may not run."


class RecalculationError(UserError):
    "A recalculation that cannot be previewed, approved or posted."


class ReceiptError(UserError):
    "A receipt that cannot be printed or sent as it is."


class PaymentError(UserError):
    "A payment, registry or suspense item that cannot be processed."


class SubsidyError(UserError):
    "A subsidy application that cannot be checked, decided or changed."


class AgreementError(UserError):
    "A restructuring agreement that cannot be drawn up or acted on."


class LegalError(UserError):
    "A legal case that cannot take the step asked."


class PortalError(UserError):
    "Portal data that cannot be accepted."


class CashDeskError(UserError):
    "A cash-desk shift or desk payment that the cashier may not take."


class NotificationError(UserError):
    "A notification campaign or channel that cannot send as configured."


class AuditError(UserError):
    "A change to the audit log, which is never changed."
