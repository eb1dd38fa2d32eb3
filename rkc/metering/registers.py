"""Register maps of meter models and the decoding of what a meter answers.

A model keeps each cumulative value (one per tariff zone, consecutive) as a
32-bit unsigned integer in two registers, a 16-bit status word and a 32-bit
serial number; the word order and the scale (units per count) vary by make.
Where the make's map says the reserved registers between them can be read,
one request spans the gap: on a bus carrying one request at a time, a round
trip costs far more than a few extra registers.
"""
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

FUNCTION_CODES = {'holding': 3, 'input': 4}
WORD_ORDERS = ('big', 'little')
# Modbus limits one read to 125 registers.
MAX_REGISTERS = 125


@dataclass(frozen=True)
class MeterModel:
    name: str
    register_kind: str
    value_address: int
    zones: int
    word_order: str
    scale: Decimal
    status_address: int
    serial_address: int
    # Unused registers one request may span between two fields.
    read_gap: int = 0

    def __post_init__(self):
        if self.register_kind not in FUNCTION_CODES:
            raise ValueError(
                f'model {self.name}: register kind {self.register_kind!r} '
                f'is not one of {sorted(FUNCTION_CODES)}')
        if self.word_order not in WORD_ORDERS:
            raise ValueError(
                f'model {self.name}: word order {self.word_order!r} '
                f'is not one of {WORD_ORDERS}')
        if not 1 <= self.zones <= 3:
            raise ValueError(
                f'model {self.name}: {self.zones} tariff zones, '
                'expected 1 to 3')
        object.__setattr__(self, 'scale', Decimal(self.scale))
        if self.read_gap < 0:
            raise ValueError(
                f'model {self.name}: read gap {self.read_gap} is negative')
        object.__setattr__(
            self, 'blocks', _merge(self._fields(), self.read_gap))

    @property
    def function_code(self):
        return FUNCTION_CODES[self.register_kind]

    def _fields(self):
        "(address, count) of the values, the status word and the serial."
        return [
            (self.value_address, 2 * self.zones),
            (self.status_address, 1),
            (self.serial_address, 2)]

    def decode(self, registers):
        """The reading in a map {address: register} covering the blocks:
        (values in the meter's units, status word, serial)."""
        values = tuple(
            self.scale * join_u32(
                registers[address], registers[address + 1],
                self.word_order)
            for address in range(
                self.value_address, self.value_address + 2 * self.zones, 2))
        serial = join_u32(
            registers[self.serial_address],
            registers[self.serial_address + 1], self.word_order)
        return values, registers[self.status_address], str(serial)

    def counts(self, value):
        "The raw register count of a value in the meter's units."
        return int(Decimal(value) / self.scale)


def _merge(fields, gap=0):
    """Read blocks: fields that touch, overlap or lie at most ``gap``
    registers apart share one request, so a compact map costs a single
    round trip per meter."""
    blocks = []
    for address, count in sorted(fields):
        if blocks:
            start, length = blocks[-1]
            end = max(start + length, address + count)
            if (address <= start + length + gap
                    and end - start <= MAX_REGISTERS):
                blocks[-1] = (start, end - start)
                continue
        blocks.append((address, count))
    return tuple(blocks)


def join_u32(first, second, word_order):
    "The 32-bit unsigned integer of two registers in the given word order."
    if word_order == 'little':
        first, second = second, first
    return (first << 16) | second


def split_u32(value, word_order):
    "The two registers holding a 32-bit unsigned integer."
    if not 0 <= value < 1 << 32:
        raise ValueError(f'{value} does not fit in 32 bits')
    words = [value >> 16, value & 0xFFFF]
    if word_order == 'little':
        words.reverse()
    return words


def load_models(path=None):
    "Meter models by name from a JSON list (default: the bundled makes)."
    if path is None:
        text = resources.files('rkc.metering').joinpath(
            'data/models.json').read_text()
    else:
        with open(path) as file:
            text = file.read()
    models = [MeterModel(**spec) for spec in json.loads(text)]
    return {model.name: model for model in models}
