"""编制调整: a unit applies to change its approved establishment of one category (+N or −N),
optionally as a transfer (划转) of N places from another unit; 业务科室初审 → 分管领导 →
主任办公会, then, for 行政编制 or a change above the threshold of
bpmn/establishment_adjust_upper.dmn, the office above (上级编办审核 → 上级编办审批). The last
decision is the document (the meeting's minutes, or the upper office's reply): on approval the
service task applies the change (ledger/establishment.py) in the same transaction as the
workflow step that approved it."""
from datetime import date

from sqlalchemy import select

from .. import clock
from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..organisation.models import Office
from ..processes.registry import operation, rule, title
from .models import CATEGORIES, Unit
from .operations import figure
from .establishment import adjust_establishment, transfer_establishment
from .units import Approval

KEY = "establishment_adjust"


def _change(values):
    try:
        change = int(values.get("change"))
    except (TypeError, ValueError):
        change = 0
    if change == 0:
        raise ValidationFailed("调整数不能为 0：增加填正数，核减填负数", fields={"change": ["不能为 0"]})
    return change


def _source(values, unit):
    code = (values.get("transfer_from") or "").strip().upper()
    if not code:
        return None
    source = db.session.scalar(select(Unit).where(Unit.code == code))
    if source is None or source.status != "active" or source.office_id != unit.office_id:
        # another office's unit is not one of this office's register: as if there were none
        raise ValidationFailed(f"没有统一社会信用代码为 {code} 的本辖区在册单位",
                               fields={"transfer_from": ["请填写本辖区划出单位的统一社会信用代码"]})
    if source.id == unit.id:
        raise ValidationFailed("划出单位不能是本单位", fields={"transfer_from": ["不能是本单位"]})
    return source


def check_application(unit, values):
    """The figures as they stand now (advisory; re-checked under the locks on approval)."""
    if unit.status != "active":
        raise Forbidden(f"{unit.name}已撤销，不能申请编制调整")
    category = values.get("category")
    if category not in CATEGORIES:
        raise ValidationFailed("请选择编制类型", fields={"category": ["请选择编制类型"]})
    change = _change(values)
    source = _source(values, unit)
    if source is not None:
        if change < 0:
            raise ValidationFailed("从其他单位划入时调整数应为正数", fields={"change": ["划入应为正数"]})
        fig = figure(source, category)
        if fig is None or fig["vacancy"] < change:
            left = max(fig["vacancy"], 0) if fig else 0
            message = f"划出单位{source.name}{category}空编 {left} 名，不足划转 {change} 名"
            raise ValidationFailed(message, fields={"transfer_from": [message]})
        return
    if change < 0:
        fig = figure(unit, category)
        if fig is None:
            raise ValidationFailed(f"{unit.name}没有核定{category}，不能核减", fields={"category": ["本单位没有核定此类编制"]})
        if fig["approved"] + change < fig["on_roll"] + fig["reserved"]:
            message = (f"核减 {-change} 名后{category}核定 {fig['approved'] + change} 名，少于在编 {fig['on_roll']} 名"
                       f"与预留 {fig['reserved']} 名之和；请先出编或释放预留，或少报核减数")
            raise ValidationFailed(message, fields={"change": [message]})


@rule("establishment_adjust_allowed")
def establishment_adjust_allowed(ctx, values):
    unit = ctx.user.unit
    if unit is None or values.get("unit") != unit.code:
        where = f"（{unit.name}，{unit.code}）" if unit is not None else ""
        raise Forbidden("只能为本单位申请编制调整", fields={"unit": [f"只能为本单位{where}申请"]})
    check_application(unit, values)


@title(KEY)
def case_title(values):
    change = values.get("change") or 0
    source = values.get("transfer_from")
    what = f"{values.get('category', '')}{'增加' if int(change) > 0 else '核减'} {abs(int(change))} 名"
    return f"编制调整（{what}{'，由 ' + source + ' 划入' if source else ''}）"


def upper_office(case):
    """The office above the case's office (which approves what the decision table sends up:
    bpmn/establishment_adjust_upper.dmn), or None."""
    office_id = case.office_id if case.office_id is not None else case.unit.office_id
    office = db.session.get(Office, office_id) if office_id is not None else None
    return office.parent if office is not None else None


def decision_approval(case, data):
    """The approving document: the upper office's reply (批复文号) when the decision table sent
    the case up (`needs_upper`, decided afresh on every pass), else the meeting's decision (its
    minutes number, else the case number, and date)."""
    upper = upper_office(case) if data.get("needs_upper") else None
    reply = (data.get("reply_no") or "").strip()
    if upper is not None and reply:
        return Approval(number=reply, issued_on=clock.today(),
                        title=f"{upper.name}批复：{case.unit.name}{case.title}", case=case)
    number = (data.get("minutes_no") or "").strip() or f"编制调整决定 {case.number}"
    when = data.get("meeting_date")
    issued_on = date.fromisoformat(when) if when else clock.today()
    return Approval(number=number, issued_on=min(issued_on, clock.today()),
                    title=f"主任办公会决定：{case.unit.name}{case.title}", case=case)


@operation("apply_establishment_adjust")
def apply_establishment_adjust(ctx, data):
    case = ctx.case
    unit = case.unit
    category, change = data["category"], _change(data)
    approval = decision_approval(case, data)
    before = figure(unit, category)
    try:
        source = _source(data, unit)  # it may have been merged or abolished since
        if source is not None:
            transfer_establishment(ctx.user, source, unit, category, change, approval)
        else:
            fig = figure(unit, category)
            adjust_establishment(ctx.user, unit, category, (fig["approved"] if fig else 0) + change, approval)
    except ValidationFailed as exc:  # the figures moved since the application: nothing is written
        raise Conflict(exc.message, fields=exc.fields, code="adjust_refused") from None
    after = figure(unit, category)
    upper = upper_office(case) if data.get("needs_upper") else None
    done = {"category": category, "change": change, "before": before["approved"] if before else 0,
            "approved": after["approved"], "on_roll": after["on_roll"], "vacancy": after["vacancy"],
            "document": approval.number, "decided_on": approval.issued_on.isoformat(),
            "source": source.name if source else None,
            "approved_by": upper.name if upper is not None else None,
            "minutes_no": (data.get("minutes_no") or "").strip() or None}
    case.data = {**(case.data or {}), "ledger": done}  # what the notice shows
    return {"adjusted": done}
