"""Job `notice_pdf`: a notice's PDF, rendered right after the decision that issued it
(queued by notices.operations.issue)."""
from sqlalchemy import update

from .. import clock
from ..extensions import db
from ..notices import render
from ..notices.models import Notice


def render_pdf(payload, checkpoint):
    """The read ends before the render, so a second-long render holds no lock; a download that
    rendered it meanwhile wins."""
    notice = db.session.get(Notice, payload.get("notice_id"))
    if notice is None or notice.pdf is not None:
        return
    notice_id, html = notice.id, notice.html
    checkpoint()  # nothing written: ends the read transaction (on SQLite, BEGIN IMMEDIATE's lock)
    pdf = render.render(html)  # in a child of the fork server (notices/render.py)
    db.session.execute(update(Notice).where(Notice.id == notice_id, Notice.pdf.is_(None))
                       .values(pdf=pdf, rendered_at=clock.now()))
