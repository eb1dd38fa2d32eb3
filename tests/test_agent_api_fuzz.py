"""Property tests of the payment-agent API's request parsing: whatever an
agent sends, the answer is an operation or a FieldError naming the field
(a 400 with its code), never another exception (a 500)."""
import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rkc.payments.agent_api import (
    FieldError, Operation, parse_body, parse_date, parse_operation)

NOW = dt.datetime(2026, 6, 15, 12, 0)
SETTINGS = settings(
    max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
FIELDS = ['operation_id', 'account', 'amount', 'commission', 'accepted_at',
    'period', 'payer']
VALID = {'operation_id': 'op-1', 'account': '0100000017', 'amount': '10.00',
    'commission': '0.50', 'accepted_at': '2026-06-15T09:30:00+03:00',
    'period': '2026-05', 'payer': 'Иванов И.И.'}
# Values near the valid ones: dates at the calendar's ends, digits of
# other scripts, numbers as JSON numbers, text of every kind.
TRICKY = st.sampled_from([
        '0000-01', '0001-01', '9999-12', '2026-13', '2026-00',
        '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00',
        '٠١٠٠٠٠٠٠١٧', '١٠٠.٠٠', '２０２６-０５', '1e3', 'NaN', '-0.00',
        '99999999.99', '100000000', '10.001', '', ' 10.00', '10.00\n'])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=40) | TRICKY,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


def check(body):
    try:
        operation = parse_operation(body, NOW)
    except FieldError as error:
        assert error.field in FIELDS
        assert error.code.startswith(('invalid_', 'future_'))
        return None
    assert isinstance(operation, Operation)
    assert operation.amount > 0 and operation.accepted_at <= NOW + \
        dt.timedelta(minutes=10)
    return operation


@SETTINGS
@given(st.fixed_dictionaries({}, optional={f: VALUES for f in FIELDS}))
def test_any_body_is_an_operation_or_a_field_error(body):
    check(body)


@SETTINGS
@given(st.sampled_from(FIELDS), VALUES)
@example('period', '0000-01')
@example('accepted_at', '0001-01-01T00:00:00+01:00')
@example('account', '٠١٠٠٠٠٠٠١٧')
@example('amount', '١٠٠.٠٠')
def test_one_wrong_field_is_named(field, value):
    """A valid body with one field replaced: refused with that field's
    error, or accepted with what the agent sent."""
    operation = check({**VALID, field: value})
    if operation is None:
        return
    if field == 'account':
        assert operation.account == value and value.isascii()
    if field in {'amount', 'commission'}:
        assert value.isascii()
        assert getattr(operation, field) == Decimal(value)


@SETTINGS
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_a_body_or_invalid_json(data):
    try:
        body = parse_body(data)
    except FieldError as error:
        assert (error.field, error.code) == ('body', 'invalid_json')
    else:
        assert isinstance(body, dict)
        assert body == json.loads(data.decode('utf-8'))


@pytest.mark.parametrize('value', [
        None, 5, '2026-02-30', '0000-01-01', '２０２６-０１-０１'])
def test_bad_date_is_named(value):
    with pytest.raises(FieldError) as error:
        parse_date(value, 'date')
    assert (error.value.field, error.value.code) == ('date', 'invalid_date')
