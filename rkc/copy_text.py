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


# Types whose str() is their COPY text (a date's is its ISO format).
_AS_STR = frozenset({int, Decimal, dt.date})


def copy_text(rows):
    """``rows`` (sequences of None, str, int, Decimal and date values) as
    the data of a ``COPY … FROM STDIN`` in the text format (see
    rkc.bulk_insert.copy_data)."""
    # Plain loops: a registry's allocation formats half a million values
    # per batch, and a call per value cost a third more.
    lines = []
    for row in rows:
        fields = []
        for value in row:
            if value is None:
                fields.append('\\N')
            elif type(value) is str:
                fields.append(_text(value))
            elif type(value) in _AS_STR:
                fields.append(str(value))
            else:
                raise TypeError(f'no COPY text for {value!r}')
        lines.append('\t'.join(fields))
    lines.append('')
    return '\n'.join(lines)
