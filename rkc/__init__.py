"""rkc_utilities: utility billing for billing and customer-service centres.

The pure layers live here (``engine`` for calculations, ``metering`` for the
Modbus poller, ``calc`` for the ``rkc calc`` JSON contract); the Tryton module
is the sibling package ``rkc_utilities``.
"""
