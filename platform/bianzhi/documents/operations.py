"""Registering documents, linking them to what they ground, scope and PDF checks. Rules take the
acting user, change the session, flush, never commit; errors are domain errors in Chinese."""
import hashlib
import io
import logging
import re
import unicodedata
import warnings
from datetime import date, datetime

from flask import current_app
from sqlalchemy import event, exists, false, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..audit.operations import record as audit
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..ledger.models import ChronicleEntry, Unit
from ..ledger.operations import chronicle
from ..organisation import scope
from .models import KINDS, Document, DocumentLink
from .text import index_text

DEFAULT_PDF_MAX_BYTES = 20 * 1024 * 1024  # config DOCUMENT_PDF_MAX_BYTES overrides
EDITORS = frozenset({"reviewer", "admin"})  # who may upload and link documents
_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "【": "〔", "】": "〕", "［": "〔", "］": "〕"})
log = logging.getLogger(__name__)


def normalize_number(number):
    """文号 as typed → as stored: trimmed, inner spaces dropped, [2024] / 【2024】 → 〔2024〕."""
    text = re.sub(r"\s+", "", str(number or ""))
    return text.translate(_BRACKETS)


def can_edit(user):
    return user.has_role(*EDITORS)


def visible_clause(user):
    """A WHERE clause on Document: what `user` may read. Bureau staff and supervisors: the
    documents linked to a unit of their office's jurisdiction (or of an office below it), and those
    registered by a user of it (a document not yet linked to any unit stays its office's); a unit
    clerk: those linked to their unit; anyone else nothing."""
    if user.reads_all_units:
        ids = scope.office_ids(user)
        if not ids:
            return false()
        jurisdiction = select(Unit.id).where(Unit.office_id.in_(ids))
        registrars = select(User.id).where(User.office_id.in_(ids))
        return or_(exists().where(DocumentLink.document_id == Document.id, DocumentLink.unit_id.in_(jurisdiction)),
                   Document.created_by_id.in_(registrars))
    if user.has_role("unit_clerk") and user.unit_id is not None:
        return exists().where(DocumentLink.document_id == Document.id, DocumentLink.unit_id == user.unit_id)
    return false()


def can_view(user, document):
    return db.session.scalar(select(Document.id).where(Document.id == document.id, visible_clause(user))) is not None


def visible(user, stmt):
    """Limit a select over Document to what the user may see."""
    return stmt.where(visible_clause(user))


def unit_reader(user):
    """A test of a unit id: whether that unit's links, cases and chronicle entries are shown to
    `user` on a document they may read (another office's or another unit's stay theirs); for the
    bureau, an entry about the document itself (no unit) too."""
    if user.reads_all_units:
        offices = set(scope.office_ids(user))

        def reads(unit_id):
            if unit_id is None:
                return True
            unit = db.session.get(Unit, unit_id)
            return unit is not None and unit.office_id in offices
        return reads
    own = user.unit_id if user.has_role("unit_clerk") else None
    return lambda unit_id: unit_id is not None and unit_id == own


def get_document(user, document_id):
    document = db.session.get(Document, document_id)
    if document is None or not can_view(user, document):
        raise NotFound("文件不存在或不在您的查看范围内")  # the same answer: other units' files stay unseen
    return document


def by_number(number):
    return db.session.scalar(select(Document).where(Document.number == normalize_number(number)))


def _pdf_limit():
    return int(current_app.config.get("DOCUMENT_PDF_MAX_BYTES", DEFAULT_PDF_MAX_BYTES))


