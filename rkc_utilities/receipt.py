# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Receipts (ЕПД) from the subledger: one account's receipt printed from
the desk, bulk printing of a period by chunk jobs (one building each) into
PDF files in delivery order, and delivery by e-mail to consenting
accounts."""
import datetime as dt
import tempfile
from email.message import EmailMessage
from pathlib import Path

from trytond import config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.report import Report
from trytond.sendmail import get_smtp_server, sendmail
from trytond.transaction import Transaction
from trytond.wizard import Button, StateReport, StateView, Wizard

from rkc.documents import from_ledger
from rkc.documents.batch import render_batch
from rkc.documents.receipt import ReceiptWriter, checked_payload, period_name
from rkc.engine.bank import account_key_is_valid, correspondent_key_is_valid
from rkc.engine.errors import CalculationError

from .common import (
    close_when_chunks_done, queue_after_commit, queue_call_after_commit)
from .exceptions import ReceiptError

SCOPES = [
    ('all', "All Centres"),
    ('centre', "Centre"),
    ('building', "Building"),
    ]
PAGES_PER_FILE = 1000


def check_printable(receipts):
    """Refuse to print when any receipt cannot be paid as printed: wrong
    bank details would send the consumers' money astray."""
    for receipt in receipts:
        payee = receipt.payee
        if not account_key_is_valid(payee.account, payee.bic):
            raise ReceiptError(gettext(
                    'rkc_utilities.msg_receipt_settlement_account',
                    account=payee.account, bic=payee.bic))
        if not correspondent_key_is_valid(
                payee.correspondent_account, payee.bic):
            raise ReceiptError(gettext(
                    'rkc_utilities.msg_receipt_correspondent_account',
                    account=payee.correspondent_account, bic=payee.bic))
        try:
            checked_payload(receipt)
        except CalculationError as error:
            raise ReceiptError(gettext(
                    'rkc_utilities.msg_receipt_not_printable',
                    account=receipt.account_number,
                    details=str(error))) from error


def receipts_pdf(account_ids, start):
    "One PDF with the receipts of the accounts for a month, as bytes."
    receipts = from_ledger.receipts(account_ids, start)
    check_printable(receipts)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / 'receipts.pdf'
        with ReceiptWriter(path) as writer:
            for receipt in receipts:
                writer.add(receipt)
        return path.read_bytes()


def _period_start(data, account_ids):
    "The month asked for, or the latest one charged to the accounts."
    Period = Pool().get('rkc.period')
    if data.get('period'):
        return Period(data['period']).start_date
    start = from_ledger.latest_billed_period(account_ids)
    if start is None:
        raise ReceiptError(gettext('rkc_utilities.msg_receipt_no_charges'))
    return start


class AccountReceipt(Report):
    "The receipt of personal accounts, rendered by the ReportLab form."
    __name__ = 'rkc.account.receipt'

    @classmethod
    def _execute(cls, records, header, data, action):
        account_ids = [r.id for r in records]
        return 'pdf', receipts_pdf(
            account_ids, _period_start(data, account_ids))


class PrintReceiptStart(ModelView):
    __name__ = 'rkc.account.receipt.print.start'

    period = fields.Many2One('rkc.period', "Period", required=True,
        help="The month whose receipt to print.")


class PrintReceipt(Wizard):
    "Print the receipt of a chosen month."
    __name__ = 'rkc.account.receipt.print'

    start = StateView('rkc.account.receipt.print.start',
        'rkc_utilities.account_receipt_print_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Print", 'print_', 'tryton-print', default=True),
            ])
    print_ = StateReport('rkc.account.receipt')

    def default_start(self, fields):
        Period = Pool().get('rkc.period')
        start = from_ledger.latest_billed_period(
            [r.id for r in self.records])
        periods = Period.search([('start_date', '=', start)], limit=1) \
            if start else []
        return {'period': periods[0].id} if periods else {}

    def do_print_(self, action):
        return action, {
            'ids': [r.id for r in self.records],
            'period': self.start.period.id,
            }


def receipt_directory():
    "Where bulk receipts of this database are written."
    base = config.get('rkc', 'receipt_directory', default=None) or (
        Path(config.get('database', 'path')) / 'receipts')
    return Path(base) / Transaction().database.name


