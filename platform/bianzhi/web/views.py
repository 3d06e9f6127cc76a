"""Server-rendered pages: login, one-stop window, task, case, notices, verification (the inbox's
pages are in inbox/views.py)."""
from io import BytesIO

from flask import (Blueprint, abort, flash, redirect, render_template, request, send_file,
                   session, url_for)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from .. import access
from ..accounts import operations as accounts
from ..audit.operations import record as audit
from ..cases import operations as cases
from ..cases.models import Attachment, Case
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from .. import clock
from ..ledger import operations as ledger
from ..ledger import units as registers
from ..ledger.models import Person, TempStaff, Unit
from ..documents.operations import case_documents
from ..notices import operations as notices
from ..notices.models import Notice
from ..organisation import routing
from ..organisation.models import Office
from ..processes import operations as processes
from .transaction import commit_before_error, refused
from .forms import files_from, from_post, labelled
from .options import options_for, resolver
from .registration import pending_registration

bp = Blueprint("web", __name__)


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("web.login"))
    endpoint = access.landing(current_user)
    if endpoint is None:  # e.g. the finance system's account: the API only
        return render_template("home.html")
    return redirect(url_for(endpoint))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links: send them to the SVG icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        try:
            user = accounts.authenticate(request.form.get("username", "").strip(), request.form.get("password", ""),
                                         ip=request.remote_addr)
        except DomainError as exc:
            commit_before_error()  # keep the failed-login audit entry and the lockout count
            error, status = exc.message, exc.status
        else:
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME idle
            login_user(user)
            return redirect(url_for("web.home"))
    return render_template("login.html", error=error), status


@bp.post("/logout")
@login_required
def logout():
    accounts.logout(current_user, ip=request.remote_addr)  # every session and token of the user ends
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("web.login"))


@bp.get("/window")
@login_required
def window():
    if current_user.unit is None:  # the role is the access matrix's
        raise Forbidden("您的账号未关联单位，不能使用一站式服务窗口，请联系系统管理员")
    my_cases = db.session.scalars(cases.visible_cases(current_user).order_by(Case.id.desc()).limit(100)).all()
    tasks = db.session.scalars(cases.inbox(current_user)).all()
    return render_template("window.html", services=processes.startable(current_user), cases=my_cases,
                           tasks=tasks, figures=ledger.figures(current_user.unit),
                           post_figures=ledger.post_figures(current_user.unit), unit=current_user.unit)


def _first_form(version):
    first = processes.parsed_version(version).first_user_task()
    return first, processes.version_forms(version)[first.form_key]


@bp.route("/window/start/<key>", methods=["GET", "POST"])
@login_required
def start(key):
    version = processes.latest(key)
    if version not in processes.startable(current_user):
        raise Forbidden("您不能发起此业务")
    first, form_def = _first_form(version)
    values, errors, status = {"unit": current_user.unit.code}, {}, 200
    if request.method == "POST":
        values = from_post(form_def, request.form, current_user)
        try:
            case = cases.start_case(current_user, key, values, files_from(form_def, request.files),
                                    ip=request.remote_addr)
        except DomainError as exc:
            refused(exc)
            flash(exc.message, "error")
            errors, status = exc.fields, exc.status
        else:
            flash(f"已提交，案件编号 {case.number}", "success")
            return redirect(url_for("web.case_detail", case_id=case.id))
    return render_template("start.html", version=version, step=first, form=form_def, values=values,
                           errors=errors, figures=ledger.figures(current_user.unit),
                           options=options_for(form_def, current_user.unit)), status


def _case_context(case):
    version = case.version
    forms = processes.version_forms(version)
    first = processes.parsed_version(version).first_user_task()
    attachments = db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                     .order_by(Attachment.id)).all()
    people = db.session.scalars(select(Person).where(Person.case_id == case.id).order_by(Person.id)).all()
    temp_staff = db.session.scalars(select(TempStaff).where(TempStaff.case_id == case.id)
                                    .order_by(TempStaff.id)).all()
    figures = ledger.figures(case.unit) if ledger.can_view_unit(current_user, case.unit) else []
    return {"case": case, "application": labelled(forms.get(first.form_key), case.data, resolver(case.unit)),
            "can_withdraw": cases.can_withdraw(current_user, case),
            "post_figures": ledger.post_figures(case.unit) if figures else [],
            "attachments": attachments, "people": people, "temp_staff": temp_staff, "figures": figures,
            "registering": [] if people else pending_registration(case, current_user),
            "notices": notices.notices_of(case), "documents": case_documents(case)}


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id):
    try:
        open_task = cases.get_task(current_user, task_id)
    except DomainError as exc:
        if exc.status == 409:
            flash(exc.message, "warning")
            return redirect(url_for("inbox.index"))
        raise
    case = open_task.case
    form_def = processes.version_forms(case.version)[open_task.form_key]
    step_data = dict(case.data) if open_task.role == "unit_clerk" else {}
    errors, status = {}, 200
    if open_task.form_key == "registration" or open_task.role == "unit_clerk":
        last = next((s for s in reversed(case.steps) if s.bpmn_id == open_task.bpmn_id), None)
        if last is not None:
            step_data = dict(last.data)
    if request.method == "POST":
        step_data = from_post(form_def, request.form, current_user)
        try:
            cases.complete_task(current_user, task_id, step_data, files_from(form_def, request.files),
                                ip=request.remote_addr)
        except DomainError as exc:
            refused(exc)  # the task is read again below, as it was before the attempt
            if exc.status == 409 and exc.code == "already_done":
                flash(exc.message, "warning")
                return redirect(url_for("inbox.index"))
            flash(exc.message, "error")
            errors, status = exc.fields, exc.status
            open_task = cases.get_task(current_user, task_id)
            case = open_task.case
        else:
            flash(f"已办理：{case.number} {open_task.name}", "success")
            return redirect(url_for("web.case_detail", case_id=case.id) if current_user.has_role("unit_clerk")
                            else url_for("inbox.index"))
    rows = min(max(int(case.data.get("count") or 1), 1), 50)  # one block per applied-for place
    return render_template("task.html", task=open_task, form=form_def, values=step_data, errors=errors,
                           rows=rows, options=options_for(form_def, case.unit), routed_to=routing.where_label(open_task),
                           origin=_origin_office(case), **_case_context(case)), status


