# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The scenario_*.rst doctests, for unittest (load_tests) and for pytest
(one parametrized test per scenario)."""
import unittest

import pytest
from trytond.tests.test_tryton import load_doc_tests


def load_tests(loader, tests, pattern):
    return load_doc_tests(__name__, __file__, loader, tests, pattern)


class AllScenarios:
    "Stands for unittest's loader: no test name filter."
    testNamePatterns = None


def scenario_cases():
    return list(load_tests(AllScenarios(), unittest.TestSuite(), None))


@pytest.mark.parametrize(
    'case', scenario_cases(), ids=lambda case: case.id().rsplit('.', 1)[0])
def test_scenario(case):
    result = unittest.TestResult()
    case.run(result)
    problems = result.failures + result.errors
    if problems:
        pytest.fail(
            '\n'.join(report for _, report in problems), pytrace=False)
