"""Files we write: CSV reports safe to open in a spreadsheet, and registry
files in an agent's layout (the outgoing debt registry for a bank)."""
import csv
import io
from decimal import Decimal

from rkc.engine.money import round_money
from rkc.payments.registry import Debt

# A spreadsheet runs a cell starting with one of these as a formula (CWE-1236).
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


class RegistryWriteError(ValueError):
    "A record cannot be written in the layout; the message says which."


def escape_cell(value):
    """Text that a spreadsheet would run as a formula, made inert with a
    leading single quote; numbers and other values are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(stream, rows, header=None, delimiter=';'):
    "Write a report to a text stream, every text cell escaped."
    writer = csv.writer(stream, delimiter=delimiter, lineterminator='\r\n')
    if header is not None:
        writer.writerow([escape_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in row])


def write_registry(stream, fmt, records):
    """Write records (:class:`Payment` or :class:`Debt`, by the layout's
    kind) to a binary stream: header, one line each, trailer. Text cells
    are stripped as the parser strips them. Returns the number of lines."""
    line_writer = _LineWriter(fmt)
    for line in fmt.header:
        stream.write(line_writer.encode(line, 'header'))
    count = 0
    amount = commission = Decimal(0)
    for count, record in enumerate(records, 1):
        stream.write(line_writer.record(count, record))
        amount += record.amount
        commission += getattr(record, 'commission', 0)
    if fmt.trailer:
        totals = {
            'count': str(count),
            'amount': line_writer.money(amount, 'total amount'),
            'commission': line_writer.money(
                commission, 'total commission'),
            'skip': ''}
        stream.write(line_writer.encode(
            fmt.trailer.prefix + fmt.delimiter.join(
                totals[name] for name in fmt.trailer.fields), 'trailer'))
    return count


def write_debt_registry(stream, fmt, rows):
    """The outgoing registry of what consumers owe, for one bank: rows are
    dicts with account, payer, address, amount and period (a date or
    None)."""
    if fmt.kind != 'debts':
        raise RegistryWriteError(
            f'format {fmt.name!r} describes {fmt.kind}, not debts')
    return write_registry(stream, fmt, (
        Debt(line=0, account=row['account'], payer=row['payer'],
            address=row['address'], period=row['period'],
            amount=row['amount'])
        for row in rows))


class _LineWriter:
    "Renders records as encoded lines of one layout."

    def __init__(self, fmt):
        self.fmt = fmt

    def record(self, number, record):
        fmt = self.fmt
        where = f'record {number}'
        for name in ('account', 'operation_id'):
            if name in fmt.fields and not getattr(record, name).strip():
                raise RegistryWriteError(f'{where}: {name} is empty')
        cells = [self.cell(name, record, where) for name in fmt.fields]
        if fmt.readings is not None and fmt.readings.group:
            cells.extend(self.readings(record.readings, where))
        if fmt.quote:
            buffer = io.StringIO()
            csv.writer(
                buffer, delimiter=fmt.delimiter, quotechar=fmt.quote,
                lineterminator='').writerow(cells)
            line = buffer.getvalue()
        else:
            for cell in cells:
                if fmt.delimiter in cell:
                    raise RegistryWriteError(
                        f'{where}: {cell!r} contains the delimiter '
                        f'{fmt.delimiter!r}')
            line = fmt.delimiter.join(cells)
        if fmt.trailer and line.startswith(fmt.trailer.prefix):
            raise RegistryWriteError(
                f'{where}: the line would read as the trailer')
        return self.encode(line, where)

    def cell(self, name, record, where):
        fmt = self.fmt
        match name:
            case 'skip':
                return ''
            case 'readings':
                return fmt.readings.separator.join(
                    self.readings(record.readings, where))
            case 'accepted_date':
                return fmt.date.format(record.accepted_at)
            case 'accepted_time':
                return fmt.time.format(record.accepted_at)
            case 'accepted_at':
                return fmt.accepted_at.format(record.accepted_at)
            case 'period':
                return '' if record.period is None else fmt.period.format(
                    record.period)
            case 'amount' | 'commission':
                return self.money(getattr(record, name), f'{where}: {name}')
        return str(getattr(record, name)).strip()

    def readings(self, readings, where):
        "Cells of the trailing groups, or the items of a readings column."
        fmt = self.fmt
        layout = fmt.readings
        cells = []
        for reading in readings:
            meter = reading.meter.strip()
            if reading.value < 0 or not meter:
                raise RegistryWriteError(
                    f'{where}: reading {reading!r} needs a meter and a '
                    f'non-negative value')
            value = format(reading.value, 'f').replace(
                '.', fmt.decimal_separator)
            if layout.group:
                parts = {'meter': meter, 'value': value, 'skip': ''}
                cells.extend(parts[p] for p in layout.group)
                continue
            if layout.separator in meter or layout.pair_separator in meter:
                raise RegistryWriteError(
                    f'{where}: meter {meter!r} contains a readings '
                    f'separator')
            cells.append(f'{meter}{layout.pair_separator}{value}')
        return cells

    def money(self, value, what):
        if value < 0 or round_money(value) != value:
            raise RegistryWriteError(
                f'{what} {value} is not a non-negative kopeck amount')
        if self.fmt.money_unit == 'kopecks':
            return str(int(value * 100))
        return f'{value:.2f}'.replace('.', self.fmt.decimal_separator)

    def encode(self, line, where):
        if '\n' in line or '\r' in line:
            raise RegistryWriteError(f'{where}: a cell contains a line end')
        try:
            return (line + '\r\n').encode(self.fmt.encoding)
        except UnicodeEncodeError as exc:
            raise RegistryWriteError(
                f'{where}: {exc.object[exc.start]!r} cannot be written in '
                f'{self.fmt.encoding}') from None
