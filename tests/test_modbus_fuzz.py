"""The poller against a Modbus TCP gateway on loopback that answers with
random and garbled frames (hypothesis): no exception escapes, every meter
ends as a Read or a Failure, a Read only ever comes from frames that were
correct answers to the requests, and a poll of a gateway of garbage stores
no reading."""
import asyncio
import dataclasses
import inspect
import threading
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_metering_poll
from test_metering_poll import gateways_of, install, stored

from rkc.metering import jobs, poller, simulator
from rkc.metering.registers import load_models

MODEL = next(iter(load_models().values()))
# The scratch PostgreSQL database of the poll tests.
database = test_metering_poll.database
SETTINGS = poller.Settings(
    timeout=0.05, retries=1, backoff=0.001, breaker_threshold=3)
METERS = 4

raw = st.tuples(st.just('raw'), st.binary(max_size=40))
framed = st.tuples(
    st.just('framed'),
    st.fixed_dictionaries({
        'same_transaction': st.booleans(),
        'protocol': st.sampled_from([0, 0, 0, 1, 0xFFFF]),
        'length_delta': st.sampled_from([0, 0, 0, -1, 1, 200]),
        # A declared length of 2 leaves a body of the function code alone.
        'length': st.sampled_from([None, None, None, 2, 3]),
        'function_code': st.sampled_from(
            [MODEL.function_code, MODEL.function_code | 0x80, 1, 0x83]),
        'byte_count_delta': st.sampled_from([0, 0, -1, 1, -2]),
        'registers': st.binary(max_size=30),
        'exact': st.booleans(),
        }))
answer = st.one_of(raw, framed, st.just(('close', None)),
    st.just(('silence', None)))


def build(kind, spec, request):
    """The bytes sent for ``request`` and whether they are exactly its
    answer."""
    transaction, _, _, unit, function_code, _, count = (
        poller.REQUEST.unpack(request))
    if kind == 'raw':
        return spec, False
    registers = spec['registers']
    if spec['exact']:
        registers = (registers * (2 * count))[:2 * count].ljust(
            2 * count, b'\0')
    byte_count = (len(registers) + spec['byte_count_delta']) & 0xFF
    body = bytes([spec['function_code'], byte_count]) + registers
    length = spec['length'] or (
        len(body) + 1 + spec['length_delta']) & 0xFFFF
    answered = (transaction if spec['same_transaction']
        else (transaction + 1) & 0xFFFF)
    frame = poller.MBAP.pack(
        answered, spec['protocol'], length, unit) + body
    correct = (spec['same_transaction'] and spec['protocol'] == 0
        and length == len(body) + 1
        and spec['function_code'] == function_code
        and byte_count == 2 * count == len(registers))
    return frame, correct


async def poll_scripted(respond, settings=SETTINGS, model=MODEL):
    """Poll METERS meters through a loopback gateway that hands each
    request to ``respond(request, writer)`` (awaited if a coroutine, so
    that the next request waits, as a gateway's RS-485 bus makes it);
    False from it hangs up."""
    async def serve(reader, writer):
        try:
            while True:
                request = await reader.readexactly(poller.REQUEST.size)
                outcome = respond(request, writer)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
                if outcome is False:
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    gateway = poller.Gateway('127.0.0.1', port, tuple(
            poller.Target(meter, meter, model)
            for meter in range(1, METERS + 1)))
    try:
        return await poller.poll_gateway(gateway, settings)
    finally:
        server.close()
        await server.wait_closed()


async def exchange(answers):
    "Poll METERS meters through a gateway that answers ``answers`` in turn."
    sent_correct = []
    script = iter(answers)

    def respond(request, writer):
        kind, spec = next(script, ('close', None))
        if kind == 'close':
            return False
        if kind != 'silence':
            frame, correct = build(kind, spec, request)
            sent_correct.append(correct)
            writer.write(frame)
        return True
    return await poll_scripted(respond), sent_correct


@settings(max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(answer, max_size=12))
def test_garbage_answers_never_become_readings(answers):
    result, sent_correct = asyncio.run(exchange(answers))
    meters = [r.meter for r in result.reads] + [
        f.meter for f in result.failures]
    assert sorted(meters) == list(range(1, METERS + 1))
    if not any(sent_correct):
        assert result.reads == []
    assert len(result.reads) <= sent_correct.count(True)
    for failure in result.failures:
        assert failure.reason in poller.BREAKING | {
            poller.GATEWAY_DOWN} or failure.reason.startswith('exception_')


def test_short_body_is_garbage_not_a_crash():
    "A one-byte body naming the right function code (found by the fuzz)."
    with pytest.raises(poller.Garbled):
        poller._registers(bytes([MODEL.function_code]), MODEL.function_code,
            2)


GARBAGE = [
    ('raw', b'\x00\x01garbage'),
    ('framed', {'same_transaction': True, 'protocol': 0, 'length_delta': 0,
            'length': 2, 'function_code': MODEL.function_code,
            'byte_count_delta': 0, 'registers': b'', 'exact': False}),
    ('framed', {'same_transaction': True, 'protocol': 0, 'length_delta': 0,
            'length': None, 'function_code': MODEL.function_code,
            'byte_count_delta': -2, 'registers': b'\xff' * 12,
            'exact': True}),
    ('framed', {'same_transaction': True, 'protocol': 7, 'length_delta': 0,
            'length': None, 'function_code': MODEL.function_code,
            'byte_count_delta': 0, 'registers': b'\x12' * 12,
            'exact': True}),
    ]


