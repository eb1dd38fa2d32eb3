"""A simulated meter fleet: pymodbus servers on loopback acting as RS-485
gateways, each answering for many meters by unit id.

The fleet is plain data (:func:`fleet`), deterministic from the seed, so the
demo generator and the tests create the matching meters in the database.
Meters count up with the clock; a few misbehave the way real ones do:

- ``offline``: the unit never answers (the poller times out);
- ``near_rollover``: the counter is a little below its last digit and wraps;
- ``wrong_serial``: another meter was fitted in its place;
- ``exception``: the gateway answers with a Modbus exception;
- ``slow``: answers after a delay below the poller's timeout;
- ``meter_error``: the status word carries an error bit;
- ``backwards``: a faulty counter that runs down;
- ``spike``: consumption far beyond what a flat can use;
- ``stuck``: the counter never moves.
"""
import asyncio
import json
import multiprocessing
import random
import resource
import signal
import socket
import sys
import threading
import time
from decimal import Decimal

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

from .registers import load_models, split_u32

# Which make meters each service, with the display's integer digits.
SERVICES = {
    'cold_water': ('PULSAR-W', 5),
    'hot_water': ('PULSAR-W', 5),
    'electricity': ('MERCURY-E2', 6),
    'heat': ('TEPLO-H', 3),
}
# Ordinary consumption per hour and zone, in the meter's units.
USE_PER_HOUR = {
    'cold_water': Decimal('0.006'),
    'hot_water': Decimal('0.004'),
    'electricity': Decimal('0.15'),
    'heat': Decimal('0.0012'),
}
# Share of each misbehaviour in a generated fleet.
DEFAULT_MIX = {
    'offline': 0.002,
    'near_rollover': 0.005,
    'wrong_serial': 0.002,
    'exception': 0.002,
    'slow': 0.002,
    'meter_error': 0.002,
    'backwards': 0.002,
    'spike': 0.002,
    'stuck': 0.002,
}
SLOW_DELAY = 0.03
# Open files a serving process keeps beside its gateways' listening sockets:
# the pollers' connections (a few hundred at once), pipes, libraries.
SPARE_DESCRIPTORS = 2048
MAX_UNITS = 247
STATUS_ERROR = 0x0002
STATUS_OK = 0x0100
# The simulated clock starts here (2025-01-01 UTC), counters were installed
# a year before.
EPOCH = 1735689600


def fleet(gateways, meters_per_gateway, seed=1, host='127.0.0.1',
        base_port=15020, mix=None, behaviours=None):
    """The fleet as a list of dicts: where each meter answers (host, port,
    unit), what it is (serial, model, service, digits, zones), its start
    values and hourly use per zone, and its behaviour: drawn by the shares
    in ``mix``, or taken in turn from the list ``behaviours``."""
    if not 1 <= meters_per_gateway <= MAX_UNITS:
        raise ValueError(
            f'{meters_per_gateway} meters per gateway: Modbus addresses '
            f'units 1 to {MAX_UNITS}')
    models = load_models()
    rng = random.Random(seed)
    mix = DEFAULT_MIX if mix is None else mix
    services = sorted(SERVICES)
    meters = []
    serial = 10_000_000 + rng.randrange(1_000_000)
    for gateway in range(gateways):
        for unit in range(1, meters_per_gateway + 1):
            service = rng.choice(services)
            model_name, digits = SERVICES[service]
            model = models[model_name]
            behaviour = (behaviours[len(meters) % len(behaviours)]
                if behaviours else _pick(rng, mix))
            serial += rng.randrange(1, 50)
            use = [USE_PER_HOUR[service] * Decimal(rng.randrange(50, 150))
                / 100 for _ in range(model.zones)]
            modulus = Decimal(10) ** digits
            if behaviour == 'near_rollover':
                start = [modulus - u * 24 for u in use]
            else:
                start = [(modulus * Decimal(rng.randrange(1, 400)) / 1000)
                    .quantize(model.scale) for _ in use]
            if behaviour == 'backwards':
                use = [-u for u in use]
            elif behaviour == 'spike':
                use = [u * 100 for u in use]
            elif behaviour == 'stuck':
                use = [Decimal(0) for _ in use]
            meters.append({
                'host': host,
                'port': base_port + gateway,
                'unit': unit,
                'serial': str(serial),
                'model': model_name,
                'service': service,
                'digits': digits,
                'zones': model.zones,
                'start': [str(s) for s in start],
                'use_per_hour': [str(u) for u in use],
                'behaviour': behaviour,
            })
    return meters


