# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Buildings: the address, the heating arrangement and the court district;
announcements printed for all their accounts."""
import tempfile
from pathlib import Path

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.report import Report
from trytond.wizard import Button, StateReport, StateView, Wizard

from rkc.documents import from_ledger, notice

from .exceptions import AreaError, ReceiptError

HEATING_MODES = [
    ('season', "During the Heating Season"),
    ('even', "Evenly over the Year"),
    ]
CATEGORIES = [
    ('apartment', "Apartment Building"),
    ('house', "Individual House"),
    ]


class Building(ModelSQL, ModelView):
    __name__ = 'rkc.building'
    _history = True

    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True,
        help="The centre that bills the building's accounts.")
    region = fields.Char("Region", required=True,
        help="The federal subject, e.g. Свердловская обл.")
    city = fields.Char("City", required=True)
    street = fields.Char("Street", required=True,
        help="The street with its kind, e.g. ул. Ленина.")
    house = fields.Char("House", required=True, help="The house number.")
    block = fields.Char("Block", help="The block (корпус), if any.")
    fias_guid = fields.Char(
        "FIAS GUID", size=36,
        help="The building's identifier in ФИАС / ГИС ЖКХ.")
    category = fields.Selection(CATEGORIES, "Category", required=True,
        help="Which norms apply to the building's premises.")
    year_built = fields.Integer("Year Built")
    floors = fields.Integer("Floors", domain=[
            ['OR', ('floors', '=', None), ('floors', '>', 0)]])
    total_area = fields.Numeric(
        "Total Area of Premises", digits=(16, 2), required=True,
        help="Sum of the areas of all premises in m² (S_total).")
    common_area = fields.Numeric(
        "Common Property Area", digits=(16, 2), required=True,
        help="Area of the common property in m² (S_common).")
    heating_mode = fields.Selection(HEATING_MODES, "Heating Payment",
        required=True,
        help="Whether heating is paid during the season or evenly over "
        "the year, as the region decided.")
    heat_meter = fields.Boolean("Building Heat Meter",
        help="Whether a common heat meter measures the building.")
    court_district = fields.Char("Magistrate Court District",
        help="The magistrate's district for debt claims at this address.")
    premises = fields.One2Many('rkc.premise', 'building', "Premises")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('city', 'ASC'), ('street', 'ASC'), ('house', 'ASC'),
            ('block', 'ASC'), ('id', 'ASC')]

    @staticmethod
    def default_category():
        return 'apartment'

    @staticmethod
    def default_heating_mode():
        return 'season'

    @staticmethod
    def default_heat_meter():
        return True

    def get_rec_name(self, name):
        address = f'{self.city}, {self.street}, {self.house}'
        if self.block:
            address += f' к. {self.block}'
        return address

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('street', operator, value) + tuple(clause[3:]),
            ('city', operator, value) + tuple(clause[3:]),
            ]

    @classmethod
    def validate_fields(cls, buildings, field_names):
        super().validate_fields(buildings, field_names)
        if field_names is None or field_names & {
                'total_area', 'common_area'}:
            for building in buildings:
                if building.total_area is not None \
                        and building.total_area <= 0:
                    raise AreaError(gettext(
                            'rkc_utilities.msg_building_area_positive',
                            building=building.rec_name))
                if building.common_area is not None \
                        and building.common_area < 0:
                    raise AreaError(gettext(
                            'rkc_utilities.msg_building_common_area',
                            building=building.rec_name))


class AnnouncementStart(ModelView):
    "Building Announcement"
    __name__ = 'rkc.building.announcement.start'

    title = fields.Char("Title", required=True,
        help="e.g. Плановое отключение горячей воды.")
    text = fields.Text("Text", required=True,
        help="The announcement; paragraphs separated by a blank line.")
    starts = fields.Date("Starts", required=True)
    ends = fields.Date("Ends",
        domain=[If(Eval('ends') & Eval('starts'),
                ('ends', '>=', Eval('starts')), ())],
        help="Leave empty when the end is not known.")
    date = fields.Date("Letter Date", required=True)

    @staticmethod
    def default_date():
        return Pool().get('ir.date').today()


class Announcement(Wizard):
    "Print an announcement for every account of the buildings."
    __name__ = 'rkc.building.announcement'

    start = StateView('rkc.building.announcement.start',
        'rkc_utilities.building_announcement_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Print", 'print_', 'tryton-print', default=True),
            ])
    print_ = StateReport('rkc.building.announcement')

    def do_print_(self, action):
        start = self.start
        return action, {
            'ids': [r.id for r in self.records],
            'title': start.title, 'text': start.text,
            'starts': start.starts, 'ends': start.ends, 'date': start.date,
            }


class AnnouncementReport(Report):
    """The announcement letters of the buildings' accounts in delivery
    order, one page each, in one PDF."""
    __name__ = 'rkc.building.announcement'

    @classmethod
    def _execute(cls, records, header, data, action):
        building_ids = [r.id for r in records]
        letters = [notice.announcement(sender, payer, str(address), number,
                data['date'], data['title'], data['text'], data['starts'],
                data.get('ends'))
            for sender, payer, address, number in from_ledger.addressees(
                building_ids, data['date'])]
        if not letters:
            raise ReceiptError(gettext(
                    'rkc_utilities.msg_announcement_no_accounts',
                    buildings=', '.join(r.rec_name for r in records)))
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / 'announcement.pdf'
            notice.render_letters(letters, path)
            return 'pdf', path.read_bytes()
