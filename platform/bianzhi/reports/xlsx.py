"""The roster's one-sheet workbooks, read row by row with openpyxl (read-only mode: memory stays
flat however many rows); they are written by exports.XlsxWriter (write-only mode), the one writer
of exported cells.

We measured a hand-written reader and writer at 2–6 times openpyxl's speed and kept openpyxl:
the format's corners (shared and rich strings, date styles, the 1904 calendar, what other
spreadsheet programs write) are its maintainers' work, not ours. 18,341 roster rows: write ~2 s,
read ~3.5 s on a quiet core (bench/roster.py)."""
import io
import zipfile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException


class NotAWorkbook(ValueError):
    pass


class Sheet:
    """The first worksheet of an .xlsx given as bytes."""

    def __init__(self, content):
        self.content = content
        try:
            self.book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise NotAWorkbook(str(exc)) from None
        if not self.book.worksheets:
            self.book.close()
            raise NotAWorkbook("没有工作表")
        self.sheet = self.book.worksheets[0]

    def size(self):
        """Rows as the sheet's <dimension> says; without one (write-only files, ours included),
        the <row> elements counted in the raw XML rather than parsing the sheet twice."""
        if self.sheet.max_row:
            return self.sheet.max_row
        path = getattr(self.sheet, "_worksheet_path", None)
        if path is None:
            return 0
        count, tail = 0, b""
        with zipfile.ZipFile(io.BytesIO(self.content)) as archive, archive.open(path) as source:
            while chunk := source.read(1 << 20):
                count += (tail + chunk).count(b"<row ") - tail.count(b"<row ")
                tail = chunk[-8:]
        return count

    def rows(self, width):
        """(Excel row number, `width` values) for every row; openpyxl fills skipped rows with
        empty ones, so the numbering is the sheet's own."""
        for number, values in enumerate(self.sheet.iter_rows(max_col=width, values_only=True), start=1):
            values = list(values)
            yield number, values + [None] * (width - len(values))

    def close(self):
        self.book.close()

