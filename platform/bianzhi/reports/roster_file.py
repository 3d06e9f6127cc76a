"""The roster file (花名册) as the import reads it: the upload checked (type, size, zip bomb),
the header matched against the export's, the rows streamed, each cell read as text or a date.
What a row means for the ledger is roster_import.py's."""
import io
import re
import zipfile
from datetime import date, datetime

from lxml import etree

from ..errors import ValidationFailed
from ..exports import FORMULA_START
from . import xlsx
from .operations import ROSTER_HEADER

MAX_BYTES = 25 * 1024 * 1024  # the web upload limit (MAX_CONTENT_LENGTH); the CLI reads any size
MAX_UNPACKED = 1024 * 1024 * 1024
MAX_RATIO = 100  # a zip unpacking to more than 100 times its size is a zip bomb


# -- the file -----------------------------------------------------------------------------------

def check_upload(filename, content):
    """Refuse what is not an .xlsx of a sane size before openpyxl sees it."""
    if not filename or not filename.lower().endswith(".xlsx"):
        raise ValidationFailed("请上传 Excel 文件（.xlsx）", fields={"file": ["只接受 .xlsx 格式的花名册"]})
    if not content:
        raise ValidationFailed("上传的文件是空的", fields={"file": ["文件为空"]})
    if len(content) > MAX_BYTES:
        raise ValidationFailed(f"文件过大（{len(content) // 1024 // 1024} MB），上限 {MAX_BYTES // 1024 // 1024} MB",
                               fields={"file": ["文件过大"]})
    check_zip(content)


def check_zip(content):
    """An .xlsx is a zip with the Office manifest and a worksheet, and no zip bomb."""
    if not content.startswith(b"PK\x03\x04"):
        raise ValidationFailed("文件不是有效的 Excel 文件（.xlsx）", fields={"file": ["文件内容不是 .xlsx"]})
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
            names = {e.filename for e in entries}
            unpacked = sum(e.file_size for e in entries)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise ValidationFailed("文件已损坏或不是 Excel 文件", fields={"file": ["无法打开 .xlsx"]}) from None
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/worksheets/") for n in names):
        raise ValidationFailed("文件不是有效的 Excel 工作簿（.xlsx）", fields={"file": ["缺少工作表"]})
    if unpacked > MAX_UNPACKED or unpacked > MAX_RATIO * len(content):
        raise ValidationFailed("文件解压后过大，疑似压缩炸弹，不予接收", fields={"file": ["解压后过大"]})


def _header(values):
    got = [("" if v is None else str(v).strip()) for v in values]
    while got and got[-1] == "":
        got.pop()
    if got == ROSTER_HEADER:
        return
    missing = [h for h in ROSTER_HEADER if h not in got]
    extra = [h or "（空白）" for h in got if h not in ROSTER_HEADER]
    parts = []
    if missing:
        parts.append("缺少列：" + "、".join(f"「{h}」" for h in missing))
    if extra:
        parts.append("多出列：" + "、".join(f"「{h}」" for h in extra))
    if not parts:
        i = next(i for i, (a, b) in enumerate(zip(ROSTER_HEADER, got)) if a != b)
        parts.append(f"第 {i + 1} 列应为「{ROSTER_HEADER[i]}」，文件中为「{got[i]}」")
    raise ValidationFailed("表头与人员花名册导出的列不一致（" + "；".join(parts) + "）。请在导出的花名册上修改后导入",
                           fields={"file": parts})


def row_count(content):
    """Data rows as the sheet says (for progress bars)."""
    rows = read_rows(content)
    rows.close()
    return rows.size


class Rows:
    """The data rows of a roster file: (Excel row number, values), read row by row, blank rows
    passed over. `size` is the sheet's row count less the header (for progress bars)."""

    def __init__(self, sheet, rows, size):
        self.sheet, self.rows, self.size = sheet, rows, size

    def __iter__(self):
        number = 1
        try:
            while True:
                try:
                    number, values = next(self.rows)
                except StopIteration:
                    return
                except (etree.LxmlError, ValueError, IndexError, zipfile.BadZipFile):
                    raise ValidationFailed(f"Excel 文件第 {number} 行之后的内容已损坏，无法读取",
                                           fields={"file": ["文件已损坏"]}) from None
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                yield number, values
        finally:
            self.close()

    def close(self):
        self.rows.close()
        self.sheet.close()


def read_rows(content):
    """The file's Rows after checking its header (the first non-blank row)."""
    try:
        sheet = xlsx.Sheet(content)
        rows = sheet.rows(len(ROSTER_HEADER) + 8)  # a few more: extra columns are named in the refusal
        first = next((values for _n, values in rows if any(v not in (None, "") for v in values)), None)
        size = max(sheet.size() - 1, 0)
    except (xlsx.NotAWorkbook, etree.LxmlError, ValueError, IndexError, zipfile.BadZipFile):
        raise ValidationFailed("无法读取 Excel 文件：文件已损坏或格式不正确", fields={"file": ["无法读取"]}) from None
    try:
        if first is None:
            raise ValidationFailed("文件中没有表头和数据", fields={"file": ["空工作表"]})
        _header(first)
    except ValidationFailed:
        rows.close()
        sheet.close()
        raise
    return Rows(sheet, _narrow(rows), size)


def _narrow(rows):
    width = len(ROSTER_HEADER)
    for number, values in rows:
        yield number, values[:width]


# -- cells --------------------------------------------------------------------------------------

def cell_text(value):
    """A cell as text: the export's neutralising apostrophe (before =, +, - …) taken off again."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        text = text[1:]
    return text


DATE_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def cell_date(value):
    """A date from an Excel date cell or YYYY-MM-DD (also / or .) text; None if not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = DATE_RE.match(cell_text(value))
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None
