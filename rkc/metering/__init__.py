"""Remote meter reading over Modbus TCP.

``registers`` decodes the register maps of meter models, ``poller`` reads a
fleet of gateways concurrently, ``validation`` judges each reading against
the previous one, ``store`` writes readings in bulk, ``jobs`` splits a poll
into queued chunks and ``simulator`` runs a fake fleet for the demo, the
tests and the benchmark.
"""
