"""Cyrillic fonts for PDF documents, and fast text output with them.

ReportLab's built-in fonts have no Cyrillic glyphs, so documents embed
DejaVu Sans from the Debian package fonts-dejavu-core (subsets, once per
file).
"""
import functools
from pathlib import Path

from reportlab.lib.rl_accel import escapePDF
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path('/usr/share/fonts/truetype/dejavu')
DEBIAN_PACKAGE = 'fonts-dejavu-core'
REGULAR = 'DejaVuSans'
BOLD = 'DejaVuSans-Bold'


class FontMissingError(RuntimeError):
    "A font file the documents need is not installed."


@functools.cache
def register(font_dir=FONT_DIR):
    """Register the regular and bold fonts with ReportLab once per process
    (parsing a TrueType file costs more than rendering a page)."""
    for name in (REGULAR, BOLD):
        path = Path(font_dir) / f'{name}.ttf'
        if not path.is_file():
            raise FontMissingError(
                f'font file {path} is missing: install the Debian package '
                f'{DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE})')
        pdfmetrics.registerFont(TTFont(name, str(path)))


class TextSetter:
    """Collects the text of one content stream and writes it as a single
    text object.

    ``canvas.drawString`` re-encodes TrueType text into font subsets on
    every call, which made text the dominant cost of a receipt page; here
    each (string, font, size) is encoded once per document and reused.
    """

    def __init__(self, canvas):
        register()
        self._canvas = canvas
        # ReportLab keeps a document's subset assignments per document
        # object, which the canvas holds.
        self._doc = canvas._doc
        self._fonts = {name: pdfmetrics.getFont(name)
            for name in (REGULAR, BOLD)}
        self._encoded = {}
        self._ops = []

    def width(self, text, font=REGULAR, size=8):
        return pdfmetrics.stringWidth(text, font, size)

    def text(self, x, y, text, font=REGULAR, size=8, align='left'):
        "Place ``text`` with its baseline at y; align: left, right, centre."
        if not text:
            return
        encoded, width = self._encode(text, font, size)
        if align == 'right':
            x -= width
        elif align == 'centre':
            x -= width / 2
        self._ops.append(f'1 0 0 1 {x:.2f} {y:.2f} Tm {encoded}')

    def lines(self, x, y, lines, leading, font=REGULAR, size=8):
        "Several lines downwards from baseline y."
        for i, line in enumerate(lines):
            self.text(x, y - i * leading, line, font, size)

    def wrap(self, text, width, font=REGULAR, size=8):
        "Split text into lines no wider than ``width`` at spaces."
        lines, line = [], ''
        for word in text.split():
            candidate = f'{line} {word}' if line else word
            if line and self.width(candidate, font, size) > width:
                lines.append(line)
                candidate = word
            line = candidate
        if line:
            lines.append(line)
        return lines

    def flush(self):
        "Write the collected text into the canvas's current stream."
        if self._ops:
            self._canvas.addLiteral('BT ' + ' '.join(self._ops) + ' ET')
            self._ops = []

    def _encode(self, text, font, size):
        "The text's operators and its width, once per document."
        key = (text, font, size)
        cached = self._encoded.get(key)
        if cached is None:
            ttf = self._fonts[font]
            cached = self._encoded[key] = (' '.join(
                f'{ttf.getSubsetInternalName(subset, self._doc)} {size} Tf '
                f'({escapePDF(chunk)}) Tj'
                for subset, chunk in ttf.splitString(text, self._doc)),
                self.width(text, font, size))
        return cached
