"""Reading the first worksheet of an .xlsx row by row, fast and in bounded memory (and writing
one the same way: SheetWriter at the end).

openpyxl reads 20,000 roster rows in ~20 s on a busy server: a
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
from xml.sax.saxutils import escape

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.cell import column_index_from_string, get_column_letter
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


# -- writing ------------------------------------------------------------------------------------

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (_XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
                 f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
                 f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>')
ROOT_RELS = (_XML + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK_RELS = (_XML + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 'worksheet" Target="worksheets/sheet1.xml"/>'
                 '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 'styles" Target="styles.xml"/></Relationships>')
STYLES = (_XML + '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
          '<fonts count="1"><font><sz val="11"/><name val="等线"/></font></fonts>'
          '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
          '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
          '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
          '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
          '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0


class SheetWriter:
    """A one-sheet .xlsx written straight into `out` row by row, every cell inline text (what the
    roster holds): ~10 times faster than openpyxl's write-only mode, memory flat however many
    rows. Values are written as given; the caller neutralises formula-like text (exports.safe_cell)."""

    FLUSH = 500

    def __init__(self, out, title):
        self.archive = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS), ("xl/styles.xml", STYLES),
                           ("xl/workbook.xml", _XML + '<workbook xmlns="http://schemas.openxmlformats.org/'
                            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
                            f'2006/relationships"><sheets><sheet name="{escape(title)}" sheetId="1" r:id="rId1"/>'
                            '</sheets></workbook>')):
            self.archive.writestr(name, text)
        self.stream = self.archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self.stream.write((_XML + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                           '<sheetData>').encode())
        self.rows, self.buffer, self.letters = 0, [], []

    def append(self, values):
        self.rows += 1
        n, letters = self.rows, self.letters
        while len(letters) < len(values):
            letters.append(get_column_letter(len(letters) + 1))
        parts = [f'<row r="{n}">']
        for i, value in enumerate(values):
            if value is None or value == "":
                continue
            text = escape(ILLEGAL.sub("", str(value)))
            parts.append(f'<c r="{letters[i]}{n}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
        parts.append("</row>")
        self.buffer.append("".join(parts))
        if len(self.buffer) >= self.FLUSH:
            self._flush()

    def _flush(self):
        self.stream.write("".join(self.buffer).encode())
        self.buffer = []

    def close(self):
        self._flush()
        self.stream.write(b"</sheetData></worksheet>")
        self.stream.close()
        self.archive.close()
