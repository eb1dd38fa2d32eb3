from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.metering.validation import (
    Meter, Previous, load_rules, validate)

RULES = load_rules()
WATER = Meter('100', 'cold_water', 5)
T0 = datetime(2025, 1, 10, 12)


def previous(*values, read_at=T0, since=None):
    return Previous(tuple(D(v) for v in values), read_at, since or read_at)


def judge(values, before, days=1, status=0x0100, serial='100', meter=WATER):
    return validate(meter, tuple(D(v) for v in values), status, serial,
        T0 + timedelta(days=days), before, RULES)


def test_first_reading_valid():
    verdict = judge(['12.345'], None)
    assert (verdict.state, verdict.reason, verdict.consumption) == (
        'valid', None, None)


def test_ordinary_consumption():
    verdict = judge(['131.789'], previous('123.456'), days=30)
    assert (verdict.state, verdict.reason) == ('valid', None)
    assert verdict.consumption == (D('8.333'),)


def test_rollover_accepted_with_consumption_across_the_wrap():
    verdict = judge(['0.120'], previous('99999.900'))
    assert (verdict.state, verdict.reason) == ('valid', 'rollover')
    assert verdict.consumption == (D('0.220'),)


def test_negative():
    verdict = judge(['100.000'], previous('100.500'))
    assert (verdict.state, verdict.reason) == ('review', 'negative')


def test_spike_scales_with_elapsed_days():
    assert judge(['110'], previous('100'), days=3).reason == 'spike'
    assert judge(['108'], previous('100'), days=3).reason is None
    # Within one day the limit is the daily one, not a fraction of it.
    assert judge(['102.9'], previous('100'), days=0.1).reason is None


def test_serial_mismatch_rejected():
    verdict = judge(['131'], previous('130'), serial='101')
    assert (verdict.state, verdict.reason) == ('rejected', 'serial_mismatch')


def test_status_error_bits():
    verdict = judge(['131'], previous('130'), status=0x0102)
    assert (verdict.state, verdict.reason) == ('review', 'meter_error')
    assert judge(['131'], previous('130'), status=0xFF00).state == 'valid'


def test_stale_after_months_unchanged():
    before = previous('130', read_at=T0, since=T0 - timedelta(days=60))
    assert judge(['130'], before, days=30).state == 'valid'
    verdict = judge(['130'], before, days=32)
    assert (verdict.state, verdict.reason) == ('review', 'stale')


def test_two_zones_spike_on_the_sum():
    meter = Meter('100', 'electricity', 6)
    before = previous('1000', '500')
    assert judge(['1060', '530'], before, meter=meter).reason is None
    verdict = judge(['1070', '540'], before, meter=meter)
    assert verdict.reason == 'spike'
    assert verdict.consumption == (D(70), D(40))
    wrapped = judge(['5', '530'], previous('999990', '500'), meter=meter)
    assert (wrapped.reason, wrapped.consumption) == ('rollover', (15, 30))


def test_configuration_errors():
    with pytest.raises(ValueError, match="no plausibility limit for service"
            " 'gas'"):
        judge(['1'], previous('0'), meter=Meter('100', 'gas', 5))
    with pytest.raises(ValueError):
        judge(['1', '2'], previous('0'))


@given(st.integers(0, 99_999_999), st.integers(0, 2_999))
def test_any_plausible_wrap_is_its_consumption(before, used):
    "Water counter in litres: whatever the start, the wrap is undone."
    start = D(before) / 1000
    after = (D(before + used) % 100_000_000) / 1000
    verdict = judge([after], previous(start))
    assert verdict.state == 'valid'
    assert verdict.consumption == (D(used) / 1000,)
