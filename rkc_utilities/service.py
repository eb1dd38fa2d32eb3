# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Utility services and how each is calculated."
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)

METHODS = [
    ('metered', "By Individual Meter"),
    ('norm', "By Norm per Resident"),
    ('area', "By Area"),
    ('heating_norm', "Heating by Norm"),
    ('heating_building_meter', "Heating by Building Meter in Season"),
    ('heating_even', "Heating Evenly over the Year"),
    ('hot_water_two_component', "Hot Water, Two-component Tariff"),
    ('wastewater', "Wastewater (Cold + Hot Volume)"),
    ('fixed', "Fixed Monthly Amount"),
    ]


class Service(
        sequence_ordered(), DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'rkc.service'

    code = fields.Char("Code", required=True,
        help="Stable identifier used in registries and the engine, e.g. "
        "cold_water.")
    name = fields.Char("Name", required=True, translate=True,
        help="The service's name on receipts.")
    unit = fields.Char("Unit", required=True, translate=True,
        help="The unit of volume, e.g. m³, kWh, Gcal.")
    method = fields.Selection(METHODS, "Calculation Method", required=True,
        help="How the monthly charge is calculated (Decree 354, "
        "Appendix 2).")
    raising_coefficient = fields.Boolean(
        "Raising Coefficient",
        help="Whether the 1.5 coefficient applies when a meter could be "
        "installed but is not (never for wastewater or gas).")
    restrictable = fields.Boolean(
        "Restrictable for Debt",
        help="Whether supply may be restricted for debt (never heating).")
    meter_digits = fields.Integer(
        "Meter Resolution",
        help="Decimal places a volume keeps (m³ 3, kWh 0, Gcal 6).")
    product = fields.Many2One(
        'product.product', "Product",
        help="The product that carries the service's revenue account.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'rkc_utilities.msg_service_code_unique'),
            ]

    @staticmethod
    def default_method():
        return 'metered'

    @staticmethod
    def default_meter_digits():
        return 3
