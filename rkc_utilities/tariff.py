# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Tariffs and norms: dated reference data set by the regional regulator."
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pyson import Eval

from .building import CATEGORIES
from .common import DatedMixin
from .exceptions import OverlapError

SCOPES = [
    ('all', "Everywhere"),
    ('region', "Region"),
    ('building', "Building"),
    ]
NORM_KINDS = [
    ('per_person', "Per Resident per Month"),
    ('per_area', "Per m² per Month"),
    ('heat_per_volume', "Heat per m³ of Hot Water"),
    ]


class Tariff(ModelSQL, ModelView):
    __name__ = 'rkc.tariff'
    _history = True

    service = fields.Many2One(
        'rkc.service', "Service", required=True, ondelete='RESTRICT')
    scope = fields.Selection(SCOPES, "Scope", required=True,
        help="Where the tariff applies; the narrowest scope wins.")
    region = fields.Char("Region",
        states={
            'required': Eval('scope') == 'region',
            'invisible': Eval('scope') != 'region',
            })
    building = fields.Many2One('rkc.building', "Building",
        states={
            'required': Eval('scope') == 'building',
            'invisible': Eval('scope') != 'building',
            })
    zones = fields.Integer(
        "Zones", required=True,
        domain=[('zones', '>=', 1), ('zones', '<=', 3)],
        help="For meters counting this many tariff zones (day/night…).")
    decision = fields.Char("Decision",
        help="The regulator's decision that set the tariff.")
    rates = fields.One2Many('rkc.tariff.rate', 'tariff', "Rates")

    @staticmethod
    def default_scope():
        return 'all'

    @staticmethod
    def default_zones():
        return 1

    def get_rec_name(self, name):
        scope = self.region or (self.building.rec_name
            if self.building else None)
        return f'{self.service.rec_name} ({scope})' if scope \
            else self.service.rec_name

    @classmethod
    def validate_fields(cls, tariffs, field_names):
        super().validate_fields(tariffs, field_names)
        if field_names is None or field_names & {
                'service', 'scope', 'region', 'building', 'zones'}:
            for tariff in tariffs:
                others = cls.search([
                        ('id', '!=', tariff.id),
                        ('service', '=', tariff.service.id),
                        ('scope', '=', tariff.scope),
                        ('zones', '=', tariff.zones),
                        ('region', '=', tariff.region),
                        ('building', '=',
                            tariff.building.id if tariff.building else None),
                        ], limit=1)
                if others:
                    raise OverlapError(gettext(
                            'rkc_utilities.msg_tariff_scope_unique',
                            tariff=tariff.rec_name))


class TariffRate(DatedMixin, ModelSQL, ModelView):
    __name__ = 'rkc.tariff.rate'
    _history = True
    _dated_scope = ('tariff',)

    tariff = fields.Many2One(
        'rkc.tariff', "Tariff", required=True, ondelete='CASCADE')
    rate = fields.Numeric(
        "Rate", digits=(16, 4), required=True,
        domain=[('rate', '>=', 0)],
        help="Roubles per unit; the day (T1) rate of a multi-zone tariff; "
        "the cold-water component of a two-component tariff.")
    rate_t2 = fields.Numeric(
        "Night Rate (T2)", digits=(16, 4),
        domain=[['OR', ('rate_t2', '=', None), ('rate_t2', '>=', 0)]],
        help="Roubles per unit in the night zone of a multi-zone meter.")
    rate_t3 = fields.Numeric(
        "Half-peak Rate (T3)", digits=(16, 4),
        domain=[['OR', ('rate_t3', '=', None), ('rate_t3', '>=', 0)]],
        help="Roubles per unit in the third zone of a three-zone meter.")
    heat_rate = fields.Numeric(
        "Heat Component Rate", digits=(16, 4),
        domain=[['OR', ('heat_rate', '=', None), ('heat_rate', '>=', 0)]],
        help="Roubles per Gcal for the heat component of hot water.")

    def get_rec_name(self, name):
        return f'{self.tariff.rec_name}: {super().get_rec_name(name)}'


class Norm(ModelSQL, ModelView):
    __name__ = 'rkc.norm'
    _history = True

    service = fields.Many2One(
        'rkc.service', "Service", required=True, ondelete='RESTRICT')
    kind = fields.Selection(NORM_KINDS, "Kind", required=True)
    kind_string = kind.translated('kind')
    category = fields.Selection([(None, "")] + CATEGORIES,
        "Building Category",
        help="The buildings the norm applies to; empty for all.")
    region = fields.Char("Region",
        help="The region that set the norm; empty for everywhere.")
    rooms = fields.Integer(
        "Rooms", domain=[['OR', ('rooms', '=', None), ('rooms', '>', 0)]],
        help="Only for premises with this many rooms; the highest value "
        "also covers more rooms. Empty for any.")
    residents = fields.Integer(
        "Residents",
        domain=[['OR', ('residents', '=', None), ('residents', '>', 0)]],
        help="Only for premises with this many residents; the highest "
        "value also covers more. Empty for any.")
    values = fields.One2Many('rkc.norm.value', 'norm', "Values")

    @staticmethod
    def default_kind():
        return 'per_person'

    def get_rec_name(self, name):
        return f'{self.service.rec_name}: {self.kind_string}'


class NormValue(DatedMixin, ModelSQL, ModelView):
    __name__ = 'rkc.norm.value'
    _history = True
    _dated_scope = ('norm',)

    norm = fields.Many2One(
        'rkc.norm', "Norm", required=True, ondelete='CASCADE')
    value = fields.Numeric(
        "Value", digits=(16, 6), required=True,
        domain=[('value', '>=', 0)],
        help="Units per resident, per m² or Gcal per m³ and month.")

    def get_rec_name(self, name):
        return f'{self.norm.rec_name}: {super().get_rec_name(name)}'
