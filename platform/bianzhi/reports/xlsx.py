"""Reading the first worksheet of an .xlsx row by row, fast and in bounded memory.

openpyxl (which writes our rosters) reads 20,000 roster rows in ~20 s on a busy server: a
file without a <dimension> element (every write-only workbook, our own export included) is
parsed twice, and each inline string becomes a rich-text object. This reads the sheet's XML
with lxml's iterparse, clearing each row once read, and gives the same values openpyxl's
read-only mode gives: text, int, float, bool, and datetime for numbers in a date format (the
built-in ones, the Chinese-locale built-ins 27–36 and 50–58, and custom date formats).
XML entities are not resolved and nothing is fetched from the network.
"""
import io
import re
import zipfile
from datetime import datetime

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CJK_DATE_FORMATS = set(range(27, 37)) | set(range(50, 59))  # 年月日 built-ins of Chinese Excel
DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')
CELL_REF = re.compile(r"^([A-Z]+)")


class NotAWorkbook(ValueError):
    pass


def _parse(data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(data, parser)


def _text(element):
    """The text of a shared or inline string: its runs joined, phonetic hints (rPh) left out."""
    parts = []
    for child in element:
        if child.tag == NS + "t":
            parts.append(child.text or "")
        elif child.tag == NS + "r":
            t = child.find(NS + "t")
            parts.append(t.text or "" if t is not None else "")
    return "".join(parts)


class Sheet:
    def __init__(self, content):
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(content))
            workbook = _parse(self.archive.read("xl/workbook.xml"))
            first = workbook.find(f"{NS}sheets/{NS}sheet")
            rels = _parse(self.archive.read("xl/_rels/workbook.xml.rels"))
            target = next(r.get("Target") for r in rels.iter(PKG + "Relationship") if r.get("Id") == first.get(REL + "id"))
            self.path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            properties = workbook.find(NS + "workbookPr")
            date1904 = properties is not None and properties.get("date1904") in ("1", "true")
            self.epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
            self.strings = self._shared_strings()
            self.date_styles = self._date_styles()
        except (KeyError, StopIteration, AttributeError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
            raise NotAWorkbook(str(exc)) from None

    def _shared_strings(self):
        if "xl/sharedStrings.xml" not in self.archive.namelist():
            return []
        with self.archive.open("xl/sharedStrings.xml") as source:
            strings = []
            for _event, si in etree.iterparse(source, tag=NS + "si", resolve_entities=False, no_network=True):
                strings.append(_text(si))
                si.clear()
            return strings

    def _date_styles(self):
        if "xl/styles.xml" not in self.archive.namelist():
            return frozenset()
        styles = _parse(self.archive.read("xl/styles.xml"))
        custom = {int(f.get("numFmtId")): f.get("formatCode") or "" for f in styles.iter(NS + "numFmt")}
        xfs = styles.find(NS + "cellXfs")
        dates = set()
        for index, xf in enumerate(xfs if xfs is not None else []):
            fmt = int(xf.get("numFmtId", 0))
            code = custom.get(fmt, BUILTIN_FORMATS.get(fmt, ""))
            if fmt in CJK_DATE_FORMATS and fmt not in custom or is_date_format(code):
                dates.add(index)
        return frozenset(dates)

    def size(self):
        """Rows as the sheet's <dimension> says; without one, the <row> elements counted."""
        with self.archive.open(self.path) as source:
            head = source.read(4096)
            match = DIMENSION.search(head)
            if match and int(match.group(1)) > 1:
                return int(match.group(1))
            count, tail = head.count(b"<row "), b""
            while chunk := source.read(1 << 20):
                count += (tail + chunk).count(b"<row ") - tail.count(b"<row ")
                tail = chunk[-8:]
            return count

    def rows(self, width):
        """(Excel row number, `width` values) for every row element, in order."""
        number = 0
        with self.archive.open(self.path) as source:
            for _event, row in etree.iterparse(source, tag=NS + "row", resolve_entities=False, no_network=True,
                                               huge_tree=False):
                number = int(row.get("r") or number + 1)
                values = [None] * width
                column = 0
                for cell in row.iter(NS + "c"):
                    ref = cell.get("r")
                    column = column_index_from_string(CELL_REF.match(ref).group(1)) if ref else column + 1
                    if column <= width:
                        values[column - 1] = self._value(cell)
                yield number, values
                row.clear()
                while row.getprevious() is not None:
                    del row.getparent()[0]

    def _value(self, cell):
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            inline = cell.find(NS + "is")
            return _text(inline) if inline is not None else ""
        v = cell.find(NS + "v")
        value = v.text if v is not None else None
        if value is None:
            return None
        if kind == "s":
            return self.strings[int(value)]
        if kind in ("str", "e"):
            return value
        if kind == "b":
            return value == "1"
        if kind == "d":
            return datetime.fromisoformat(value)
        if int(cell.get("s", 0)) in self.date_styles:
            return from_excel(float(value), self.epoch)
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        return float(value)

    def close(self):
        self.archive.close()
