"""Pure calculation functions: Decimal in, Decimal out, no Tryton, no database.

Regulations (key rates, moratoria, duty scales, due-date rules) are dated
reference data passed in or loaded from ``engine/data``, never constants
buried in formulas.
"""
