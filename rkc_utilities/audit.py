# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql.functions import CurrentTimestamp

from trytond.cache import BaseCache
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, dualmethod, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .exceptions import AuditError

# Context key naming the job (RQ job, cron method, script function) whose
# transaction makes the change; set by rkc.tryton_job and ir.cron.
JOB_CONTEXT = 'rkc_job'
# It only labels the audit log's rows: trytond's caches (access rights,
# record rules, model names), keyed by the context, are not filled anew
# for each job that a process runs.
BaseCache.context_ignored_keys.add(JOB_CONTEXT)
VALUE_SIZE = 1000


class AuditLog(ModelSQL, ModelView):
    "Audit Log"
    __name__ = 'rkc.audit.log'

    model = fields.Char(
        "Model", required=True, readonly=True,
        help="The kind of record changed.")
    record = fields.Integer(
        "Record", required=True, readonly=True,
        help="The id of the record changed.")
    action = fields.Selection([
            ('create', "Created"),
            ('write', "Changed"),
            ('delete', "Deleted"),
            ], "Action", required=True, readonly=True,
        help="What was done to the record.")
    field = fields.Char(
        "Field", readonly=True,
        help="The field changed (empty when the record was created or "
        "deleted).")
    old_value = fields.Char(
        "Old Value", readonly=True, help="The value before the change.")
    new_value = fields.Char(
        "New Value", readonly=True, help="The value after the change.")
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='RESTRICT',
        help="Who made the change (the job's user for background jobs).")
    time = fields.Timestamp(
        "Time", readonly=True, help="When the transaction made the change.")
    job = fields.Char(
        "Job", readonly=True,
        help="The background job or scheduled action that made the change, "
        "empty for a change made at the desk.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('time', 'DESC'), ('id', 'DESC')]
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.model, Index.Equality()),
                (t.record, Index.Equality())))

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if mode in {'write', 'delete'}:
            raise AuditError(gettext('rkc_utilities.msg_audit_log_immutable'))

    @classmethod
    def record_changes(cls, model, rows):
        """Insert ``(record, action, field, old, new)`` rows for ``model``
        with the transaction's user, time and job."""
        if not rows:
            return
        transaction = Transaction()
        table = cls.__table__()
        job = transaction.context.get(JOB_CONTEXT)
        cursor = transaction.connection.cursor()
        cursor.execute(*table.insert(
                [table.model, table.record, table.action, table.field,
                    table.old_value, table.new_value, table.user, table.time,
                    table.job, table.create_uid, table.create_date],
                [[model, record, action, field, old, new,
                        transaction.user, CurrentTimestamp(), job,
                        transaction.user, CurrentTimestamp()]
                    for record, action, field, old, new in rows]))


def _text(value):
    if value is None:
        return None
    return str(value)[:VALUE_SIZE]


class AuditMixin:
    """Records every create, field change and delete of the model into
    the audit log. Readings stored in bulk by the meter poll are not
    logged one by one: each carries its poll and source."""
    __slots__ = ()

    @classmethod
    def _audited_fields(cls, names):
        return sorted(n for n in names
            if n in cls._fields
            and n not in {'create_uid', 'create_date', 'write_uid',
                'write_date'}
            and not isinstance(cls._fields[n],
                (fields.One2Many, fields.Many2Many, fields.Function)))

    @classmethod
    def on_write(cls, records, values):
        callbacks = super().on_write(records, values)
        names = cls._audited_fields(values)
        if not names or not records:
            return callbacks
        ids = [r.id for r in records]
        with without_check_access():
            before = {r['id']: r for r in cls.read(ids, names)}

        def log():
            AuditLog = Pool().get('rkc.audit.log')
            with without_check_access():
                after = cls.read(ids, names)
            AuditLog.record_changes(cls.__name__, [
                    (row['id'], 'write', name,
                        _text(before[row['id']][name]), _text(row[name]))
                    for row in after for name in names
                    if before[row['id']][name] != row[name]])
        callbacks.append(log)
        return callbacks

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        if mode in {'create', 'delete'}:
            Pool().get('rkc.audit.log').record_changes(cls.__name__, [
                    (r.id, mode, None, None, None) for r in records])


class Tariff(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.tariff'


class TariffRate(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.tariff.rate'


class Norm(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.norm'


class NormValue(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.norm.value'


class Reading(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.meter.reading'


class Building(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.building'


class Premise(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.premise'


class PremiseResidents(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.premise.residents'


class Recalculation(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.recalculation'


class Agreement(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.agreement'


class LegalCase(AuditMixin, metaclass=PoolMeta):
    __name__ = 'rkc.legal.case'


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @dualmethod
    def run_once(cls, crons):
        for cron in crons:
            with Transaction().set_context({JOB_CONTEXT: cron.method}):
                super().run_once([cron])
