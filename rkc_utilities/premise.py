# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Premises and their passports, with the dated history of residents."
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pyson import Eval, Not

from .common import DatedMixin
from .exceptions import AreaError

KINDS = [
    ('apartment', "Apartment"),
    ('room', "Room"),
    ('non_residential', "Non-residential"),
    ]


class Premise(ModelSQL, ModelView):
    __name__ = 'rkc.premise'
    # Every change of the passport is kept with its user and time.
    _history = True

    building = fields.Many2One(
        'rkc.building', "Building", required=True, ondelete='RESTRICT')
    number = fields.Char("Number", required=True,
        help="The flat or premise number within the building.")
    kind = fields.Selection(KINDS, "Kind", required=True)
    total_area = fields.Numeric(
        "Total Area", digits=(16, 2), required=True,
        help="Total area in m² (S).")
    living_area = fields.Numeric(
        "Living Area", digits=(16, 2),
        help="Living area in m²; not above the total area.")
    rooms = fields.Integer("Rooms", domain=[
            ['OR', ('rooms', '=', None), ('rooms', '>=', 0)]])
    floor = fields.Integer("Floor")
    meter_installable = fields.Boolean(
        "Meter Can Be Installed",
        help="Whether individual meters can technically be installed; "
        "the 1.5 raising coefficient applies only where they can.")
    no_meter_act = fields.Char(
        "Act of Impossibility",
        states={
            'invisible': Eval('meter_installable', True),
            'required': Not(Eval('meter_installable', True)),
            },
        help="Number and date of the act stating that a meter cannot be "
        "installed.")
    residents = fields.One2Many(
        'rkc.premise.residents', 'premise', "Registered Residents",
        help="How many people were registered here, by date range.")
    accounts = fields.One2Many('rkc.account', 'premise', "Accounts")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.building, t.number),
                'rkc_utilities.msg_premise_number_unique'),
            ]

    @staticmethod
    def default_kind():
        return 'apartment'

    @staticmethod
    def default_meter_installable():
        return True

    def get_rec_name(self, name):
        return f'{self.building.rec_name}, кв. {self.number}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('building.rec_name',) + tuple(clause[1:])]

    def residents_on(self, date):
        "The number of residents registered on a date."
        for residents in self.residents:
            if residents.covers(date):
                return residents.count
        return 0

    @classmethod
    def validate_fields(cls, premises, field_names):
        super().validate_fields(premises, field_names)
        if field_names is None or field_names & {
                'total_area', 'living_area'}:
            for premise in premises:
                premise.check_areas()

    def check_areas(self):
        if self.total_area is None or self.total_area <= 0:
            raise AreaError(gettext(
                    'rkc_utilities.msg_premise_area_positive',
                    premise=self.rec_name))
        if self.living_area is not None:
            if self.living_area < 0:
                raise AreaError(gettext(
                        'rkc_utilities.msg_premise_living_area_negative',
                        premise=self.rec_name))
            if self.living_area > self.total_area:
                raise AreaError(gettext(
                        'rkc_utilities.msg_premise_living_area_above_total',
                        premise=self.rec_name,
                        living=self.living_area,
                        total=self.total_area))


class PremiseResidents(DatedMixin, ModelSQL, ModelView):
    __name__ = 'rkc.premise.residents'
    _history = True
    _dated_scope = ('premise',)

    premise = fields.Many2One(
        'rkc.premise', "Premise", required=True, ondelete='CASCADE')
    count = fields.Integer(
        "Residents", required=True, domain=[('count', '>=', 0)],
        help="People registered at the premise in the date range.")

    def get_rec_name(self, name):
        return f'{self.premise.rec_name}: {super().get_rec_name(name)}'
