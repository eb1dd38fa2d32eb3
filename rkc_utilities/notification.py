# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Notification campaigns: due-date reminders, debt notices, reading and
verification reminders selected by rules, sent by e-mail, SMS and voice
calls with the consumer's consent and outside quiet hours. Each message
keeps its delivery status: a restriction notice needs proof of delivery."""
import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

from dateutil.relativedelta import relativedelta
from sql import Null
from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.tools.timezone import get_tzinfo
from trytond.transaction import Transaction

from rkc import queue
from rkc.engine.dated import add_months
from rkc.engine.regulations import default_regulations
from rkc.notify import mail, sms, texts, voice
from rkc.notify.errors import ConfigError, DeliveryError
from rkc.notify.quiet import quiet_until, utc_now

from .common import today
from .exceptions import NotificationError, PostedError
from .portal import READING_DAYS

KINDS = [
    ('due_reminder', "Due-Date Reminder"),
    ('debt_notice', "Debt Notice"),
    ('reading_reminder', "Reading Reminder"),
    ('verification_reminder', "Verification Reminder"),
    ('restriction_notice', "Restriction Notice"),
    ]
CHANNELS = [
    ('email', "E-mail"),
    ('sms', "SMS"),
    ('call', "Call"),
    ]
STATES = [
    ('queued', "Queued"),
    ('sent', "Sent"),
    ('delivered', "Delivered"),
    ('failed', "Failed"),
    ('skipped', "Skipped"),
    ]
REASONS = [
    (None, ""),
    ('no_consent', "No consent to this channel"),
    ('no_address', "No e-mail address or phone number"),
    ('bad_address', "Not a valid e-mail address or mobile number"),
    ]
# Channels that disturb at night; an e-mail waits in the mailbox.
QUIET_CHANNELS = {'sms', 'call'}
CONSENT = {'email': 'email_consent', 'sms': 'sms_consent',
    'call': 'call_consent'}
logger = logging.getLogger(__name__)
# Messages handed over per transaction: a crash repeats at most these.
SEND_CHUNK = 100


def _configuration():
    return Pool().get('rkc.configuration')(1)


def _checked(settings):
    "The settings, or the configuration error as a user error."
    try:
        settings.check()
    except ConfigError as error:
        raise NotificationError(gettext(
                f'rkc_utilities.msg_notification_{error.code}',
                detail=str(error))) from error
    return settings


def smtp_settings():
    configuration = _configuration()
    return mail.SmtpSettings(
        host=configuration.smtp_host, port=configuration.smtp_port,
        sender=configuration.notification_sender,
        user=config.get('rkc', 'smtp_user', default=None),
        password=config.get('rkc', 'smtp_password', default=None),
        starttls=bool(configuration.smtp_starttls))


def gateway_settings():
    configuration = _configuration()
    return sms.GatewaySettings(
        url=configuration.sms_gateway_url,
        token=config.get('rkc', 'sms_gateway_token', default=None),
        body=configuration.sms_body_template or sms.DEFAULT_BODY,
        id_field=configuration.sms_id_field or 'id')


CHANNEL_SETTINGS = {
    'email': smtp_settings,
    'sms': gateway_settings,
    'call': voice.Espeak,
    }


def notification_directory():
    "Where the audio files and call lists of this database are written."
    base = config.get('rkc', 'notification_directory', default=None) or (
        Path(config.get('database', 'path')) / 'notifications')
    return Path(base) / Transaction().database.name


def local_time(utc):
    "The company's local time of a naive UTC date-time."
    company = Pool().get('company.company')(
        Transaction().context['company'])
    zone = get_tzinfo(company.timezone or 'UTC')
    return utc.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)


def to_utc(local):
    company = Pool().get('company.company')(
        Transaction().context['company'])
    zone = get_tzinfo(company.timezone or 'UTC')
    return local.replace(tzinfo=zone).astimezone(dt.UTC).replace(
        tzinfo=None)


class Configuration(metaclass=PoolMeta):
    __name__ = 'rkc.configuration'

    smtp_host = fields.Char("SMTP Host",
        help="The mail server notices are sent through.")
    smtp_port = fields.Integer("SMTP Port",
        domain=[('smtp_port', '>', 0)])
    smtp_starttls = fields.Boolean("STARTTLS",
        help="Encrypt the connection to the mail server. The user and "
        "password, if any, are in trytond's configuration ([rkc] smtp_user, "
        "smtp_password).")
    notification_sender = fields.Char("Notices From",
        help="The sender address of the notices sent by e-mail.")
    sms_gateway_url = fields.Char("SMS Gateway URL",
        help="Each SMS is posted there as JSON. The token, if the gateway "
        "wants one, is in trytond's configuration ([rkc] "
        "sms_gateway_token).")
    sms_body_template = fields.Text("SMS Request Body",
        help="A JSON object whose strings may contain {phone}, {text} and "
        "{reference} (our message id).")
    sms_id_field = fields.Char("Gateway Message Id Field",
        help="Where the gateway's answer has its message id, e.g. \"id\" or "
        "\"result.message_id\".")
    quiet_start = fields.Time("Quiet Hours From",
        help="No SMS or call from this local time on…")
    quiet_end = fields.Time("Quiet Hours Until",
        help="…until this local time; messages due then wait.")
    notification_attempts = fields.Integer("Attempts",
        domain=[('notification_attempts', '>', 0)],
        help="How many times a message is tried before it stays failed.")
    notification_retry = fields.Integer("Retry After",
        domain=[('notification_retry', '>', 0)],
        help="Minutes before a failed message is tried again, multiplied "
        "by the number of attempts so far.")

    @staticmethod
    def default_smtp_port():
        return 25

    @staticmethod
    def default_sms_body_template():
        return sms.DEFAULT_BODY

    @staticmethod
    def default_sms_id_field():
        return 'id'

    @staticmethod
    def default_quiet_start():
        return dt.time(21)

    @staticmethod
    def default_quiet_end():
        return dt.time(9)

    @staticmethod
    def default_notification_attempts():
        return 3

    @staticmethod
    def default_notification_retry():
        return 30

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        checked = {'sms_gateway_url', 'sms_body_template'}
        if field_names is not None and not (checked & set(field_names)):
            return
        for record in records:
            if record.sms_gateway_url or record.sms_body_template:
                _checked(sms.GatewaySettings(
                        record.sms_gateway_url or 'https://gateway',
                        body=record.sms_body_template or sms.DEFAULT_BODY))


class Campaign(DeactivableMixin, ModelSQL, ModelView):
    "Reminders or notices of one kind, to the accounts its rules select."
    __name__ = 'rkc.notification.campaign'

    name = fields.Char("Name", required=True)
    kind = fields.Selection(KINDS, "Kind", required=True,
        help="What the messages are about; it decides how accounts are "
        "selected and the default texts.")
    centre = fields.Many2One('rkc.centre', "Centre", ondelete='RESTRICT',
        help="Only the accounts of this centre; empty: all centres.")
    by_email = fields.Boolean("By E-mail")
    by_sms = fields.Boolean("By SMS")
    by_call = fields.Boolean("By Call",
        help="Spoken text rendered to audio and put on the call list of "
        "the phone centre's autodialer.")
    min_debt = fields.Numeric("Debt Above", digits=(16, 2), required=True,
        states={'invisible': ~Eval('kind').in_(
                ['due_reminder', 'debt_notice'])},
        help="Only accounts whose balance is above this amount.")
    days = fields.Integer("Days Ahead", required=True,
        domain=[('days', '>=', 0)],
        help="Due-date reminders: the due date is within this many days; "
        "reading reminders: the portal's reading window (utilities "
        "configuration) closes within this many days; verification "
        "reminders: a meter's verification is due within this many days.")
    scheduled = fields.Boolean("Scheduled",
        help="Run every day by the scheduler. A campaign sends each "
        "account one message per channel and occasion (due date, window, "
        "month), however often it runs.")
    subject = fields.Char("E-mail Subject",
        help="Empty: the default of the kind. Placeholders as in the text.")
    text = fields.Text("Text",
        help="The SMS and e-mail text; empty: the default of the kind. "
        "Placeholders: {number}, {amount}, {due_date}, {close_date}, "
        "{meter}, {verification_date}, {centre}, {centre_phone}.")
    spoken_text = fields.Text("Spoken Text",
        help="What the call says; empty: the default of the kind. Besides "
        "the text's placeholders: {number_words}, {amount_words}, "
        "{due_date_words}, {close_date_words}, "
        "{verification_date_words}.")
    runs = fields.One2Many('rkc.notification.run', 'campaign', "Runs",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'run': {
                    'invisible': ~Eval('active'),
                    'depends': ['active'],
                    },
                })

    @staticmethod
    def default_min_debt():
        return Decimal(0)

    @staticmethod
    def default_days():
        return 5

    @staticmethod
    def default_by_email():
        return True

    def templates(self):
        "(subject, text, spoken text), the kind's defaults where empty."
        defaults = texts.DEFAULTS[self.kind]
        return tuple(own or default for own, default in zip(
                (self.subject, self.text, self.spoken_text), defaults,
                strict=True))

    def channels(self):
        return [c for c, _ in CHANNELS if getattr(self, f'by_{c}')]

    @classmethod
    def validate_fields(cls, campaigns, field_names):
        super().validate_fields(campaigns, field_names)
        checked = {'kind', 'subject', 'text', 'spoken_text'}
        if field_names is not None and not (checked & set(field_names)):
            return
        sample = texts.values('0000000000', 'РКЦ', '', amount=1,
            due_date=today(), close_date=today(), meter='1',
            verification_date=today())
        for campaign in campaigns:
            for template in campaign.templates():
                try:
                    texts.render(template, sample)
                except ConfigError as error:
                    raise NotificationError(gettext(
                            'rkc_utilities.msg_notification_template',
                            campaign=campaign.rec_name,
                            detail=str(error))) from error

    def check_channels(self):
        "Refuse to run with a channel that cannot send."
        if not self.channels():
            raise NotificationError(gettext(
                    'rkc_utilities.msg_notification_no_channel',
                    campaign=self.rec_name))
        for channel in self.channels():
            _checked(CHANNEL_SETTINGS[channel]())

    @classmethod
    @ModelView.button
    def run(cls, campaigns):
        "Select today's accounts and send, in a background job."
        for campaign in campaigns:
            campaign.check_channels()
        transaction = Transaction()
        transaction.atexit(queue.enqueue_all,
            'rkc.notify_jobs.run_campaign', [
                (transaction.database.name, transaction.user,
                    {'company': transaction.context.get('company')}, c.id)
                for c in campaigns])

    @classmethod
    def run_scheduled(cls):
        """Cron: run the scheduled campaigns; one that cannot send is
        logged and left out rather than stopping the others."""
        runnable = []
        for campaign in cls.search([('scheduled', '=', True)]):
            try:
                campaign.check_channels()
            except NotificationError as error:
                logger.warning('campaign %s not run: %s', campaign.id,
                    error.message)
                continue
            runnable.append(campaign)
        cls.run(runnable)

    def occasion(self, date):
        """The day the messages are about, one run per campaign and
        occasion; None when there is nothing to say on ``date``."""
        if self.kind == 'restriction_notice':
            # Sent case by case from a legal case (rkc.legal.case), never
            # to a selection.
            return None
        horizon = date + dt.timedelta(days=self.days)
        if self.kind == 'due_reminder':
            regulations = default_regulations()
            month = date.replace(day=1)
            for back in range(3):
                due = regulations.due_date(add_months(month, -back - 1))
                if date <= due <= horizon:
                    return due
            return None
        if self.kind == 'reading_reminder':
            last = add_months(date.replace(day=1), 1) - dt.timedelta(days=1)
            close_day = (_configuration().reading_last_day
                or READING_DAYS[1])
            close = date.replace(day=min(close_day, last.day))
            return close if date <= close <= horizon else None
        return date.replace(day=1)

    def start(self, date):
        """The run of the occasion of ``date``, created once, and the ids
        of the accounts the rules select for it; (None, []) when there is
        no occasion. The messages are added by chunks of these ids."""
        pool = Pool()
        Run = pool.get('rkc.notification.run')
        occasion = self.occasion(date)
        if occasion is None:
            return None, []
        self.check_channels()
        # Two runs of one campaign at once would both create the run.
        self.__class__.lock([self])
        runs = Run.search([
                ('campaign', '=', self.id), ('occasion', '=', occasion)])
        if runs:
            run, = runs
        else:
            run, = Run.create([{'campaign': self.id, 'occasion': occasion}])
        query, _, _ = self._selection(date, occasion)
        cursor = Transaction().connection.cursor()
        cursor.execute(*query)
        return run, sorted(row[0] for row in cursor)

    def select(self, date, occasion, account_ids):
        """{account id: its placeholder values} of the accounts among
        ``account_ids`` that the campaign's rules select."""
        query, extra, meters = self._selection(date, occasion, account_ids)
        cursor = Transaction().connection.cursor()
        cursor.execute(*query)
        selected = {}
        for account_id, number, premise, name, phone, debt in cursor:
            values = dict(extra)
            if self.kind == 'verification_reminder':
                values['meter'], values['verification_date'] = \
                    meters[premise]
            selected[account_id] = texts.values(
                number, name, phone, amount=debt, **values)
        return selected

    def _selection(self, date, occasion, account_ids=None):
        """The query of the selected accounts (among ``account_ids`` if
        given), the placeholders common to all, and the meters due by
        premise for verification reminders."""
        pool = Pool()
        Account = pool.get('rkc.account')
        Centre = pool.get('rkc.centre')
        Line = pool.get('rkc.ledger.line')
        account = Account.__table__()
        centre = Centre.__table__()
        line = Line.__table__()
        where = account.state == 'open'
        line_where = None
        premises = None
        if account_ids is not None:
            where &= account.id.in_(account_ids)
            line_where = line.account.in_(account_ids)
            premises = Account.__table__()
            premises = premises.select(premises.premise,
                where=premises.id.in_(account_ids))
        if self.centre:
            where &= account.centre == self.centre.id
        balance = line.select(line.account, Sum(line.amount).as_('amount'),
            where=line_where, group_by=[line.account])
        amount = Coalesce(balance.amount, 0)
        extra, meters = {}, None
        if self.kind in ('due_reminder', 'debt_notice'):
            where &= amount > self.min_debt
            if self.kind == 'due_reminder':
                extra = {'due_date': occasion}
        elif self.kind == 'reading_reminder':
            where &= account.premise.in_(self._premises_without_readings(
                    date.replace(day=1)))
            extra = {'close_date': occasion}
        else:
            meters = self._meters_due(date, premises)
            where &= account.premise.in_(list(meters) or [-1])
        query = account.join(centre, condition=centre.id == account.centre
            ).join(balance, 'LEFT', condition=balance.account == account.id
            ).select(account.id, account.number, account.premise,
                centre.name, centre.phone, amount, where=where)
        return query, extra, meters

    @staticmethod
    def _premises_without_readings(month):
        "Premises with an active meter not read since ``month`` began."
        pool = Pool()
        Meter = pool.get('rkc.meter')
        Reading = pool.get('rkc.meter.reading')
        meter = Meter.__table__()
        reading = Reading.__table__()
        read = reading.select(reading.meter, where=(
                reading.read_at >= dt.datetime.combine(month, dt.time()))
            & (reading.state != 'rejected')
            & (reading.source != 'estimated'))
        return meter.select(meter.premise, where=(meter.state == 'active')
            & (meter.premise != Null) & ~meter.id.in_(read))

    def _meters_due(self, date, premises=None):
        """{premise: (meter, verification date)} of the active meters (of
        ``premises``, a query, if given) whose verification falls due
        within the campaign's days (the soonest of a premise)."""
        Meter = Pool().get('rkc.meter')
        meter = Meter.__table__()
        where = ((meter.state == 'active') & (meter.premise != Null)
            & (meter.verification_interval != Null))
        if premises is not None:
            where &= meter.premise.in_(premises)
        cursor = Transaction().connection.cursor()
        cursor.execute(*meter.select(meter.premise, meter.serial,
                Coalesce(meter.verified_on, meter.installed_on),
                meter.verification_interval, where=where))
        horizon = date + dt.timedelta(days=self.days)
        due = {}
        for premise, serial, start, years in cursor:
            day = start + relativedelta(years=years)
            if date <= day <= horizon and (
                    premise not in due or day < due[premise][1]):
                due[premise] = (serial, day)
        return due


