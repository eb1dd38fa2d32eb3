# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Meters, their models (Modbus register maps) and their readings."
import datetime as dt
from functools import cache

from dateutil.relativedelta import relativedelta
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction

from rkc import queue
from rkc.metering import jobs, validation

from .common import LeanIndexesMixin, today
from .exceptions import MeterError, ReadingError

METER_STATES = [
    ('active', "Active"),
    ('failed', "Failed"),
    ('removed', "Removed"),
    ]
SOURCES = [
    ('remote', "Remote (Modbus)"),
    ('portal', "Portal"),
    ('desk', "Desk"),
    ('bank', "Bank Registry"),
    ('inspector', "Inspector"),
    ('estimated', "Estimated"),
    ]
READING_STATES = [
    ('valid', "Valid"),
    ('review', "To Review"),
    ('rejected', "Rejected"),
    ]
REASONS = [
    (None, ""),
    ('negative', "Lower than the previous reading"),
    ('spike', "Implausibly high consumption"),
    ('serial_mismatch', "Serial number does not match"),
    ('stale', "Unchanged for months"),
    ('meter_error', "Meter reports an error"),
    ('rollover', "Counter rolled over"),
    ('manual', "Rejected by an operator"),
    ]
# Readings people enter or send, judged as remote ones are; estimates are
# the billing's own and remote readings are judged by the poll.
JUDGED_SOURCES = {'portal', 'desk', 'bank', 'inspector'}


@cache
def _rules():
    return validation.load_rules()


class MeterModel(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'rkc.meter.model'

    name = fields.Char("Name", required=True,
        help="The model as printed on the meter, e.g. ВСКМ 90-15.")
    manufacturer = fields.Char("Manufacturer")
    register_kind = fields.Selection([
            ('holding', "Holding Registers"),
            ('input', "Input Registers"),
            ], "Register Kind", required=True,
        help="Which Modbus table holds the values.")
    value_address = fields.Integer(
        "Value Address", required=True,
        domain=[('value_address', '>=', 0)],
        help="Address of the first zone's 32-bit value (two registers); "
        "further zones follow.")
    zones = fields.Integer(
        "Zones", required=True,
        domain=[('zones', '>=', 1), ('zones', '<=', 3)],
        help="Tariff zones the meter counts (1 to 3).")
    word_order = fields.Selection([
            ('big', "High Word First"),
            ('little', "Low Word First"),
            ], "Word Order", required=True,
        help="Which register of a 32-bit value holds the high word.")
    scale = fields.Numeric(
        "Scale", digits=(16, 6), required=True,
        help="Units per count, e.g. 0.001 m³.")
    status_address = fields.Integer("Status Address",
        help="Address of the status word, if any.")
    serial_address = fields.Integer("Serial Address",
        help="Address of the 32-bit serial number used to verify the "
        "meter's identity.")
    read_gap = fields.Integer("Read Gap", required=True,
        domain=[('read_gap', '>=', 0)],
        help="Reserved registers between the fields that the meter answers "
        "(as zeros), so that one request may span them.")

    @staticmethod
    def default_register_kind():
        return 'holding'

    @staticmethod
    def default_zones():
        return 1

    @staticmethod
    def default_read_gap():
        return 0

    @staticmethod
    def default_word_order():
        return 'big'


class Meter(ModelSQL, ModelView):
    __name__ = 'rkc.meter'
    _history = True

    serial = fields.Char("Serial Number", required=True)
    model = fields.Many2One(
        'rkc.meter.model', "Model", required=True, ondelete='RESTRICT')
    service = fields.Many2One(
        'rkc.service', "Service", required=True, ondelete='RESTRICT')
    premise = fields.Many2One(
        'rkc.premise', "Premise", ondelete='RESTRICT',
        states={'required': ~Bool(Eval('building'))},
        help="The premise of an individual meter.")
    building = fields.Many2One(
        'rkc.building', "Building", ondelete='RESTRICT',
        states={'required': ~Bool(Eval('premise'))},
        help="The building of a common (building) meter.")
    installed_on = fields.Date("Installed On", required=True)
    verified_on = fields.Date("Last Verification",
        help="Date of the last metrological verification (поверка).")
    verification_interval = fields.Integer(
        "Verification Interval", domain=[
            ['OR', ('verification_interval', '=', None),
                ('verification_interval', '>', 0)]],
        help="Years between verifications.")
    next_verification = fields.Function(fields.Date(
            "Next Verification",
            help="After this date the meter counts as failed."),
        'on_change_with_next_verification')
    digits = fields.Integer(
        "Digits", required=True, domain=[('digits', '>', 0)],
        help="Whole digits of the counter; it rolls over after them.")
    zones = fields.Integer(
        "Zones", required=True,
        domain=[('zones', '>=', 1), ('zones', '<=', 3)])
    modbus_host = fields.Char("Gateway Host",
        help="Address of the Modbus TCP gateway the meter is behind.")
    modbus_port = fields.Integer("Gateway Port")
    modbus_unit = fields.Integer("Unit Id",
        domain=[['OR', ('modbus_unit', '=', None),
                [('modbus_unit', '>=', 1), ('modbus_unit', '<=', 247)]]],
        help="The meter's Modbus address on the gateway's bus.")
    state = fields.Selection(METER_STATES, "State", required=True)
    readings = fields.One2Many('rkc.meter.reading', 'meter', "Readings")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('serial_unique', Unique(t, t.model, t.serial),
                'rkc_utilities.msg_meter_serial_unique'),
            ]
        # Premises and buildings have no One2Many of meters, so Tryton
        # does not index these columns itself; billing reads by them, and
        # each chunk of a poll by its gateways.
        cls._sql_indexes.update({
                Index(t, (t.premise, Index.Equality())),
                Index(t, (t.building, Index.Equality())),
                Index(t, (t.modbus_host, Index.Equality()),
                    (t.modbus_port, Index.Equality())),
                })

    @staticmethod
    def default_state():
        return 'active'

    @staticmethod
    def default_digits():
        return 5

    @staticmethod
    def default_zones():
        return 1

    @fields.depends('verified_on', 'verification_interval', 'installed_on')
    def on_change_with_next_verification(self, name=None):
        start = self.verified_on or self.installed_on
        if start and self.verification_interval:
            return start + relativedelta(years=self.verification_interval)

    def get_rec_name(self, name):
        return f'{self.model.rec_name} № {self.serial}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('serial',) + tuple(clause[1:])]

    def verification_expired(self, date=None):
        expires = self.next_verification
        return bool(expires and expires < (date or today()))

    @classmethod
    def fail_expired(cls, date=None):
        """Mark active meters past their verification date as failed, so
        that billing falls back to the average and the norm (rules §1)."""
        meters = cls.search([
                ('state', '=', 'active'),
                ('verification_interval', '!=', None),
                ])
        expired = [m for m in meters if m.verification_expired(date)]
        if expired:
            cls.write(expired, {'state': 'failed'})
        return expired

    @classmethod
    def validate_fields(cls, meters, field_names):
        super().validate_fields(meters, field_names)
        if field_names is None or field_names & {
                'premise', 'building', 'zones', 'model'}:
            for meter in meters:
                meter.check_consistency()

    def check_consistency(self):
        if bool(self.premise) == bool(self.building):
            raise MeterError(gettext(
                    'rkc_utilities.msg_meter_place', meter=self.rec_name))
        if self.zones > self.model.zones:
            raise MeterError(gettext(
                    'rkc_utilities.msg_meter_zones', meter=self.rec_name,
                    zones=self.zones, model_zones=self.model.zones))


