"""The poller against a Modbus TCP gateway on loopback that answers with
random and garbled frames (hypothesis): no exception escapes, every meter
ends as a Read or a Failure, a Read only ever comes from frames that were
correct answers to the requests, and a poll of a gateway of garbage stores
no reading."""
import asyncio
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
SETTINGS = poller.Settings(timeout=0.05, min_timeout=0.05, retries=1,
    backoff=0.001, breaker_threshold=3)
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


async def poll_scripted(respond, settings=SETTINGS):
    """Poll METERS meters through a loopback gateway that hands each
    request to ``respond(request, writer)``; False from it hangs up."""
    async def serve(reader, writer):
        try:
            while True:
                request = await reader.readexactly(poller.REQUEST.size)
                if respond(request, writer) is False:
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    gateway = poller.Gateway('127.0.0.1', port, tuple(
            poller.Target(meter, meter, MODEL)
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
    settings = poller.Settings(
        timeout=1.0, min_timeout=0.1, retries=1, backoff=0.001)
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
