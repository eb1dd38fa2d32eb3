"""QR code symbols (ISO/IEC 18004, model 2) for bulk printing.

Only what payment receipts need: byte mode, error correction level M.
General encoders (segno) spend ~50 ms on a 500-byte payload in pure Python;
here everything that depends on the version alone (function patterns, the
zigzag placement order, the eight mask patterns) is computed once, and the
per-symbol work is done on whole-symbol strings and big integers, so that
the Python interpreter never loops over single modules.
"""
import functools
import operator
from dataclasses import dataclass

from rkc.engine.errors import CalculationError

# Per version, level M: error correction codewords per block, then
# (number of blocks, data codewords per block) for each block group.
_BLOCKS_M = {
    1: (10, ((1, 16),)), 2: (16, ((1, 28),)), 3: (26, ((1, 44),)),
    4: (18, ((2, 32),)), 5: (24, ((2, 43),)), 6: (16, ((4, 27),)),
    7: (18, ((4, 31),)), 8: (22, ((2, 38), (2, 39))),
    9: (22, ((3, 36), (2, 37))), 10: (26, ((4, 43), (1, 44))),
    11: (30, ((1, 50), (4, 51))), 12: (22, ((6, 36), (2, 37))),
    13: (22, ((8, 37), (1, 38))), 14: (24, ((4, 40), (5, 41))),
    15: (24, ((5, 41), (5, 42))), 16: (28, ((7, 45), (3, 46))),
    17: (28, ((10, 46), (1, 47))), 18: (26, ((9, 43), (4, 44))),
    19: (26, ((3, 44), (11, 45))), 20: (26, ((3, 41), (13, 42))),
    21: (26, ((17, 42),)), 22: (28, ((17, 46),)),
    23: (28, ((4, 47), (14, 48))), 24: (28, ((6, 45), (14, 46))),
    25: (28, ((8, 47), (13, 48))), 26: (28, ((19, 46), (4, 47))),
    27: (28, ((22, 45), (3, 46))), 28: (28, ((3, 45), (23, 46))),
    29: (28, ((21, 45), (7, 46))), 30: (28, ((19, 47), (10, 48))),
    31: (28, ((2, 46), (29, 47))), 32: (28, ((10, 46), (23, 47))),
    33: (28, ((14, 46), (21, 47))), 34: (28, ((14, 46), (23, 47))),
    35: (28, ((12, 47), (26, 48))), 36: (28, ((6, 47), (34, 48))),
    37: (28, ((29, 46), (14, 47))), 38: (28, ((13, 46), (32, 47))),
    39: (28, ((40, 47), (7, 48))), 40: (28, ((18, 47), (31, 48))),
    }
_LEVEL_M_FORMAT_BITS = 0b00
_BYTE_MODE = 0b0100
_PAD_BYTES = b'\xec\x11'
_MASKS = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: r * c % 2 + r * c % 3 == 0,
    lambda r, c: (r * c % 2 + r * c % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + r * c % 3) % 2 == 0,
    )


@dataclass(frozen=True)
class Symbol:
    "A QR code: its rows of modules, '1' for dark, top row first."
    version: int
    mask: int
    rows: tuple

    @property
    def size(self):
        return len(self.rows)


def encode(data, mask=None):
    """The symbol for ``data`` (bytes) in byte mode at level M, in the
    smallest version that holds it; the mask is chosen by the penalty rules
    of the standard unless given."""
    version = _version_for(len(data))
    layout = _layout(version)
    bits = _codeword_bits(data, version)
    # Data modules in row-major order; function modules read the '0' past
    # the end and are set from the layout's pattern below.
    matrix = int(''.join(layout.gather(bits + '0')), 2)
    if mask is None:
        mask = min(range(8), key=lambda m: _penalty(
            matrix ^ layout.masks[m] | layout.patterns[m], layout.size))
    matrix = matrix ^ layout.masks[mask] | layout.patterns[mask]
    n = layout.size
    text = format(matrix, f'0{n * n}b')
    return Symbol(version, mask, tuple(
        text[i:i + n] for i in range(0, n * n, n)))