def read_pdf(pdf):
    """A FileStorage or bytes → (bytes, filename) after the checks: not empty, %PDF magic, size."""
    name = None
    if hasattr(pdf, "read"):
        name = getattr(pdf, "filename", None)
        limit = _pdf_limit()
        content = pdf.read(limit + 1)
    else:
        content = bytes(pdf)
        limit = _pdf_limit()
    label = f"「{name}」" if name else ""
    if not content:
        raise ValidationFailed(f"PDF 文件{label}是空文件", fields={"pdf": ["空文件"]})
    if len(content) > limit:
        raise ValidationFailed(f"PDF 文件{label}超过大小上限 {limit // (1024 * 1024)} MB",
                               fields={"pdf": [f"文件过大，上限 {limit // (1024 * 1024)} MB"]})
    if not content.startswith(b"%PDF-"):
        raise ValidationFailed(f"上传的文件{label}不是 PDF（文件头不是 %PDF）",
                               fields={"pdf": ["只接受 PDF 文件"]})
    return content, name


def pdf_text(content):
    """The text layer of a PDF, or "" when it has none (a scan) or cannot be read."""
    try:
        from pypdf import PdfReader
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("pypdf").setLevel(logging.ERROR)
            reader = PdfReader(io.BytesIO(content))
            return "\n".join((page.extract_text() or "") for page in reader.pages[:200]).strip()
    except Exception as exc:  # noqa: BLE001  any unreadable PDF: keep the file, index no text
        log.info("no text from PDF: %s", exc)
        return ""


def _check(number, title, issued_on, kind, issuer):
    errors = {}
    if not number:
        errors["number"] = ["请填写文号"]
    elif len(number) > 64:
        errors["number"] = ["文号不能超过 64 个字符"]
    if not title:
        errors["title"] = ["请填写文件标题"]
    elif len(title) > 200:
        errors["title"] = ["标题不能超过 200 个字符"]
    if isinstance(issued_on, str):
        try:
            issued_on = date.fromisoformat(issued_on.strip())
        except ValueError:
            errors["issued_on"] = ["成文日期格式应为 YYYY-MM-DD"]
    elif isinstance(issued_on, datetime):
        issued_on = issued_on.date()
    if not isinstance(issued_on, date) and "issued_on" not in errors:
        errors["issued_on"] = ["请填写成文日期"]
    if kind not in KINDS:
        errors["kind"] = [f"文件类别应为：{'、'.join(KINDS)}"]
    if issuer and len(issuer) > 128:
        errors["issuer"] = ["发文机关不能超过 128 个字符"]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(f"文件登记信息有误：{first}", fields=errors)
    return issued_on


def _units(unit_ids, user=None):
    """The units named by id; with `user` (an editor's form), only units of their jurisdiction."""
    units = []
    for unit_id in dict.fromkeys(unit_ids or ()):
        unit = db.session.get(Unit, int(unit_id)) if str(unit_id).isdigit() else None
        if unit is not None and user is not None and not scope.reads_office(user, unit.office_id):
            unit = None  # another office's unit: as if it did not exist
        if unit is None:
            raise ValidationFailed(f"关联的单位（{unit_id}）不存在", fields={"unit_ids": ["单位不存在"]})
        units.append(unit)
    return units


def register(user, number, title, issued_on, kind="批复", pdf=None, unit_ids=(), body_text="", issuer=None,
             case=None, record=True):
    """Register a document (文号 unique). When the number is already registered, the existing
    document is returned and only the links to `unit_ids` (and `case`) are added. Registering and
    linking a unit are chronicle entries, except with record=False (the demo's starting ledger)."""
    number = normalize_number(number)
    existing = by_number(number) if number else None
    units = _units(unit_ids)
    if existing is not None:
        for unit in units:
            link(existing, unit=unit, user=user, record=record)
        if case is not None:
            link(existing, case=case, user=user)
        return existing
    title = re.sub(r"\s+", " ", str(title or "")).strip()
    issuer = (str(issuer).strip() or None) if issuer else None
    issued_on = _check(number, title, issued_on, kind, issuer)
    body_text = str(body_text or "").replace("\x00", "")
    document = Document(number=number, title=title, issued_on=issued_on, kind=kind, issuer=issuer,
                        body_text=body_text, created_by_id=user.id if user else None)
    if pdf is not None:
        content, _name = read_pdf(pdf)
        document.pdf, document.pdf_size = content, len(content)
        document.pdf_sha256 = hashlib.sha256(content).hexdigest()
        extracted = pdf_text(content).replace("\x00", "")
        if extracted and extracted not in body_text:
            document.body_text = (body_text + "\n" + extracted).strip()
    refresh_search_text(document)
    db.session.add(document)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(f"文号 {number} 已被同时登记，请刷新后重试") from None
    if record:
        chronicle(user, case, units[0] if len(units) == 1 else None, "document", document.id, "register",
                  f"登记{kind} {number}《{title}》", after={"number": number, "title": title,
                                                          "issued_on": issued_on.isoformat(), "kind": kind})
    for unit in units:
        link(document, unit=unit, user=user, record=record)
    if case is not None:
        link(document, case=case, user=user)
    db.session.flush()
    return document