class Run(ModelSQL, ModelView):
    "A campaign's messages about one occasion, created once."
    __name__ = 'rkc.notification.run'

    campaign = fields.Many2One('rkc.notification.campaign', "Campaign",
        required=True, readonly=True, ondelete='CASCADE')
    occasion = fields.Date("Occasion", required=True, readonly=True,
        help="The due date, the reading window's last day or the month "
        "the messages are about.")
    messages = fields.One2Many('rkc.notification.message', 'run',
        "Messages", readonly=True)
    call_list = fields.Char("Call List", readonly=True,
        help="The CSV file of the autodialer: phone, account, text, audio "
        "file.")
    queued = fields.Function(fields.Integer("Queued"), 'get_counts')
    sent = fields.Function(fields.Integer("Sent"), 'get_counts')
    delivered = fields.Function(fields.Integer("Delivered"), 'get_counts')
    failed = fields.Function(fields.Integer("Failed"), 'get_counts')
    skipped = fields.Function(fields.Integer("Skipped"), 'get_counts')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('campaign_occasion_unique', Unique(t, t.campaign, t.occasion),
                'rkc_utilities.msg_notification_run_unique'),
            ]
        cls._order.insert(0, ('occasion', 'DESC'))
        cls._buttons.update({'send': {}})

    def get_rec_name(self, name):
        return f'{self.campaign.rec_name} {self.occasion:%d.%m.%Y}'

    @classmethod
    def get_counts(cls, runs, names):
        Message = Pool().get('rkc.notification.message')
        message = Message.__table__()
        counts = {n: dict.fromkeys((r.id for r in runs), 0) for n in names}
        cursor = Transaction().connection.cursor()
        for sub_ids in grouped_slice([r.id for r in runs],
                backend.MAX_QUERY_PARAMS):
            cursor.execute(*message.select(
                    message.run, message.state, Count(message.id),
                    where=message.run.in_(list(sub_ids)),
                    group_by=[message.run, message.state]))
            for run, state, count in cursor:
                if state in counts:
                    counts[state][run] = count
        return counts

    def add_messages(self, date, account_ids):
        """A message for each account among ``account_ids`` that the
        campaign selects on ``date``, on each channel the run has not got
        yet: queued, or skipped with the reason."""
        pool = Pool()
        Account = pool.get('rkc.account')
        Message = pool.get('rkc.notification.message')
        selected = self.campaign.select(date, self.occasion, account_ids)
        subject, text, spoken = self.campaign.templates()
        channels = self.campaign.channels()
        now = utc_now()
        for sub_ids in grouped_slice(list(selected),
                backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            accounts = Account.browse(sub_ids)
            existing = {(m.account.id, m.channel) for m in Message.search([
                        ('run', '=', self.id),
                        ('account', 'in', sub_ids)])}
            to_create = []
            for account in accounts:
                for channel in channels:
                    if (account.id, channel) in existing:
                        continue
                    recipient, reason = Message.address(account, channel)
                    fields_ = selected[account.id]
                    to_create.append({
                            'run': self.id, 'account': account.id,
                            'channel': channel, 'recipient': recipient,
                            'subject': (texts.render(subject, fields_)
                                if channel == 'email' else None),
                            'text': texts.render(
                                spoken if channel == 'call' else text,
                                fields_),
                            'state': 'skipped' if reason else 'queued',
                            'reason': reason,
                            'next_attempt': None if reason else now,
                            })
            Message.create(to_create)

    @classmethod
    @ModelView.button
    def send(cls, runs):
        "Send what is due now, in a background job."
        transaction = Transaction()
        transaction.atexit(queue.enqueue_all, 'rkc.notify_jobs.send_run', [
                (transaction.database.name, transaction.user,
                    {'company': transaction.context.get('company')}, r.id)
                for r in runs])

    def send_due(self, now, limit=SEND_CHUNK):
        """Hand over up to ``limit`` messages due at ``now`` (UTC); those in
        quiet hours are put off until the hours end. Returns how many were
        taken, 0 when nothing is due."""
        pool = Pool()
        Message = pool.get('rkc.notification.message')
        messages = Message.search([
                ('run', '=', self.id),
                ('next_attempt', '<=', now),
                ('state', 'in', ['queued', 'failed']),
                ], order=[('id', 'ASC')], limit=limit)
        if not messages:
            return 0
        Message.lock(messages)
        configuration = _configuration()
        quiet = quiet_until(local_time(now), configuration.quiet_start,
            configuration.quiet_end)
        channels = {m.channel for m in messages}
        senders = {c: Sender.for_channel(c, self) for c in channels}
        try:
            to_write = []
            for message in messages:
                to_write += [[message], message.hand_over(
                        senders[message.channel], now,
                        quiet and to_utc(quiet), configuration)]
            Message.write(*to_write)
        finally:
            for sender in senders.values():
                sender.close()
        if 'call' in channels:
            self.write_call_list()
        return len(messages)

    def directory(self):
        path = notification_directory() / f'run-{self.id}'
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_call_list(self):
        "The autodialer's file: every call of the run that is to be made."
        Message = Pool().get('rkc.notification.message')
        calls = Message.search([
                ('run', '=', self.id), ('channel', '=', 'call'),
                ('state', '=', 'sent')], order=[('id', 'ASC')])
        path = self.directory() / 'calls.csv'
        voice.write_call_list(path, [(m.recipient, m.account.number, m.text,
                    m.audio_file) for m in calls])
        if self.call_list != str(path):
            self.call_list = str(path)
            self.save()


class Sender:
    "Hands messages of one channel over, keeping a connection if any."

    def __init__(self, run):
        self.run = run

    @staticmethod
    def for_channel(channel, run):
        return {'email': EmailSender, 'sms': SmsSender,
            'call': CallSender}[channel](run)

    def close(self):
        pass


class EmailSender(Sender):
    def __init__(self, run):
        super().__init__(run)
        self.mailer = mail.Mailer(_checked(smtp_settings()))

    def send(self, message):
        return {'provider_id': self.mailer.send(
                message.recipient, message.subject, message.text)}

    def close(self):
        self.mailer.__exit__()


class SmsSender(Sender):
    def __init__(self, run):
        super().__init__(run)
        self.settings = _checked(gateway_settings())

    def send(self, message):
        return {'provider_id': sms.send(self.settings, message.recipient,
                message.text, message.id)}


class CallSender(Sender):
    def __init__(self, run):
        super().__init__(run)
        _checked(voice.Espeak)
        self.directory = run.directory()

    def send(self, message):
        name = f'message-{message.id}.wav'
        voice.speak(message.text, self.directory / name)
        return {'audio_file': name}


class Message(ModelSQL, ModelView):
    "One notice to one account on one channel, with its delivery status."
    __name__ = 'rkc.notification.message'

    run = fields.Many2One('rkc.notification.run', "Run", required=True,
        readonly=True, ondelete='CASCADE')
    account = fields.Many2One('rkc.account', "Account", required=True,
        readonly=True, ondelete='RESTRICT')
    centre = fields.Function(fields.Many2One('rkc.centre', "Centre"),
        'get_centre', searcher='search_centre')
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    recipient = fields.Char("Recipient", readonly=True,
        help="The e-mail address or phone number used.")
    subject = fields.Char("Subject", readonly=True)
    text = fields.Text("Text", readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        help="Sent: accepted by the mail server, the SMS gateway, or put "
        "on the call list. Delivered: the gateway reported delivery.")
    reason = fields.Selection(REASONS, "Reason Skipped", readonly=True)
    attempts = fields.Integer("Attempts", readonly=True)
    next_attempt = fields.DateTime("Next Attempt", readonly=True,
        help="When the message is due (after quiet hours or a failure); "
        "empty once it needs nothing more.")
    sent_at = fields.DateTime("Sent At", readonly=True)
    delivered_at = fields.DateTime("Delivered At", readonly=True)
    provider_id = fields.Char("Provider Id", readonly=True,
        help="The gateway's message id or the e-mail's Message-ID.")
    audio_file = fields.Char("Audio File", readonly=True,
        help="The spoken text as WAV, in the run's directory.")
    error = fields.Text("Error", readonly=True,
        help="The last answer of the server or gateway that refused it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('run_account_channel_unique',
                Unique(t, t.run, t.account, t.channel),
                'rkc_utilities.msg_notification_message_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.provider_id, Index.Equality()),
                    where=t.provider_id != Null),
                Index(t, (t.run, Index.Equality()),
                    (t.next_attempt, Index.Range()),
                    where=t.next_attempt != Null),
                })
        cls._order = [('id', 'DESC')]

    @staticmethod
    def default_attempts():
        return 0

    def get_centre(self, name):
        return self.account.centre.id

    @classmethod
    def search_centre(cls, name, clause):
        return [('account.centre',) + tuple(clause[1:])]

    @staticmethod
    def address(account, channel):
        "(recipient, reason skipped) of an account on a channel."
        if not getattr(account, CONSENT[channel]):
            return None, 'no_consent'
        if channel == 'email':
            address = (account.email or '').strip()
            if not address:
                return None, 'no_address'
            if '@' not in address.strip('@'):
                return address, 'bad_address'
            return address, None
        if not (account.phone or '').strip():
            return None, 'no_address'
        phone = sms.normalise_phone(account.phone)
        return (phone, None) if phone else (account.phone, 'bad_address')

    def hand_over(self, sender, now, quiet_end, configuration):
        "The values after one attempt to send the message at ``now``."
        recipient, reason = self.address(self.account, self.channel)
        if reason:
            # Consent withdrawn or contact changed since the run.
            return {'state': 'skipped', 'reason': reason,
                'next_attempt': None}
        if quiet_end and self.channel in QUIET_CHANNELS:
            return {'next_attempt': quiet_end}
        attempts = self.attempts + 1
        try:
            values = sender.send(self)
        except DeliveryError as error:
            retry = None
            if attempts < configuration.notification_attempts:
                retry = now + dt.timedelta(
                    minutes=configuration.notification_retry * attempts)
            return {'state': 'failed', 'attempts': attempts,
                'error': str(error), 'next_attempt': retry}
        values.update(state='sent', attempts=attempts, sent_at=now,
            error=None, next_attempt=None)
        return values

    @classmethod
    def delivery_report(cls, provider_id, status, error=None, at=None):
        """Record the SMS gateway's report on a message; False when no
        message has that id."""
        messages = cls.search([
                ('provider_id', '=', provider_id),
                ('channel', '=', 'sms')], limit=1)
        if not messages:
            return False
        message, = messages
        state = sms.report_status(status)
        if state == 'delivered':
            cls.write([message], {'state': 'delivered',
                    'delivered_at': at or utc_now()})
        elif state == 'failed' and message.state != 'delivered':
            cls.write([message], {'state': 'failed',
                    'error': error or str(status), 'next_attempt': None})
        return True

    @classmethod
    def send_due_runs(cls):
        "Cron: queue the sending of every run with messages due."
        Run = Pool().get('rkc.notification.run')
        message = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*message.select(message.run, distinct=True,
                where=(message.next_attempt <= utc_now())
                & message.state.in_(['queued', 'failed'])))
        Run.send(Run.browse([r for r, in cursor]))

    @classmethod
    def check_modification(cls, mode, messages, values=None,
            external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if external and mode in {'write', 'delete'}:
            raise PostedError(gettext(
                    'rkc_utilities.msg_notification_message_readonly'))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('rkc.notification.campaign|run_scheduled',
                    "Run Scheduled Notification Campaigns"),
                ('rkc.notification.message|send_due_runs',
                    "Send Due Notifications"),
                ])