@pytest.mark.postgresql
def test_garbage_gateway_stores_nothing(database):
    "The whole poll (validation, storing) from a gateway of garbage."
    port = simulator.free_base_port(1)
    meters = simulator.fleet(1, 8, seed=3, base_port=port, mix={})
    install(database, meters)
    answers = GARBAGE * 20
    loop = asyncio.new_event_loop()

    async def start():
        script = iter(answers)

        async def serve(reader, writer):
            try:
                while True:
                    request = await reader.readexactly(
                        poller.REQUEST.size)
                    kind, spec = next(script, GARBAGE[0])
                    frame, correct = build(kind, spec, request)
                    assert not correct
                    writer.write(frame)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()
        return await asyncio.start_server(serve, '127.0.0.1', port)
    server = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        summary = jobs.poll_chunk(database, gateways_of(meters),
            datetime(2026, 6, 1, 12), settings=SETTINGS)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    assert summary['read'] == 0 and summary['stored'] == 0
    assert summary['failed'] == len(meters)
    assert stored(database, 'SELECT count(*) FROM rkc_meter_reading') \
        == [(0,)]


EXACT = {'same_transaction': True, 'protocol': 0, 'length_delta': 0,
    'length': None, 'function_code': MODEL.function_code,
    'byte_count_delta': 0, 'registers': b'\x00\x07', 'exact': True}


def test_late_answer_to_a_retried_request_is_taken():
    """Unit 3 answers its first request after the wait has run out and
    never answers the retry: the late answer is the reading."""
    settings = poller.Settings(timeout=0.1, retries=1, backoff=0.001)
    delayed = set()

    def respond(request, writer):
        frame, correct = build('framed', EXACT, request)
        assert correct
        asked = request[6:7] + request[8:10]  # unit and first register
        if request[6] != 3:
            writer.write(frame)
        elif asked not in delayed:
            delayed.add(asked)
            asyncio.get_running_loop().call_later(0.15, writer.write, frame)

    result = asyncio.run(poll_scripted(respond, settings))
    assert delayed, 'unit 3 was asked'
    assert result.failures == []
    assert [read.meter for read in result.reads] == list(
        range(1, METERS + 1))
    late = next(read for read in result.reads if read.meter == 3)
    assert late.latency >= 0.15 * len(delayed)


def queued_gateway(delays, own_timeout):
    """A gateway that serves one request at a time: unit ``u`` answers
    after ``delays.get(u, 0.002)`` seconds, or never (None: the gateway
    gives it up after ``own_timeout``)."""
    async def respond(request, writer):
        unit = request[6]
        delay = delays.get(unit, 0.002)
        await asyncio.sleep(own_timeout if delay is None else delay)
        if delay is not None:
            writer.write(build('framed', EXACT, request)[0])
    return respond


def test_dead_meter_behind_a_queued_gateway_costs_only_itself():
    "The poll's timeout above the gateway's own: the next meters are read."
    result = asyncio.run(poll_scripted(
            queued_gateway({2: None}, own_timeout=0.3),
            poller.Settings(timeout=0.4, retries=1)))
    assert result.failures == [poller.Failure(2, poller.TIMEOUT)]
    assert [read.meter for read in result.reads] == [1, 3, 4]
    assert not result.breaker_open


def test_slow_meter_behind_a_queued_gateway_read_from_its_late_answer():
    """Unit 2 answers after the wait: its retry is queued behind the
    request, whose answer is taken; the meters after it are not
    disturbed by the retry's answer."""
    result = asyncio.run(poll_scripted(
            queued_gateway({2: 0.15}, own_timeout=1.0),
            poller.Settings(timeout=0.1, retries=1)))
    assert result.failures == []
    assert [read.meter for read in result.reads] == list(
        range(1, METERS + 1))


def test_retry_asks_again_for_the_block_that_timed_out():
    "A meter read in several requests: only the lost one is asked again."
    model = dataclasses.replace(
        next(m for m in load_models().values() if m.name == 'TEPLO-H'),
        read_gap=0)
    assert len(model.blocks) > 1
    second = model.blocks[1][0]
    exact = dict(EXACT, function_code=model.function_code)
    asked = []

    def respond(request, writer):
        unit, address = request[6], int.from_bytes(request[8:10], 'big')
        asked.append((unit, address))
        if (unit, address) == (1, second) and asked.count((1, second)) == 1:
            return True
        writer.write(build('framed', exact, request)[0])
        return True
    result = asyncio.run(poll_scripted(
            respond, poller.Settings(timeout=0.1, retries=1), model))
    assert result.failures == []
    blocks = [address for address, _ in model.blocks]
    assert [a for u, a in asked if u == 1] == (
        blocks[:2] + blocks[1:]), 'block 1 again, not the meter from 0'
    assert len(result.reads) == METERS


def test_late_exception_leaves_the_retry_waited_for():
    """Unit 2's first request is answered late with an exception (a
    gateway's "busy"), its retry with the registers: the meter is read."""
    busy = dict(EXACT, function_code=MODEL.function_code | 0x80,
        registers=b'', byte_count_delta=4, exact=False)
    asked = []

    def respond(request, writer):
        later = asyncio.get_running_loop().call_later
        asked.append(request[6])
        if request[6] != 2:
            writer.write(build('framed', EXACT, request)[0])
        elif asked.count(2) == 1:
            later(0.15, writer.write, build('framed', busy, request)[0])
        else:
            later(0.08, writer.write, build('framed', EXACT, request)[0])
    result = asyncio.run(poll_scripted(
            respond, poller.Settings(timeout=0.1, retries=1)))
    assert asked.count(2) == 2
    assert result.failures == []
    assert [read.meter for read in result.reads] == list(
        range(1, METERS + 1))
