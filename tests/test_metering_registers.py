from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.metering.registers import (
    MeterModel, join_u32, load_models, split_u32)


def model(**changes):
    spec = dict(name='T', register_kind='holding', value_address=0, zones=1,
        word_order='big', scale='0.001', status_address=2, serial_address=3)
    spec.update(changes)
    return MeterModel(**spec)


def test_word_order():
    assert join_u32(0x0001, 0x86A0, 'big') == 100000
    assert join_u32(0x86A0, 0x0001, 'little') == 100000
    assert split_u32(100000, 'little') == [0x86A0, 0x0001]


@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(['big', 'little']))
def test_split_join_round_trip(value, order):
    assert join_u32(*split_u32(value, order), order) == value


def test_decode_scale_zones_serial():
    little = model(word_order='little', zones=2, scale='1',
        value_address=100, status_address=104, serial_address=105)
    registers = {
        100: 0x86A0, 101: 0x0001, 102: 7, 103: 0,
        104: 0x0100, 105: 0x9680, 106: 0x0098}
    assert little.decode(registers) == (
        (Decimal(100000), Decimal(7)), 0x0100, '10000000')
    big = model()
    values, status, serial = big.decode(
        {0: 0x0001, 1: 0xE240, 2: 3, 3: 0x0098, 4: 0x9681})
    assert values == (Decimal('123.456'),)
    assert str(values[0]) == '123.456'
    assert (status, serial) == (3, '10000001')


def test_blocks_one_request_when_contiguous():
    models = load_models()
    assert models['PULSAR-W'].blocks == ((0, 5),)
    assert models['MERCURY-E2'].blocks == ((100, 7),)
    # The heat meter keeps its status and serial apart, behind reserved
    # registers its map declares readable: still one request.
    assert models['TEPLO-H'].blocks == ((0, 22),)


def test_blocks_apart_without_read_gap():
    spaced = model(value_address=0, status_address=10, serial_address=20)
    assert spaced.blocks == ((0, 2), (10, 1), (20, 2))
    assert model(value_address=0, status_address=10, serial_address=20,
        read_gap=8).blocks == ((0, 11), (20, 2))
    # One request never exceeds Modbus's 125 registers.
    assert model(value_address=0, status_address=10, serial_address=200,
        read_gap=500).blocks == ((0, 11), (200, 2))


def test_bad_models_refused():
    with pytest.raises(ValueError, match="word order 'middle'"):
        model(word_order='middle')
    with pytest.raises(ValueError, match="register kind 'coil'"):
        model(register_kind='coil')
    with pytest.raises(ValueError, match='4 tariff zones, expected 1 to 3'):
        model(zones=4)
    with pytest.raises(ValueError, match='read gap -1 is negative'):
        model(read_gap=-1)
    with pytest.raises(ValueError, match='does not fit in 32 bits'):
        split_u32(2 ** 32, 'big')


def test_fleet_unit_ids_fit_modbus():
    from rkc.metering.simulator import fleet
    with pytest.raises(ValueError,
            match='248 meters per gateway: Modbus addresses units 1 to 247'):
        fleet(1, 248)
