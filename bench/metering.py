"""Meter poll benchmark: a simulated fleet served by pymodbus in a separate
process, polled, validated and stored in a scratch PostgreSQL database.

    .venv/bin/python bench/metering.py --meters 10000 50000 --gateways 50

The fleet is served by two processes (``--simulator-processes``): one
Python process answers fewer Modbus requests a second than the poller
asks.

For each fleet size it polls ``--polls`` hourly slots (each validated
against the one before) and prints meters/s, p50/p99 read latency, the
poller's CPU seconds and its peak memory.
"""
import argparse
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta

import psycopg

from rkc.metering import jobs, simulator, store
from rkc.metering.registers import load_models

SERVER = 'host=127.0.0.1 user=postgres'
SERVICES = {'cold_water': 1, 'hot_water': 2, 'electricity': 3, 'heat': 4}


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_megabytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run(meters_count, gateways, seed, processes, polls):
    # A bus addresses at most 247 units: big fleets need more gateways.
    gateways = max(gateways, -(-meters_count // simulator.MAX_UNITS))
    per_gateway = -(-meters_count // gateways)
    port = simulator.free_base_port(gateways)
    server = subprocess.Popen([sys.executable, '-m', 'rkc.cli', 'meters',
        'simulate', '--gateways', str(gateways), '--meters-per-gateway',
        str(per_gateway), '--base-port', str(port), '--seed', str(seed),
        '--processes', str(processes)],
        stdout=subprocess.PIPE, text=True)
    name = f'rkc_bench_{uuid.uuid4().hex[:12]}'
    with psycopg.connect(SERVER + ' dbname=postgres',
            autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE {name}')
    conninfo = f'{SERVER} dbname={name}'
    try:
        fleet = simulator.fleet(
            gateways, per_gateway, seed=seed, base_port=port)
        with psycopg.connect(conninfo) as connection:
            store.create_tables(connection)
            store.create_meters(connection, fleet, SERVICES, load_models())
        server.stdout.readline()
        addresses = sorted({(m['host'], m['port']) for m in fleet})
        for hour in range(polls):
            slot = datetime(2025, 3, 1, 10) + timedelta(hours=hour)
            started, cpu = time.perf_counter(), cpu_seconds()
            summary = jobs.poll_chunk(conninfo, addresses, slot)
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds() - cpu
            print(f'meters={len(fleet):7d} gateways={gateways:4d} '
                f'slot={slot:%H:%M} {len(fleet) / elapsed:8.0f} meters/s '
                f'read={summary["read"]} failed={summary["failed"]} '
                f'stored={summary["stored"]} '
                f'p50={summary["latency_p50"] * 1000:.2f}ms '
                f'p99={summary["latency_p99"] * 1000:.2f}ms '
                f'cpu={cpu:.1f}s ({cpu / len(fleet) * 1e6:.0f} us/meter) '
                f'peak_rss={peak_megabytes()}MB', flush=True)
    finally:
        server.terminate()
        server.wait()
        with psycopg.connect(SERVER + ' dbname=postgres',
                autocommit=True) as admin:
            admin.execute(f'DROP DATABASE {name} WITH (FORCE)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--meters', type=int, nargs='+',
        default=[10000, 50000, 100000])
    parser.add_argument('--gateways', type=int, default=50)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--simulator-processes', type=int, default=2,
        help='processes serving the simulated fleet')
    parser.add_argument('--polls', type=int, default=2,
        help='polls of each fleet, an hour apart')
    args = parser.parse_args()
    for count in args.meters:
        run(count, args.gateways, args.seed, args.simulator_processes,
            args.polls)


if __name__ == '__main__':
    main()