class ReceiptBatch(Workflow, ModelSQL, ModelView):
    "Bulk printing of a month's receipts and their delivery by e-mail."
    __name__ = 'rkc.receipt.batch'

    period = fields.Many2One(
        'rkc.period', "Period", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    scope = fields.Selection(SCOPES, "Scope", required=True,
        states={'readonly': Eval('state') != 'draft'})
    centre = fields.Many2One('rkc.centre', "Centre",
        states={
            'required': Eval('scope') == 'centre',
            'invisible': Eval('scope') != 'centre',
            'readonly': Eval('state') != 'draft',
            })
    building = fields.Many2One('rkc.building', "Building",
        states={
            'required': Eval('scope') == 'building',
            'invisible': Eval('scope') != 'building',
            'readonly': Eval('state') != 'draft',
            })
    state = fields.Selection([
            ('draft', "Draft"),
            ('printing', "Printing"),
            ('done', "Done"),
            ], "State", readonly=True, required=True)
    chunks = fields.One2Many(
        'rkc.receipt.batch.chunk', 'batch', "Files", readonly=True)
    progress = fields.Function(fields.Float(
            "Progress", digits=(1, 2),
            help="Share of the buildings printed."),
        'get_progress')
    directory = fields.Function(fields.Char(
            "Directory", help="Where the PDF files are written."),
        'get_directory')
    deliveries = fields.One2Many(
        'rkc.receipt.delivery', 'batch', "E-mail Deliveries", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {('draft', 'printing'), ('printing', 'done'),
            ('done', 'printing')}
        cls._buttons.update({
                'print_': {
                    'invisible': Eval('state') == 'printing',
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') != 'printing',
                    'depends': ['state'],
                    },
                'send': {
                    'invisible': Eval('state') != 'done',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_scope():
        return 'all'

    def get_rec_name(self, name):
        scope = (self.centre.rec_name if self.centre
            else self.building.rec_name if self.building else '')
        return ' '.join(filter(None, [self.period.name, scope]))

    def get_progress(self, name):
        if not self.chunks:
            return 0.0
        return sum(1 for c in self.chunks if c.state == 'printed') / len(
            self.chunks)

    def get_directory(self, name):
        return str(receipt_directory() / f'{self.period.name}-{self.id}')

    def buildings(self):
        Building = Pool().get('rkc.building')
        if self.scope == 'building':
            return [self.building.id]
        domain = []
        if self.scope == 'centre':
            domain.append(('centre', '=', self.centre.id))
        return [b.id for b in Building.search(domain, order=[('id', 'ASC')])]

    @classmethod
    @ModelView.button
    @Workflow.transition('printing')
    def print_(cls, batches):
        "Print every building again (each chunk overwrites its own file)."
        pool = Pool()
        Chunk = pool.get('rkc.receipt.batch.chunk')
        for batch in batches:
            if not batch.chunks:
                Chunk.create([{'batch': batch.id, 'building': b}
                        for b in batch.buildings()])
        chunks = [c for b in cls.browse(batches) for c in b.chunks]
        Chunk.write(chunks, {'state': 'pending', 'failure': None})
        queue_after_commit('rkc.receipt_jobs.print_chunk', chunks)

    @classmethod
    @ModelView.button
    def resume(cls, batches):
        "Queue again the chunks a killed or failed job left unprinted."
        queue_after_commit('rkc.receipt_jobs.print_chunk', [c
                for b in batches for c in b.chunks if c.state != 'printed'])
        # A worker killed after its chunk but before the closing job.
        queue_call_after_commit(batches, 'finish_if_printed')

    @classmethod
    @ModelView.button
    def send(cls, batches):
        "E-mail the receipts to the accounts that agreed to it."
        queue_after_commit('rkc.receipt_jobs.email_chunk',
            [c for b in batches for c in b.chunks])

    @classmethod
    def finish_if_printed(cls, batch_id):
        """Close the batch if its last chunk is printed and nobody closed it
        yet; the batch is locked only then."""
        close_when_chunks_done(cls(batch_id),
            Pool().get('rkc.receipt.batch.chunk'),
            [('batch', '=', batch_id), ('state', '!=', 'printed')],
            'printing', lambda batch: cls.write([batch], {'state': 'done'}))


class ReceiptBatchChunk(ModelSQL, ModelView):
    "The receipts of one building: a file of its own, rewritten on rerun."
    __name__ = 'rkc.receipt.batch.chunk'

    batch = fields.Many2One(
        'rkc.receipt.batch', "Batch", required=True, ondelete='CASCADE')
    building = fields.Many2One(
        'rkc.building', "Building", required=True, ondelete='RESTRICT')
    state = fields.Selection([
            ('pending', "Pending"),
            ('printed', "Printed"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True)
    pages = fields.Integer("Pages", readonly=True)
    files = fields.Text("Files", readonly=True,
        help="The PDF files of the building, one path a line.")
    failure = fields.Text("Failure", readonly=True,
        help="Why the last attempt failed; the chunk is retried.")

    @staticmethod
    def default_state():
        return 'pending'

    def receipts(self):
        start = self.batch.period.start_date
        return from_ledger.receipts(from_ledger.accounts_of_buildings(
                [self.building.id], start), start)

    def print_(self):
        """Render the building's receipts in delivery order. Idempotent:
        the files are named after the building and written anew."""
        self.__class__.lock([self])
        chunk = self.__class__(self.id)
        receipts = chunk.receipts()
        check_printable(receipts)
        paths = render_batch(receipts, chunk.batch.directory,
            config.getint('rkc', 'receipt_pages_per_file',
                default=PAGES_PER_FILE),
            prefix=f'building-{chunk.building.id}')
        chunk.state = 'printed'
        chunk.pages = len(receipts)
        chunk.files = '\n'.join(str(p) for p in paths)
        chunk.failure = None
        chunk.save()
        # Closing the batch is a job of its own: locking the batch here
        # would make Tryton restart this transaction holding that lock
        # from its start, and the other workers' chunks would wait for (or
        # fail on) it while this one renders.
        queue_call_after_commit([chunk.batch], 'finish_if_printed')

    def email(self):
        """Send each consenting account of the building its receipt as a
        PDF; an account already sent is skipped, a failure is recorded and
        tried again on the next run."""
        pool = Pool()
        Account = pool.get('rkc.account')
        Delivery = pool.get('rkc.receipt.delivery')
        self.__class__.lock([self])
        batch = self.batch
        accounts = {a.id: a for a in Account.browse(
                from_ledger.accounts_of_buildings(
                    [self.building.id], batch.period.start_date))
            if a.email_consent and a.email}
        done = {d.account.id: d for d in Delivery.search([
                    ('batch', '=', batch.id),
                    ('account', 'in', list(accounts))])}
        todo = [a for a in accounts if a not in done
            or done[a].state != 'sent']
        receipts = {r.account_number: r for r in from_ledger.receipts(
                todo, batch.period.start_date)}
        check_printable(receipts.values())
        server = get_smtp_server(strict=True) if todo else None
        sender = config.get('email', 'from')
        records = []
        for account_id in todo:
            account = accounts[account_id]
            message = receipt_message(
                receipts[account.number], sender, account.email)
            values = {'batch': batch.id, 'account': account_id,
                'email': account.email, 'sent_at': dt.datetime.now()}
            try:
                server = sendmail(sender, [account.email], message,
                    server=server, strict=True)
                values.update(state='sent', error=None)
            except Exception as error:
                values.update(state='failed', error=str(error))
            if account_id in done:
                Delivery.write([done[account_id]], values)
            else:
                records.append(values)
        Delivery.create(records)
        if server is not None:
            server.quit()


def receipt_message(receipt, sender, recipient):
    "The e-mail carrying one receipt as a PDF attachment."
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / 'receipt.pdf'
        with ReceiptWriter(path) as writer:
            writer.add(receipt)
        content = path.read_bytes()
    month = period_name(receipt.period)
    message = EmailMessage()
    message['From'] = sender
    message['To'] = recipient
    message['Subject'] = (f'Единый платёжный документ за {month}, '
        f'л/с {receipt.account_number}')
    message.set_content(
        f'Здравствуйте!\n\nНаправляем единый платёжный документ за {month} '
        f'по лицевому счёту {receipt.account_number}. К оплате: '
        f'{receipt.total_to_pay:.2f} руб. до '
        f'{receipt.due_date:%d.%m.%Y}.\n\nОплатить можно по QR-коду на '
        'документе или в кассе РКЦ.\n')
    message.add_attachment(content, maintype='application', subtype='pdf',
        filename=f'epd-{receipt.account_number}-{receipt.period:%Y-%m}.pdf')
    return message


class ReceiptDelivery(ModelSQL, ModelView):
    "A receipt sent, or not, to an account's e-mail address."
    __name__ = 'rkc.receipt.delivery'

    batch = fields.Many2One(
        'rkc.receipt.batch', "Batch", required=True, ondelete='CASCADE')
    account = fields.Many2One(
        'rkc.account', "Account", required=True, ondelete='CASCADE')
    email = fields.Char("E-mail", readonly=True)
    state = fields.Selection([
            ('sent', "Sent"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True)
    sent_at = fields.DateTime("Sent At", readonly=True)
    error = fields.Text("Error", readonly=True,
        help="The mail server's answer when sending failed.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('batch_account_unique', Unique(t, t.batch, t.account),
                'rkc_utilities.msg_receipt_delivery_unique'),
            ]
