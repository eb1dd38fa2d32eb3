"""Rows as COPY's text format, made without a database connection: a
process that only formats rows (the registry import's allocation process)
starts without importing the driver."""
import datetime as dt
from decimal import Decimal

# COPY's text format: a tab between fields, a newline after each row,
# \N for NULL, and these characters escaped inside a value.
_COPY_ESCAPES = str.maketrans({
        '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r'})


def _text(value):
    # Most values have nothing to escape: looking costs less than the
    # translation.
    if ('\\' in value or '\t' in value or '\n' in value
            or '\r' in value):
        return value.translate(_COPY_ESCAPES)
    return value


_FIELD = {
    type(None): lambda value: '\\N',
    str: _text,
    int: str,
    Decimal: str,
    dt.date: dt.date.isoformat,
    }


def copy_text(rows):
    """``rows`` (sequences of None, str, int, Decimal and date values) as
    the data of a ``COPY … FROM STDIN`` in the text format (see
    rkc.bulk_insert.copy_data)."""
    field = _FIELD.get
    return ''.join([
            '\t'.join([field(type(value), _refuse)(value) for value in row])
            + '\n'
            for row in rows])


def _refuse(value):
    raise TypeError(f'no COPY text for {value!r}')