def _version_for(length):
    for version, (_, groups) in _BLOCKS_M.items():
        header = 2 if version < 10 else 3
        if length + header <= sum(count * size for count, size in groups):
            return version
    raise CalculationError(
        f'QR payload of {length} bytes does not fit a QR code at level M')


def _codeword_bits(data, version):
    "The interleaved data and error correction codewords, as a bit string."
    ec_size, groups = _BLOCKS_M[version]
    capacity = sum(count * size for count, size in groups)
    count_bits = 8 if version < 10 else 16
    # Mode, count, data and the 4-bit terminator end on a byte boundary.
    value = ((_BYTE_MODE << count_bits | len(data)) << 8 * len(data)
        | int.from_bytes(data, 'big')) << 4
    stream = value.to_bytes((count_bits + 8 + 8 * len(data)) // 8, 'big')
    stream += (_PAD_BYTES * capacity)[:capacity - len(stream)]
    blocks, start = [], 0
    for count, size in groups:
        for _ in range(count):
            blocks.append(stream[start:start + size])
            start += size
    interleaved = bytes(_interleaving(version)(stream + b''.join(
        _reed_solomon(block, ec_size) for block in blocks)))
    return format(
        int.from_bytes(interleaved, 'big'), f'0{8 * len(interleaved)}b')


@functools.cache
def _interleaving(version):
    """Data blocks then error correction blocks, one codeword of each block
    in turn, as a permutation of (data codewords + their EC codewords)."""
    ec_size, groups = _BLOCKS_M[version]
    sizes = [size for count, size in groups for _ in range(count)]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    order = [
        start + i for i in range(max(sizes))
        for start, size in zip(starts, sizes, strict=True) if i < size]
    ec_start = sum(sizes)
    order += [
        ec_start + block * ec_size + i for i in range(ec_size)
        for block in range(len(sizes))]
    return operator.itemgetter(*order)


def _reed_solomon(block, ec_size):
    "The error correction codewords of one block (division remainder)."
    table = _remainder_table(ec_size)
    shift = 8 * (ec_size - 1)
    keep = (1 << shift) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder & keep) << 8) ^ table[
            byte ^ (remainder >> shift)]
    return remainder.to_bytes(ec_size, 'big')


_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]
del _x, _i


def _multiply(a, b):
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.cache
def _remainder_table(ec_size):
    """For each leading byte, the generator polynomial times that byte
    (without its leading term) as one integer: one XOR per data byte."""
    generator = [1]
    for i in range(ec_size):
        generator = [
            a ^ _multiply(b, _EXP[i])
            for a, b in zip(generator + [0], [0] + generator, strict=True)]
    tail = generator[1:]
    return [
        int.from_bytes(bytes(_multiply(f, g) for g in tail), 'big')
        for f in range(256)]


@dataclass(frozen=True)
class _Layout:
    size: int
    gather: object      # bit string -> module characters, row-major
    masks: tuple        # per mask: the data modules it flips
    patterns: tuple     # per mask: the dark function modules