def _origin_office(case):
    """The office the case comes from, for bureau staff of another office (a city reviewer
    acting on what a county sends up); None for the case's own office and for clerks."""
    if case.office_id is None or current_user.has_role("unit_clerk") or current_user.office_id == case.office_id:
        return None
    return db.session.get(Office, case.office_id)


@bp.get("/cases")
@login_required
def case_list():
    rows = db.session.scalars(cases.visible_cases(current_user).order_by(Case.id.desc()).limit(200)).all()
    return render_template("cases.html", cases=rows)


@bp.get("/cases/<int:case_id>")
@login_required
def case_detail(case_id):
    case = cases.get_case(current_user, case_id)
    return render_template("case.html", **_case_context(case))


@bp.post("/cases/<int:case_id>/withdraw")
@login_required
def withdraw(case_id):
    case = cases.withdraw_case(current_user, case_id, ip=request.remote_addr)
    flash(f"已撤回 {case.number}", "success")
    return redirect(url_for("web.case_detail", case_id=case.id))


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id):
    att = cases.get_attachment(current_user, attachment_id)
    audit(current_user, "attachment.download", f"case:{att.case_id}", ip=request.remote_addr, file=att.filename)
    return send_file(BytesIO(att.content), mimetype=att.content_type, download_name=att.filename,
                     as_attachment=True)


@bp.get("/notices/<int:notice_id>.pdf")
@login_required
def notice_pdf(notice_id):
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("通知书不存在")
    cases.get_case(current_user, notice.case_id)
    pdf = notices.pdf_of(notice)
    audit(current_user, "notice.download", f"case:{notice.case_id}", ip=request.remote_addr, notice=notice.id)
    return send_file(BytesIO(pdf), mimetype="application/pdf",
                     download_name=f"{notice.case.number}-{notice.title}.pdf")


@bp.get("/verify")
@bp.get("/verify/<code>")
def verify(code=None):
    """A counter clerk checks a printed notice: the code opens its summary (no personal data);
    bureau staff who are logged in get the link to the case."""
    code = code or request.args.get("code")
    notice = None
    if code:
        try:
            notice = notices.by_code(code)
        except NotFound as exc:
            flash(exc.message, "error")
    return render_template("verify.html", notice=notice, code=code or "")


@bp.get("/units/<code>")
@login_required
def unit(code):
    unit_obj = ledger.visible_unit(current_user, code)
    if not (current_user.reads_all_units or current_user.has_role("unit_clerk")):
        # a partner department reads the figures of the units of its cases, not their people
        return render_template("unit.html", unit=unit_obj, figures=ledger.figures(unit_obj),
                               post_figures=ledger.post_figures(unit_obj), people=None, absorptions=[])
    people = db.session.scalars(select(Person).where(Person.unit_id == unit_obj.id, Person.status == "on_roll")
                                .order_by(Person.category, Person.entry_date)).all()
    page = render_template("unit.html", unit=unit_obj, figures=ledger.figures(unit_obj),
                           post_figures=ledger.post_figures(unit_obj), people=people,
                           absorptions=registers.absorption_warnings(unit_obj, clock.today()))
    # viewing people's records is itself on the record; written last, the audit chain's lock
    # (PostgreSQL) is held only until the request's commit
    audit(current_user, "unit.roster.view", f"unit:{unit_obj.code}", ip=request.remote_addr, people=len(people))
    return page


@bp.get("/units")
@login_required
def units():
    """The units whose figures the user reads (ledger.visible_units): a bureau reader's
    jurisdiction, a partner department's units of the cases routed to it; a clerk goes to their
    unit's page."""
    if current_user.has_role("unit_clerk") and not current_user.reads_all_units:
        if current_user.unit:
            return redirect(url_for("web.unit", code=current_user.unit.code))
        abort(403)
    include_abolished = request.args.get("all") in ("1", "on")
    query = select(Unit).where(ledger.visible_units(current_user)).order_by(Unit.code)
    if not include_abolished:  # an abolished unit keeps its page and history, not its line in the ledger
        query = query.where(Unit.status == "active")
    rows = db.session.scalars(query).all()
    return render_template("units.html", units=[(u, ledger.figures(u), ledger.unit_warning(u)) for u in rows],
                           include_abolished=include_abolished)