class Reading(LeanIndexesMixin, ModelSQL, ModelView):
    __name__ = 'rkc.meter.reading'
    # Who changed a reading and when is part of the audit trail.
    _history = True

    meter = fields.Many2One(
        'rkc.meter', "Meter", required=True, ondelete='RESTRICT')
    read_at = fields.DateTime("Read At", required=True,
        help="When the value was read off the meter.")
    value = fields.Numeric(
        "Value", digits=(16, 6), required=True,
        domain=[('value', '>=', 0)],
        help="The counter's value (the day zone T1 of a multi-zone meter).")
    value_t2 = fields.Numeric(
        "Value T2", digits=(16, 6),
        domain=[['OR', ('value_t2', '=', None), ('value_t2', '>=', 0)]],
        help="The night zone's value.")
    value_t3 = fields.Numeric(
        "Value T3", digits=(16, 6),
        domain=[['OR', ('value_t3', '=', None), ('value_t3', '>=', 0)]],
        help="The third zone's value.")
    source = fields.Selection(SOURCES, "Source", required=True)
    state = fields.Selection(READING_STATES, "State", required=True)
    reason = fields.Selection(REASONS, "Reason",
        states={'invisible': Eval('state') == 'valid'},
        help="Why the reading was rejected or held for review.")
    note = fields.Text("Note")
    poll = fields.Many2One('rkc.meter.poll', "Poll", readonly=True,
        ondelete='SET NULL', help="The remote poll that took the reading.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('meter_read_at_unique', Unique(t, t.meter, t.read_at),
                'rkc_utilities.msg_reading_unique'),
            ]
        # The desk's lists of readings held for review and rejected: a
        # partial index holds only those, not the millions of valid ones.
        cls._sql_indexes.add(
            Index(t, (t.state, Index.Equality()),
                where=t.state.in_(['review', 'rejected'])))
        cls._order = [('read_at', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'accept': {
                    'invisible': Eval('state') == 'valid',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': Eval('state') == 'rejected',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_source():
        return 'desk'

    @staticmethod
    def default_state():
        return 'valid'

    def get_rec_name(self, name):
        return f'{self.meter.rec_name}: {self.value} ({self.read_at:%d.%m.%Y})'

    @classmethod
    def create(cls, vlist):
        readings = super().create(vlist)
        cls.judge([r for r in readings
                if r.source in JUDGED_SOURCES and r.state == 'valid'
                and not r.reason])
        return readings

    @property
    def values(self):
        "The values of the meter's zones."
        return (self.value, self.value_t2, self.value_t3)[:self.meter.zones]

    @classmethod
    def judge(cls, readings):
        """Hold for review the readings that the remote poll's validation
        would: against the meter's last valid reading before each."""
        for reading in readings:
            if None in reading.values:
                continue
            judged = reading.verdict()
            if judged.state != 'valid' or judged.reason:
                cls.write([reading], {
                        'state': judged.state, 'reason': judged.reason})

    def verdict(self):
        """The validation.Verdict on the reading, saved or not yet, against
        the meter's last valid reading before it."""
        meter = self.meter
        return jobs.verdict(
            validation.Meter(meter.serial, meter.service.code, meter.digits),
            self.values, 0, meter.serial, self.read_at, self.previous(),
            _rules())

    def previous(self):
        """validation.Previous of the meter's last valid reading before
        this one, or None."""
        earlier = self.search([
                ('meter', '=', self.meter.id),
                ('state', '=', 'valid'),
                ('read_at', '<', self.read_at),
                ('id', '!=', self.id),
                ], order=[('read_at', 'DESC'), ('id', 'DESC')])
        if not earlier:
            return None
        last = earlier[0]
        if None in last.values:
            return None
        since = last.read_at
        for reading in earlier[1:]:
            if reading.values != last.values:
                break
            since = reading.read_at
        return validation.Previous(last.values, last.read_at, since)

    @classmethod
    def validate_fields(cls, readings, field_names):
        super().validate_fields(readings, field_names)
        if field_names is None or field_names & {'read_at', 'meter'}:
            for reading in readings:
                if reading.read_at.date() < reading.meter.installed_on:
                    raise ReadingError(gettext(
                            'rkc_utilities.msg_reading_before_installation',
                            meter=reading.meter.rec_name,
                            date=reading.read_at.date(),
                            installed=reading.meter.installed_on))

    @classmethod
    @ModelView.button
    def accept(cls, readings):
        cls.write(readings, {'state': 'valid', 'reason': None})

    @classmethod
    @ModelView.button
    def reject(cls, readings):
        cls.write([r for r in readings if not r.reason],
            {'state': 'rejected', 'reason': 'manual'})
        cls.write([r for r in readings if r.reason], {'state': 'rejected'})


class Poll(ModelSQL, ModelView):
    __name__ = 'rkc.meter.poll'

    started_at = fields.DateTime("Started At", readonly=True)
    finished_at = fields.DateTime("Finished At", readonly=True)
    scope = fields.Char("Scope", readonly=True,
        help="Which centre, building or gateways were polled.")
    read_count = fields.Integer("Read", readonly=True)
    failed_count = fields.Integer("Failed", readonly=True)
    rejected_count = fields.Integer("Rejected", readonly=True)
    review_count = fields.Integer("To Review", readonly=True)
    state = fields.Selection([
            ('running', "Running"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True)
    summary = fields.Text("Summary", readonly=True,
        help="Per-gateway figures of the poll.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('started_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def poll_meters(cls, centre=None, building=None, now=None):
        """Queue the chunks of a poll of the current slot (the monthly cron
        before billing); they start once this transaction is committed."""
        transaction = Transaction()
        slot = jobs.poll_slot(now or dt.datetime.now(dt.UTC))
        calls = jobs.chunk_calls(transaction.connection,
            transaction.database.name, slot, centre, building)
        transaction.atexit(queue.enqueue_all,
            'rkc.metering.jobs.poll_tryton_chunk', calls)
        return calls


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('rkc.meter.poll|poll_meters', "Poll Remote Meters"),
                ('rkc.meter|fail_expired',
                    "Fail Meters Past Their Verification"),
                ])
