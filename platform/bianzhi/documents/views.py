"""Pages and JSON of the documents library (机构编制文件库). Thin: the rules are in operations.py,
the search in search.py."""
from io import BytesIO

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..api.views import token_required
from ..errors import ValidationFailed
from ..extensions import db
from ..cases.models import Case
from ..ledger import operations as ledger
from ..ledger.models import Unit
from ..web.transaction import refused
from . import operations as documents
from .models import KINDS, Document, DocumentLink
from .search import search
from ..util import key_int

bp = Blueprint("documents", __name__)


def _unit_choices(user):
    """The units the user picks from (search filter, links): their jurisdiction's, a clerk's own."""
    return db.session.scalars(select(Unit).where(ledger.visible_units(user)).order_by(Unit.code)).all()


def _search_args():
    unit_id = key_int(request.args.get("unit"))
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    return dict(q=request.args.get("q", "")[:100], unit_id=unit_id, kind=kind,
                page=key_int(request.args.get("page"), 1))


@bp.get("/documents")
@login_required
def index():
    args = _search_args()
    results = search(current_user, **args)
    return render_template("documents/index.html", results=results, args=args, kinds=KINDS,
                           units=_unit_choices(current_user))


def _form_page(values, errors=None, status=200):
    return render_template("documents/new.html", values=values, errors=errors or {}, kinds=KINDS,
                           units=_unit_choices(current_user)), status


@bp.get("/documents/new")
@login_required
def new():
    return _form_page({"kind": "批复", "unit_ids": [str(u) for u in map(key_int, request.args.getlist("unit")) if u]})


@bp.post("/documents")
@login_required
def create():
    form = request.form
    values = {k: form.get(k, "") for k in ("number", "title", "issued_on", "kind", "issuer", "body_text")}
    values["unit_ids"] = form.getlist("unit_ids")
    pdf = request.files.get("pdf")
    if pdf is not None and not pdf.filename:
        pdf = None
    try:
        document = documents.upload(current_user, values["number"], values["title"], values["issued_on"],
                                    values["kind"], values["issuer"], values["unit_ids"], values["body_text"],
                                    pdf, ip=request.remote_addr)
    except ValidationFailed as exc:
        refused(exc)
        flash(exc.message, "error")
        return _form_page(values, exc.fields, 422)
    document_id, number = document.id, document.number
    flash(f"文件 {number} 已登记", "success")
    return redirect(url_for("documents.detail", document_id=document_id))


def _entries_for(user, document, reads=None):
    reads = reads or documents.unit_reader(user)
    return [e for e in documents.grounded_entries(document) if reads(e.unit_id)]


@bp.get("/documents/<int:document_id>")
@login_required
def detail(document_id):
    document = documents.get_document(current_user, document_id)
    # other units' (another office's) links, cases and entries stay theirs
    reads = documents.unit_reader(current_user)
    units = [u for u in documents.linked_units(document) if reads(u.id)]
    case_ids = {link.case_id for link in document.links if link.case_id is not None}
    cases = db.session.scalars(select(Case).where(Case.id.in_(case_ids)).order_by(Case.id)).all() if case_ids else []
    cases = [c for c in cases if c.can_view(current_user)]
    linkable = [u for u in _unit_choices(current_user) if u not in units]
    return render_template("documents/detail.html", document=document, units=units, cases=cases,
                           entries=_entries_for(current_user, document, reads), linkable=linkable)


@bp.post("/documents/<int:document_id>/links")
@login_required
def add_link(document_id):
    document = documents.get_document(current_user, document_id)
    unit = documents.add_unit(current_user, document, request.form.get("unit_id", ""), ip=request.remote_addr)
    name = unit.name
    flash(f"已关联到{name}", "success")
    return redirect(url_for("documents.detail", document_id=document_id))


@bp.get("/documents/<int:document_id>/pdf")
@login_required
def pdf(document_id):
    document = documents.get_document(current_user, document_id)
    content = documents.verified_pdf(current_user, document, ip=request.remote_addr)
    name = f"{document.number}.pdf"
    return send_file(BytesIO(content), mimetype="application/pdf", as_attachment=True, download_name=name)


# ---- JSON ----

def _document_json(user, document, full=False):
    reads = documents.unit_reader(user)
    units = [u for u in documents.linked_units(document) if reads(u.id)]
    body = {"id": document.id, "number": document.number, "title": document.title,
            "issued_on": document.issued_on.isoformat(), "kind": document.kind, "issuer": document.issuer,
            "units": [{"id": u.id, "code": u.code, "name": u.name} for u in units],
            "pdf": {"sha256": document.pdf_sha256, "size": document.pdf_size} if document.pdf_sha256 else None}
    if full:
        body["body_text"] = document.body_text
        body["chronicle"] = [{"id": e.id, "at": e.at.isoformat(), "unit_id": e.unit_id, "case_id": e.case_id,
                              "entity": e.entity, "action": e.action, "summary": e.summary}
                             for e in _entries_for(user, document, reads)]
    return body


@bp.get("/api/v1/documents")
@token_required
def api_list():
    args = _search_args()
    results = search(g.api_user, **args)
    return jsonify({"total": results.total, "page": results.page, "pages": results.pages,
                    "items": [_document_json(g.api_user, hit.document) for hit in results.hits]})


@bp.get("/api/v1/documents/<int:document_id>")
@token_required
def api_get(document_id):
    return jsonify(_document_json(g.api_user, documents.get_document(g.api_user, document_id), full=True))


@bp.app_template_global()
def unit_documents(unit, limit=50):
    """The documents of a unit the signed-in user may see, newest first (for the unit page)."""
    stmt = documents.visible(current_user, select(Document)).where(
        select(DocumentLink.id).where(DocumentLink.document_id == Document.id,
                                      DocumentLink.unit_id == unit.id).exists())
    return db.session.scalars(stmt.order_by(Document.issued_on.desc(), Document.id.desc()).limit(limit)).all()
