# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Replacing a meter: the old one's final reading, the new one with its
initial reading, the old one removed — in one step, so billing never sees a
premise without its meter's readings at the change."""
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import MeterError

# Meter fields the new meter takes over from the old one unless changed.
INHERITED = ('service', 'premise', 'building', 'modbus_host', 'modbus_port')


def _zone_states(zone):
    return {
        'invisible': Eval('zones', 1) < zone,
        'required': Eval('zones', 1) >= zone,
        }


class ReplaceStart(ModelView):
    __name__ = 'rkc.meter.replace.start'

    replaced_at = fields.DateTime("Replaced At", required=True,
        help="When the old meter was read for the last time and the new "
        "one fitted.")
    old_zones = fields.Integer("Old Meter Zones", readonly=True)
    final_value = fields.Numeric("Final Value", digits=(16, 6),
        required=True, domain=[('final_value', '>=', 0)])
    final_value_t2 = fields.Numeric("Final Value T2", digits=(16, 6),
        states={
            'invisible': Eval('old_zones', 1) < 2,
            'required': Eval('old_zones', 1) >= 2,
            })
    final_value_t3 = fields.Numeric("Final Value T3", digits=(16, 6),
        states={
            'invisible': Eval('old_zones', 1) < 3,
            'required': Eval('old_zones', 1) >= 3,
            })
    serial = fields.Char("New Serial Number", required=True)
    model = fields.Many2One('rkc.meter.model', "New Model", required=True)
    digits = fields.Integer("Digits", required=True,
        domain=[('digits', '>', 0)])
    zones = fields.Integer("Zones", required=True,
        domain=[('zones', '>=', 1), ('zones', '<=', 3)])
    verified_on = fields.Date("Last Verification")
    verification_interval = fields.Integer("Verification Interval",
        help="Years between verifications.")
    initial_value = fields.Numeric("Initial Value", digits=(16, 6),
        required=True, domain=[('initial_value', '>=', 0)])
    initial_value_t2 = fields.Numeric(
        "Initial Value T2", digits=(16, 6), states=_zone_states(2))
    initial_value_t3 = fields.Numeric(
        "Initial Value T3", digits=(16, 6), states=_zone_states(3))
    modbus_unit = fields.Integer("Unit Id",
        help="The new meter's Modbus address, if it is read remotely.")


class Replace(Wizard):
    "Replace a meter by a new one."
    __name__ = 'rkc.meter.replace'

    start = StateView('rkc.meter.replace.start',
        'rkc_utilities.meter_replace_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Replace", 'replace', 'tryton-ok', default=True),
            ])
    replace = StateTransition()

    def default_start(self, fields):
        meter = self.record
        if meter.state == 'removed':
            raise MeterError(gettext(
                    'rkc_utilities.msg_meter_replace_removed',
                    meter=meter.rec_name))
        return {
            'old_zones': meter.zones,
            'model': meter.model.id,
            'digits': meter.digits,
            'zones': meter.zones,
            'verification_interval': meter.verification_interval,
            'modbus_unit': meter.modbus_unit,
            'initial_value': 0,
            }

    def transition_replace(self):
        pool = Pool()
        Meter = pool.get('rkc.meter')
        Reading = pool.get('rkc.meter.reading')
        old, start = self.record, self.start
        when = start.replaced_at
        new, = Meter.create([{
                    **{name: getattr(getattr(old, name), 'id',
                            getattr(old, name)) for name in INHERITED},
                    'serial': start.serial, 'model': start.model.id,
                    'digits': start.digits, 'zones': start.zones,
                    'installed_on': when.date(),
                    'verified_on': start.verified_on,
                    'verification_interval': start.verification_interval,
                    'modbus_unit': start.modbus_unit,
                    }])
        Reading.create([{
                    'meter': old.id, 'read_at': when,
                    'value': start.final_value,
                    'value_t2': start.final_value_t2,
                    'value_t3': start.final_value_t3,
                    'source': 'inspector',
                    }, {
                    'meter': new.id, 'read_at': when,
                    'value': start.initial_value,
                    'value_t2': start.initial_value_t2,
                    'value_t3': start.initial_value_t3,
                    'source': 'inspector',
                    }])
        Meter.write([old], {'state': 'removed'})
        return 'end'
