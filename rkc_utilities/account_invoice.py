# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Customer invoices for organisations: a posted billing run's charges of
accounts marked as organisations also become a Tryton invoice (счёт на
оплату) per account and period.

The invoice replaces the general-ledger summary for those accounts, never
duplicates it:

- it is issued on the settlements account (62.01) as its receivable
  account, so the control account carries it like the summary would;
- the run's summary leaves organisations out; the invoice, made by the
  run's invoicing job after it, gives the charge lines it covers its move
  as their move;
- its VAT, owed by the organisation on top of the charges, goes into the
  subledger as charge lines (method ``vat``) of origin the invoice, split
  over the services taxed, also with the invoice's move: the organisation's
  debt, receipts and penalties include the VAT it pays;
- its move is recorded as a ledger posting of the centre, so the
  reconciliation counts it: per centre the subledger equals 62.01.

Payments of organisations go through the subledger like anyone's; the
invoice's receivable line is not reconciled against them.
"""
import json
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Sum

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.modules.product import price_digits
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from rkc.engine.allocation import pro_rata
from rkc.engine.invoicing import quantity_and_price

from .exceptions import BillingError

# Invoices whose printouts one queued task renders (about 0.3 s each).
PRINTOUTS_PER_TASK = 50


class AccountInvoice(ModelSQL, ModelView):
    "Organisation Invoice"
    __name__ = 'rkc.account.invoice'

    account = fields.Many2One(
        'rkc.account', "Account", required=True, readonly=True,
        ondelete='RESTRICT')
    period = fields.Many2One(
        'rkc.period', "Period", required=True, readonly=True,
        ondelete='RESTRICT')
    invoice = fields.Many2One(
        'account.invoice', "Invoice", required=True, readonly=True,
        ondelete='RESTRICT')
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, readonly=True,
        ondelete='RESTRICT')
    run = fields.Many2One(
        'rkc.billing.run', "Billing Run", readonly=True,
        ondelete='RESTRICT', help="The run whose charges were invoiced.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('account_period_unique', Unique(t, t.account, t.period),
                'rkc_utilities.msg_account_invoice_unique'),
            ]
        cls._order = [('period', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return f'{self.invoice.rec_name} {self.account.rec_name}'

    @classmethod
    def invoice_run(cls, run):
        """Invoice the organisation accounts billed by ``run`` that have no
        invoice for its period yet; returns the records created."""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        amounts = cls._charges(run)
        if not amounts:
            return []
        invoices, records = [], []
        for (account_id, centre_id), services in amounts.items():
            invoice = cls._invoice(run, account_id, services)
            if invoice is None:
                continue
            invoices.append(invoice)
            records.append({'account': account_id, 'period': run.period.id,
                    'centre': centre_id, 'run': run.id})
        Invoice.save(invoices)
        Invoice.update_taxes(invoices)
        # Invoices are dated at the end of the month billed, which may not
        # have come yet: the run is the accountants' decision. Tryton
        # queues one task rendering the printouts of the invoices posted
        # together: posted in slices, the printouts of a town's thousand
        # invoices are rendered by all the workers, not one.
        with Transaction().set_context(_skip_warnings=True):
            for posted in grouped_slice(invoices, PRINTOUTS_PER_TASK):
                Invoice.post(list(posted))
        for values, invoice in zip(records, invoices, strict=True):
            values['invoice'] = invoice.id
        records = cls.create(records)
        for record in records:
            record._summarize(str(run))
        return records

    @classmethod
    def _charges(cls, run):
        """{(account, centre): {service: [amount, volume]}} of the run's
        lines not summarized yet of organisation accounts without an
        invoice for the period, in one query."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Account = pool.get('rkc.account')
        line, account = Line.__table__(), Account.__table__()
        invoiced = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.join(account,
                condition=line.account == account.id).select(
                line.account, line.centre, line.service,
                Sum(line.amount), Sum(line.volume),
                where=(line.origin == str(run)) & (line.move == Null)
                & (account.organisation == True)  # noqa: E712
                & ~line.account.in_(invoiced.select(invoiced.account,
                        where=invoiced.period == run.period.id)),
                group_by=[line.account, line.centre, line.service],
                order_by=[line.account, line.service]))
        amounts = defaultdict(dict)
        for account_id, centre_id, service_id, amount, volume in cursor:
            amounts[(account_id, centre_id)][service_id] = (
                Decimal(str(amount)), Decimal(str(volume or 0)))
        return amounts

    @classmethod
    def _invoice(cls, run, account_id, services):
        "An unsaved invoice of the account's charges, or None if all zero."
        pool = Pool()
        Invoice = pool.get('account.invoice')
        InvoiceLine = pool.get('account.invoice.line')
        Account = pool.get('rkc.account')
        Service = pool.get('rkc.service')
        Configuration = pool.get('rkc.configuration')
        config = Configuration(1)
        account = Account(account_id)
        company = account.centre.company
        lines = []
        for service_id, (amount, volume) in services.items():
            if not amount:
                continue
            service = Service(service_id)
            product = service.product
            if not product:
                raise BillingError(gettext(
                        'rkc_utilities.msg_account_invoice_product',
                        service=service.rec_name))
            quantity, unit_price = quantity_and_price(amount, volume,
                product.default_uom.digits, price_digits[1],
                company.currency.round)
            lines.append(InvoiceLine(type='line', product=product,
                    description=service.name, quantity=quantity,
                    unit=product.default_uom, unit_price=unit_price,
                    account=product.account_revenue_used,
                    taxes=product.customer_taxes_used, company=company,
                    currency=company.currency, invoice_type='out'))
        if not lines:
            return None
        date = run.period.end_date
        return Invoice(type='out', company=company, party=account.payer,
            invoice_address=cls._address(account),
            account=config.settlement_account,
            journal=config.billing_journal, currency=company.currency,
            invoice_date=date, accounting_date=date,
            payment_term=account.payer.customer_payment_term,
            description=gettext(
                'rkc_utilities.msg_account_invoice_description',
                period=run.period.name, account=account.number),
            lines=lines)

    @staticmethod
    def _address(account):
        """The payer's invoice address; an organisation without one gets
        the address of the premises it is billed for."""
        pool = Pool()
        Address = pool.get('party.address')
        address = account.payer.address_get(type='invoice')
        if address:
            return address
        premise = account.premise
        building = premise.building
        address = Address(party=account.payer, city=building.city,
            street=f'{building.street}, д. {building.house}, '
            f'пом. {premise.number}')
        address.save()
        return address

    def _summarize(self, run_origin):
        """Put the invoice's VAT into the subledger and mark the lines it
        covers as summarized by its move, recorded as a ledger posting."""
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Posting = pool.get('rkc.ledger.posting')
        invoice = self.invoice
        line = Line.__table__()
        vat = defaultdict(Decimal)
        for tax in invoice.taxes:
            taxed = [i for i in invoice.lines if tax.tax in i.taxes]
            for invoice_line, part in zip(taxed, pro_rata(
                        tax.amount, [i.amount for i in taxed]),
                    strict=True):
                vat[invoice_line.product] += part
        services = {s.product: s for s in
            pool.get('rkc.service').search([
                    ('product', 'in', [p.id for p in vat])])}
        Line.insert_rows([{
                    'account': self.account.id, 'centre': self.centre.id,
                    'service': services[product].id,
                    'period': self.period.start_date,
                    'date': self.period.end_date, 'kind': 'charge',
                    'amount': amount, 'volume': None, 'tariff': None,
                    'excess': None, 'method': 'vat',
                    'basis': json.dumps({'invoice': invoice.number},
                        ensure_ascii=False),
                    'origin': str(self), 'part': 0}
                for product, amount in vat.items() if amount])
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.update([line.move], [invoice.move.id],
                where=line.origin.in_([run_origin, str(self)])
                & (line.account == self.account.id) & (line.move == Null)))
        Posting.create([{'origin': str(self), 'centre': self.centre.id,
                    'move': invoice.move.id,
                    'amount': invoice.total_amount}])
