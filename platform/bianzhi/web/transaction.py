"""The one place a request's transaction ends (the model is Indico's RH.process).

Views, and the operations they call, only change the session (operations flush, never commit).
Every view's answer passes through `finish` (the app's dispatch_request, bianzhi/__init__.py):

* a success (status < 400: a page, JSON, a file, a redirect after a POST) commits;
* an error status (a form drawn again with 400/409/422, a login refused) rolls back;
* a view that raises never reaches `finish`: the error handlers (web/errors.py) roll back and
  answer with the error's Chinese message and fields (a page, a flash, or JSON).

Two cases are said explicitly in the view:

* `refused(exc)`: the view answers a DomainError itself (its form again with the message and
  fields, or a flash and a redirect). What the refused attempt changed is dropped at once, so the
  page is drawn from the database as it was (not from half-done changes its own queries would
  flush), and nothing of it is committed even when the answer is a redirect (302).
* `commit_before_error()`: what must be kept although the answer is an error — a failed login's
  count and audit entry (lockout) — is committed before the view raises or answers.

A streamed body (Response over a generator) is produced after the commit: the generator reads in
a transaction of its own that is rolled back when the request ends, so it must not write; an
audit entry of the export is written in the view, before it returns.
"""
from flask import request
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from ..extensions import db

_REFUSED = "bianzhi.refused"  # on the request's environ: `g` lives as long as the app context, which
                              # a test (or a CLI) may share between several requests


def _commit():
    """Constraint races become a clear 409."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("数据已被他人同时修改，请刷新后重试", code="conflict") from None


def finish(response):
    """Commit when the answer is a success, else roll back. A failing commit (409 on a constraint
    race, 503 when the database is gone) raises into the error handlers; the answer built so far
    is closed (a file being sent is released)."""
    session = db.session()  # the request's session itself (the scoped proxy lacks in_transaction)
    if response.status_code >= 400 or request.environ.get(_REFUSED):
        session.rollback()
        return response
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        try:
            _commit()
        except BaseException:
            response.close()
            raise
    return response


def refused(exc=None):
    """The view answers this DomainError itself: drop what the attempt changed now, and commit
    nothing of this request whatever the answer's status."""
    db.session.rollback()
    request.environ[_REFUSED] = True
    return exc


def commit_before_error():
    """Keep what is done so far although the answer will be an error (failed logins)."""
    _commit()
