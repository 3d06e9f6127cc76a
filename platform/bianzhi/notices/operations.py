"""Issuing notices when a case reaches a milestone, and rendering their PDFs.

The notice's HTML is rendered from its template at decision time and stored: a later change
to the case or the template does not alter an issued notice. The PDF (WeasyPrint, ~200 ms)
is made from that HTML by the worker after the decision commits (job `notice_pdf`,
bianzhi.jobs.notices), or on first download if that comes sooner, outside any task
completion, and kept.
"""
import re
import secrets

import segno
from flask import current_app, has_request_context, render_template, url_for
from sqlalchemy import select

from .. import clock
from ..cases.models import CaseStep
from ..errors import NotFound
from ..extensions import db
from ..inbox.models import Job
from ..ledger.models import Person, TempStaff
from . import render
from .models import Notice


def materials_list(text):
    return [item.strip() for item in re.split(r"[；;\n]", text or "") if item.strip()]


def _code():
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def verify_url(code):
    """The address printed on a notice: this request's host, or PUBLIC_URL outside a request
    (the CLI's demo loader, a worker)."""
    if has_request_context():
        return url_for("web.verify", code=code, _external=True)
    return current_app.config["PUBLIC_URL"].rstrip("/") + f"/verify/{code}"


def qr_svg(url):
    """The verification link as an inline SVG QR code (a full QR, never a Micro QR, which phones
    do not read; error level M survives a smudged print), 0.6 mm a module."""
    return segno.make_qr(url, error="m").svg_inline(scale=0.6, unit="mm", svgclass="qr",
                                                     title="扫码核验本通知书")


def chinese_date(day):
    """A date as official documents print it: 2026年3月5日 (no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


def issue(case, user, element):
    props = element.properties
    db.session.flush()
    steps = db.session.scalars(select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.id)).all()
    people = db.session.scalars(select(Person).where(Person.case_id == case.id).order_by(Person.id)).all()
    temp_staff = db.session.scalars(select(TempStaff).where(TempStaff.case_id == case.id)
                                    .order_by(TempStaff.id)).all()
    code = _code()
    issued_at = clock.now()
    context = {
        "title": props.get("notice_title") or element.name,
        "case": {"number": case.number, "process": case.version.name, "title": case.title,
                 "created_at": case.created_at, "data": dict(case.data)},
        "unit": {"name": case.unit.name, "code": case.unit.code},
        "decision": element.name,
        "steps": [{"name": s.name, "by": s.user.display_name + (f"（代{s.on_behalf_of.display_name}）" if s.on_behalf_of_id else ""), "decision": s.decision_label,
                   "opinion": s.opinion or "", "at": s.at} for s in steps],
        "people": [{"name": p.name, "code": p.code, "sex": p.sex, "birth_date": p.birth_date,
                    "id_number": p.id_number, "category": p.category, "entry_date": p.entry_date,
                    "education": p.education or "", "post": p.post or ""} for p in people],
        "temp_staff": [{"name": t.name, "sex": t.sex, "birth_date": t.birth_date, "id_number": t.id_number,
                        "post": t.post, "start_date": t.start_date, "end_date": t.end_date} for t in temp_staff],
        "materials": materials_list(props.get("materials")),
        "verify_code": code,
        "verify_url": verify_url(code),
        "issued_at": issued_at,
        # the seal area and the QR code are fixed into the stored HTML, like the rest
        "office": current_app.config["OFFICE_NAME"],
        "issued_on": chinese_date(clock.local_date(issued_at)),
    }
    context["verify_qr"] = qr_svg(context["verify_url"])
    html = render_template(f"notices/{props['notice']}.html", notice=context)
    notice = Notice(case_id=case.id, template=props["notice"], title=context["title"], verify_code=code,
                    html=html, issued_at=issued_at)
    db.session.add(notice)
    db.session.flush()
    # the PDF is rendered by the worker after this commits (WeasyPrint takes a process to ~800 MB
    # with the CJK fonts: better the worker's than a web server's), or on first download if sooner
    db.session.add(Job(kind="notice_pdf", key=f"notice_pdf:{notice.id}", run_at=clock.now(), case_id=case.id,
                       payload={"notice_id": notice.id}))
    return notice


def on_milestone(case, user, element):
    """Listener of cases.signals.milestone_reached (connected in bianzhi.registry)."""
    issue(case, user, element)


def notices_of(case):
    return db.session.scalars(select(Notice).where(Notice.case_id == case.id).order_by(Notice.id)).all()


def _render(html):
    return render.render(html)  # in a child process (notices/render.py): this one does not grow


def pdf_of(notice):
    """The notice's PDF: the one the worker rendered, else rendered now from the stored HTML and kept."""
    if notice.pdf is None:
        notice.pdf = _render(notice.html)
        notice.rendered_at = clock.now()
        db.session.flush()
    return notice.pdf


def by_code(code):
    notice = db.session.scalar(select(Notice).where(Notice.verify_code == (code or "").strip().upper()))
    if notice is None:
        raise NotFound("没有这个核验码对应的通知书")
    return notice
