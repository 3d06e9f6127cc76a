"""Safe tabular exports: the one place that writes CSV and Excel cells.

Every export (roster, queries, statistics, reconciliation, audit log) writes through `csv_bytes`
or `XlsxWriter`, and both neutralise each text cell a spreadsheet would run as a formula (one
starting with =, +, -, @, a tab or a carriage return gets a leading apostrophe, which the roster
import takes off again: reports/roster_file.cell_text). Numbers stay numbers. Nothing else in the
platform imports openpyxl's Workbook or the csv writer.
"""
import csv
import io
import re

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0
_BOLD = Font(bold=True)


def safe_cell(value):
    """A value for a CSV/Excel cell: text starting like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _xlsx_cell(value):
    """An Excel cell's value: numbers as they are, an empty text as no cell at all (what Excel
    itself does; a roster row is about 40 % empty cells, and each written cell is openpyxl's
    largest cost), everything else neutralised text without XML-illegal characters."""
    if value.__class__ is str:  # the common case first: a roster is 390,000 cells
        if value.startswith(FORMULA_START):
            value = "'" + value
        return ILLEGAL.sub("", value) or None
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return ILLEGAL.sub("", safe_cell(value)) or None


def csv_bytes(header, rows):
    """UTF-8 CSV with a BOM (so Excel on Windows reads the Chinese), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


class XlsxSheet:
    def __init__(self, sheet, as_text):
        self._sheet = sheet
        self._as_text = as_text

    def append(self, values, bold=False):
        if self._as_text:
            values = [v if v is None or v.__class__ is str else str(v) for v in values]
        cells = [_xlsx_cell(v) for v in values]
        if bold:
            cells = [_bold(self._sheet, v) for v in cells]
        self._sheet.append(cells)


def _bold(sheet, value):
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = _BOLD
    return cell


class XlsxWriter:
    """An .xlsx written row by row (openpyxl's write-only mode: memory stays flat however many
    rows) into `out` (a file or BytesIO) on `close()`. `sheet(title)` adds a worksheet whose
    `append(values, bold=False)` neutralises every cell."""

    def __init__(self, out):
        self.out = out
        self.book = Workbook(write_only=True)

    def sheet(self, title, as_text=False):
        """A new worksheet; `as_text`: numbers written as text too (exports read back as text)."""
        return XlsxSheet(self.book.create_sheet(title), as_text)

    def close(self):
        self.book.save(self.out)