def _pick(rng, mix):
    draw = rng.random()
    for behaviour, share in mix.items():
        if draw < share:
            return behaviour
        draw -= share
    return 'normal'


class SimulatedMeter:
    "One meter's registers at a given time."

    def __init__(self, spec, model):
        self.spec = spec
        self.model = model
        self.behaviour = spec['behaviour']
        # When the start values were read: a fleet built from stored
        # readings continues from the last one.
        self.epoch = spec.get('epoch', EPOCH)
        self.modulus = model.counts(Decimal(10) ** spec['digits'])
        self.start = [model.counts(s) for s in spec['start']]
        self.use_per_second = [
            Decimal(u) / model.scale / 3600 for u in spec['use_per_hour']]
        serial = int(spec['serial'])
        if self.behaviour == 'wrong_serial':
            serial += 1
        self.serial = split_u32(serial, model.word_order)
        self.status = (
            STATUS_ERROR if self.behaviour == 'meter_error' else STATUS_OK)
        # What the make answers: its fields and the reserved registers its
        # map declares readable between them (as zeros).
        self.readable = frozenset(
            address for start, count in model.blocks
            for address in range(start, start + count))

    def registers(self, now):
        "{address: register} of the whole map at ``now`` (Unix seconds)."
        model = self.model
        elapsed = Decimal(now - self.epoch)
        words = []
        for start, use in zip(self.start, self.use_per_second, strict=True):
            words += split_u32(
                int(start + use * elapsed) % self.modulus, model.word_order)
        registers = dict(enumerate(words, model.value_address))
        registers[model.status_address] = self.status
        registers.update(enumerate(self.serial, model.serial_address))
        return registers


class GatewayContext(ModbusServerContext):
    """The datastore of one gateway: meters by unit id, registers computed
    on each read from the clock.

    pymodbus serves any context with this interface; an unknown or
    offline unit raises ``NoSuchIdException`` so that, with
    ``ignore_missing_devices``, the gateway stays silent as a dead RS-485
    unit does.
    """

    def __init__(self, meters, clock):
        # The parent's constructor wraps static register blocks; ours are
        # computed, so it is not called.
        self.meters = meters
        self.clock = clock
        self.simdevices = []
        self.old_simulator = True

    async def async_getValues(self, device_id, func_code, address, count=1):
        meter = self.meters.get(device_id)
        if meter is None or meter.behaviour == 'offline':
            raise NoSuchIdException(f'unit {device_id} does not answer')
        if meter.behaviour == 'exception':
            return ExcCodes.DEVICE_FAILURE
        if meter.behaviour == 'slow':
            await asyncio.sleep(SLOW_DELAY)
        if func_code != meter.model.function_code:
            return ExcCodes.ILLEGAL_FUNCTION
        wanted = range(address, address + count)
        if not meter.readable.issuperset(wanted):
            return ExcCodes.ILLEGAL_ADDRESS
        registers = meter.registers(self.clock())
        return [registers.get(a, 0) for a in wanted]

    async def async_setValues(self, device_id, func_code, address, values):
        return ExcCodes.ILLEGAL_FUNCTION

    def device_ids(self):
        return list(self.meters)