def link(document, unit=None, chronicle_entry=None, case=None, user=None, record=True):
    """Record that `document` grounds a unit, a chronicle entry and/or a case (idempotent). A link to
    a case or chronicle entry carries that unit too. Linking a unit is itself a chronicle entry."""
    if unit is None and chronicle_entry is None and case is None:
        raise ValidationFailed("请指定文件关联的单位、沿革记录或案件")
    unit_id = unit.id if unit is not None else None
    if unit_id is None and chronicle_entry is not None:
        unit_id = chronicle_entry.unit_id
    if unit_id is None and case is not None:
        unit_id = case.unit_id
    db.session.flush()  # the document, entry and case have ids
    key = dict(document_id=document.id, unit_id=unit_id,
               chronicle_id=chronicle_entry.id if chronicle_entry is not None else None,
               case_id=case.id if case is not None else None)
    stmt = select(DocumentLink)
    for column, value in key.items():
        attr = getattr(DocumentLink, column)
        stmt = stmt.where(attr.is_(None) if value is None else attr == value)
    found = db.session.scalar(stmt.limit(1))
    if found is not None:
        return found
    row = DocumentLink(**key)
    document.links.append(row)
    if record and chronicle_entry is None and case is None and unit is not None:
        chronicle(user, None, unit, "document", document.id, "link_unit",
                  f"文件 {document.number}《{document.title}》关联到{unit.name}",
                  after={"document_id": document.id, "number": document.number})
    refresh_search_text(document)
    db.session.flush()
    return row


def unlink_unit(user, document, unit):
    """Remove a document's link to a unit (a wrong link); chronicled."""
    if not can_edit(user):
        raise Forbidden("只有业务科室或系统管理员可以修改文件关联")
    rows = [r for r in document.links if r.unit_id == unit.id and r.chronicle_id is None and r.case_id is None]
    if not rows:
        raise NotFound(f"文件 {document.number} 没有关联到{unit.name}")
    for row in rows:
        document.links.remove(row)
        db.session.delete(row)
    chronicle(user, None, unit, "document", document.id, "unlink_unit",
              f"取消文件 {document.number}《{document.title}》与{unit.name}的关联",
              before={"document_id": document.id, "number": document.number})
    refresh_search_text(document)
    db.session.flush()


def case_documents(case):
    """The documents a case grounds or rests on (e.g. the 主任办公会 minutes that approved it)."""
    return db.session.scalars(select(Document).where(Document.id.in_(
        select(DocumentLink.document_id).where(DocumentLink.case_id == case.id))).order_by(Document.issued_on,
                                                                                           Document.id)).all()


def linked_units(document):
    ids = {r.unit_id for r in document.links if r.unit_id is not None}
    if not ids:
        return []
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.name)))


def grounded_entries(document):
    """The chronicle entries this document grounds: linked directly or through a linked case."""
    entry_ids = [r.chronicle_id for r in document.links if r.chronicle_id is not None]
    case_ids = [r.case_id for r in document.links if r.case_id is not None]
    conditions = []
    if entry_ids:
        conditions.append(ChronicleEntry.id.in_(entry_ids))
    if case_ids:
        conditions.append(ChronicleEntry.case_id.in_(case_ids))
    conditions.append((ChronicleEntry.entity == "document") & (ChronicleEntry.entity_id == document.id))
    return list(db.session.scalars(select(ChronicleEntry).where(or_(*conditions))
                                   .order_by(ChronicleEntry.at, ChronicleEntry.id)))


