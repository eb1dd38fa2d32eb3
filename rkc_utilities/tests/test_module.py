# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class RkcUtilitiesTestCase(CompanyTestMixin, ModuleTestCase):
    "Test rkc_utilities module"
    module = 'rkc_utilities'


del ModuleTestCase