@functools.cache
def _layout(version):
    n = 17 + 4 * version
    dark = [[False] * n for _ in range(n)]
    function = [[False] * n for _ in range(n)]

    def put(r, c, value):
        dark[r][c] = value
        function[r][c] = True

    for i in range(n):
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    for cr, cc in ((3, 3), (3, n - 4), (n - 4, 3)):
        for dr in range(-4, 5):
            for dc in range(-4, 5):
                if 0 <= cr + dr < n and 0 <= cc + dc < n:
                    put(cr + dr, cc + dc, max(abs(dr), abs(dc)) not in (2, 4))
    centres = _alignment_centres(version, n)
    corners = {(6, 6), (6, n - 7), (n - 7, 6)}
    for cr in centres:
        for cc in centres:
            if (cr, cc) in corners:
                continue
            for dr in range(-2, 3):
                for dc in range(-2, 3):
                    put(cr + dr, cc + dc, max(abs(dr), abs(dc)) != 1)
    if version >= 7:
        bits = _bch(version, 0x1F25, 12)
        for i in range(18):
            a, b = n - 11 + i % 3, i // 3
            put(b, a, bool(bits >> i & 1))
            put(a, b, bool(bits >> i & 1))
    format_cells = _format_cells(n)
    for r, c in format_cells:
        put(r, c, False)
    put(n - 8, 8, True)

    order = []
    for right in range(n - 1, 0, -2):
        if right <= 6:
            right -= 1
        upward = (right + 1) & 2 == 0
        for vert in range(n):
            r = n - 1 - vert if upward else vert
            for c in (right, right - 1):
                if not function[r][c]:
                    order.append(r * n + c)
    position = {cell: i for i, cell in enumerate(order)}
    capacity = 8 * sum(
        count * (size + _BLOCKS_M[version][0])
        for count, size in _BLOCKS_M[version][1])
    # Remainder bits and function modules read the '0' after the bits.
    source = [
        min(position.get(p, capacity), capacity) for p in range(n * n)]

    def to_int(cells):
        value = 0
        for p in cells:
            value |= 1 << (n * n - 1 - p)
        return value

    fixed = to_int(
        r * n + c for r in range(n) for c in range(n) if dark[r][c])
    masks, patterns = [], []
    for mask, flips in enumerate(_MASKS):
        masks.append(to_int(p for p in order if flips(*divmod(p, n))))
        bits = _bch(_LEVEL_M_FORMAT_BITS << 3 | mask, 0x537, 10) ^ 0x5412
        patterns.append(fixed | to_int(
            r * n + c for i, (r, c) in enumerate(format_cells)
            if bits >> i % 15 & 1))
    return _Layout(
        n, operator.itemgetter(*source), tuple(masks), tuple(patterns))


def _alignment_centres(version, n):
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    return [6] + sorted(n - 7 - i * step for i in range(count - 1))


def _format_cells(n):
    "Where the 15 format bits go, bit 0 first: both copies."
    first = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [
        (8, 14 - i) for i in range(9, 15)]
    second = [(8, n - 1 - i) for i in range(8)] + [
        (n - 15 + i, 8) for i in range(8, 15)]
    return first + second


def _bch(data, generator, degree):
    remainder = data
    for _ in range(degree):
        remainder = (remainder << 1) ^ (
            (remainder >> (degree - 1)) * generator)
    return data << degree | remainder


def _penalty(matrix, n):
    """The mask penalty of ISO/IEC 18004 §7.8.3 (runs, 2×2 blocks,
    finder-like patterns inside the symbol, dark balance), computed with
    whole-symbol shifts: cell (r, c) is bit n²-1-(r·n+c)."""
    total = n * n
    light = ~matrix
    score = 0
    equal = []
    for step, valid in _directions(n):
        # Each module equals the one before it in this direction.
        same = ~(matrix ^ matrix >> step) & valid[1]
        equal.append(same)
        windows = same & same >> step & same >> 2 * step & same >> 3 * step
        starts = windows & ~(same >> 4 * step)
        score += windows.bit_count() + 2 * starts.bit_count()
        core = (matrix & light >> step & matrix >> 2 * step
            & matrix >> 3 * step & matrix >> 4 * step & light >> 5 * step
            & matrix >> 6 * step)
        gap = light & light >> step
        gap &= gap >> 2 * step
        finders = (core >> 4 * step & gap | gap >> 7 * step & core) & valid[10]
        score += 40 * finders.bit_count()
    horizontal, vertical = equal
    blocks = horizontal & horizontal >> n & vertical & vertical >> 1
    score += 3 * blocks.bit_count()
    dark = matrix.bit_count()
    score += 10 * ((abs(dark * 20 - total * 10) + total - 1) // total - 1)
    return score


@functools.cache
def _directions(n):
    """Shift and validity masks for rows and for columns: ``valid[k]`` has
    the modules with at least k modules before them in that direction."""
    total = n * n
    rows = {k: sum(
        1 << (total - 1 - (r * n + c))
        for r in range(n) for c in range(k, n)) for k in (1, 10)}
    columns = {k: (1 << (total - k * n)) - 1 for k in (1, 10)}
    return ((1, rows), (n, columns))