def refresh_search_text(document):
    """Rewrite what the full-text index covers: number, title, issuer, body, linked unit names."""
    names = [u.name for u in linked_units(document)] if document.id is not None else []
    parts = [document.number or "", document.title or "", document.issuer or "", " ".join(names),
             document.body_text or ""]
    document.search_text = index_text("\n".join(parts))


def upload(user, number, title, issued_on, kind, issuer, unit_ids, body_text, pdf, ip=None):
    """The upload form (业务科室, 系统管理员): a new number only — an existing one is a conflict
    that points to the registered document, where units can be linked."""
    if not can_edit(user):
        raise Forbidden("只有业务科室或系统管理员可以登记文件")
    existing = by_number(number) if normalize_number(number) else None
    if existing is not None:
        raise Conflict(f"文号 {existing.number} 已登记（《{existing.title}》），如需关联单位请在该文件页面添加",
                       fields={"number": ["文号已登记"]}, code="duplicate_number")
    _units(unit_ids, user)  # an editor links the units of their office's jurisdiction only
    document = register(user, number, title, issued_on, kind=kind, pdf=pdf, unit_ids=unit_ids,
                        body_text=body_text, issuer=issuer)
    audit(user, "document.register", f"document:{document.id}", ip=ip, number=document.number,
          units=[u.id for u in linked_units(document)], pdf_sha256=document.pdf_sha256)
    return document


def add_unit(user, document, unit_id, ip=None):
    """Link a registered document to one more unit (业务科室, 系统管理员)."""
    if not can_edit(user):
        raise Forbidden("只有业务科室或系统管理员可以修改文件关联")
    (unit,) = _units([unit_id], user)
    if unit in linked_units(document):
        raise Conflict(f"文件 {document.number} 已关联{unit.name}")
    link(document, unit=unit, user=user)
    audit(user, "document.link", f"document:{document.id}", ip=ip, unit=unit.id)
    return unit


def verified_pdf(user, document, ip=None):
    """The PDF bytes after checking them against the stored SHA-256; the download is audited."""
    if document.pdf_sha256 is None:
        raise NotFound(f"文件 {document.number} 没有 PDF 原件")
    content = document.pdf
    if hashlib.sha256(content).hexdigest() != document.pdf_sha256:
        log.error("document %s: PDF does not match its SHA-256", document.id)
        raise Conflict(f"文件 {document.number} 的 PDF 原件校验失败（SHA-256 不符），请联系系统管理员",
                       code="pdf_corrupt")
    audit(user, "document.download", f"document:{document.id}", ip=ip, number=document.number,
          sha256=document.pdf_sha256)
    return content


def reindex(unit=None):
    """Rewrite the full-text column of every document (or of a unit's documents, e.g. after the
    unit was renamed: its name is part of what is indexed). Returns how many were rewritten."""
    stmt = select(Document)
    if unit is not None:
        stmt = stmt.where(exists().where(DocumentLink.document_id == Document.id, DocumentLink.unit_id == unit.id))
    count = 0
    for document in db.session.scalars(stmt.order_by(Document.id)):
        before = document.search_text
        refresh_search_text(document)
        count += document.search_text != before
    db.session.flush()
    return count


@event.listens_for(Session, "before_flush")
def _units_renamed(session, _context, _instances):
    """A unit's name is part of its documents' search text: a rename rewrites it in the same flush."""
    renamed = [obj for obj in session.dirty if isinstance(obj, Unit) and inspect(obj).attrs.name.history.deleted]
    if not renamed:
        return
    with session.no_autoflush:
        for document in session.scalars(select(Document).join(DocumentLink).where(
                DocumentLink.unit_id.in_([u.id for u in renamed])).distinct()):
            refresh_search_text(document)