class GatewayServer(ModbusTcpServer):
    """pymodbus's TCP server, its requests handled as tasks of its loop.

    pymodbus (3.16) reaches a request's coroutine from the loop's own
    thread through ``run_coroutine_threadsafe``, which chains two futures
    and wakes the loop through its self-pipe, for every request: about a
    tenth of a simulated gateway's time, on the machine the poller shares.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The requests being answered: the loop keeps only weak references
        # to tasks.
        self.requests = set()

    def callback_new_connection(self):
        return GatewayRequestHandler(
            self, self.trace_packet, self.trace_pdu, self.trace_connect)


class GatewayRequestHandler(ServerRequestHandler):
    "A connection to a GatewayServer."

    def handle_later(self):
        request = self.loop.create_task(self.handle_request())
        self.server.requests.add(request)
        request.add_done_callback(self.server.requests.discard)


def gateway_contexts(meters, clock, models=None):
    """{(host, port): GatewayContext} for a fleet description whose meters
    name ``models`` (default: the bundled makes)."""
    models = models or load_models()
    gateways = {}
    for spec in meters:
        units = gateways.setdefault((spec['host'], spec['port']), {})
        units[spec['unit']] = SimulatedMeter(spec, models[spec['model']])
    return {
        address: GatewayContext(units, clock)
        for address, units in gateways.items()}


async def serve(meters, clock=time.time, models=None):
    "Start one listening server per gateway; return the servers."
    servers = []
    for address, context in gateway_contexts(
            meters, clock, models).items():
        server = GatewayServer(
            context, address=address, ignore_missing_devices=True)
        await server.serve_forever(background=True)
        servers.append(server)
    return servers


class Simulation:
    """The fleet served from a background thread, for tests and tools
    that poll from their own event loop::

        with Simulation(meters, clock) as simulation: ...
    """

    def __init__(self, meters, clock=time.time, models=None):
        self.meters = meters
        self.clock = clock
        self.models = models
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, daemon=True)
        self.servers = []

    def __enter__(self):
        self.thread.start()
        self.servers = asyncio.run_coroutine_threadsafe(
            serve(self.meters, self.clock, self.models), self.loop).result()
        return self

    def __exit__(self, *exc):
        async def shutdown():
            for server in self.servers:
                await server.shutdown()
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def free_base_port(count, host='127.0.0.1', start=20000, stop=60000):
    "A port P such that P … P + count - 1 are all free on ``host``."
    port = start
    while port + count <= stop:
        for offset in range(count):
            with socket.socket() as probe:
                try:
                    probe.bind((host, port + offset))
                except OSError:
                    port += offset + 1
                    break
        else:
            return port
    raise RuntimeError(f'no {count} consecutive free ports on {host}')


def main(args):
    "``rkc meters simulate``: serve the fleet until interrupted."
    meters = fleet(
        args.gateways, args.meters_per_gateway, seed=args.seed,
        host=args.host, base_port=args.base_port)
    return run_forever(meters, processes=args.processes)


def run_forever(meters, models=None, processes=1):
    """Serve a fleet until interrupted, announcing it on stdout when ready.

    A big fleet may be served by several processes, each with a share of
    the gateways: one Python process answers a few thousand Modbus
    requests a second, less than a poller asks of it; and a process holds
    only so many listening sockets. The helpers are
    spawned, not forked, so that they inherit no database connection, and
    stop when this process is gone, however it ends."""
    gateways = len({(m['host'], m['port']) for m in meters})
    processes = max(processes, _processes_for_descriptors(gateways))
    shares = _gateway_shares(meters, processes)
    context = multiprocessing.get_context('spawn')
    ready = context.SimpleQueue()
    leash, kept = context.Pipe(duplex=False)
    helpers = [
        context.Process(target=_serve_share,
            args=(share, models, ready, leash), daemon=True)
        for share in shares[1:]]
    for helper in helpers:
        helper.start()
    leash.close()

    async def run():
        await serve(shares[0] if shares else [], models=models)
        for _ in helpers:
            ready.get()
        print(json.dumps({
            'ready': True,
            'gateways': gateways,
            'meters': len(meters), 'processes': 1 + len(helpers)}),
            flush=True)
        await asyncio.Event().wait()

    # A terminated simulator takes its helpers with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print('stopped', file=sys.stderr)
    finally:
        kept.close()
        for helper in helpers:
            helper.join(5)
    return 0


def _processes_for_descriptors(gateways):
    """The fewest processes that can hold a listening socket for each of
    ``gateways`` (a count) within the limit of open files, the limit raised
    as far as allowed (the helpers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    room = hard - SPARE_DESCRIPTORS
    return -(-gateways // room)


def _gateway_shares(meters, processes):
    "The meters split into ``processes`` lists, each gateway in one."
    gateways = sorted({(m['host'], m['port']) for m in meters})
    share_of = {
        gateway: index % processes for index, gateway in enumerate(gateways)}
    shares = [[] for _ in range(min(processes, len(gateways)))]
    for meter in meters:
        shares[share_of[(meter['host'], meter['port'])]].append(meter)
    return shares


def _serve_share(meters, models, ready, leash):
    "A helper process: serve its gateways until the leash breaks."
    async def run():
        await serve(meters, models=models)
        ready.put(True)
        gone = asyncio.Event()
        asyncio.get_running_loop().add_reader(leash.fileno(), gone.set)
        await gone.wait()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(run())
