"""Person records (人员信息): the unit's clerks keep the non-key fields of their own people
current directly, each edit a chronicle entry (before → after of the changed fields, no effect
on the figures); key fields (establishment unit, category, post, status, identity) change only
through processes. A completeness score per person and per unit; the photo in the database.

The non-key fields live in Person.details (JSON) except 学历 (Person.education) and 所在内设机构
(Person.department_id, limited to the unit's own departments and, for holders of a mid-level
post, to the 中层核职 process)."""
import hashlib
import re
from datetime import date

from flask import current_app
from sqlalchemy import select

from .. import clock
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..organisation import scope
from .models import Department, Person, PersonPhoto, Unit
from .operations import chronicle

PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}

POLITICAL = ("中共党员", "中共预备党员", "共青团员", "民革党员", "民盟盟员", "民建会员", "民进会员", "农工党党员",
             "致公党党员", "九三学社社员", "台盟盟员", "无党派人士", "群众")
HEALTH = ("健康", "一般", "较差")
EDUCATION = ("研究生", "大学本科", "大学专科", "中专", "高中", "初中及以下")
DEGREE = ("博士", "硕士", "学士", "无")
ENTRY_MODES = ("考录", "军转", "调入", "招聘", "其他")
POST_TYPES = ("管理", "专技", "工勤")
PERSON_CLASSES = ("部门正职", "部门副职", "内设正职", "内设副职", "非领导")

# key -> (label, kind, options or max length)
FIELDS = {
    "ethnicity": ("民族", "ethnicity", 8),
    "native_place": ("籍贯", "text", 64),
    "birthplace": ("出生地", "text", 64),
    "political_status": ("政治面貌", "choice", POLITICAL),
    "party_date": ("入党时间", "date", None),
    "health": ("健康状况", "choice", HEALTH),
    "phone": ("联系电话", "phone", None),
    "education": ("学历", "choice", EDUCATION),
    "degree": ("学位", "choice", DEGREE),
    "school": ("毕业院校", "text", 64),
    "major": ("所学专业", "text", 64),
    "graduation_date": ("毕业时间", "date", None),
    "work_start_date": ("参加工作时间", "date", None),
    "unit_entry_date": ("进入本单位时间", "date", None),
    "entry_mode": ("进入形式", "choice", ENTRY_MODES),
    "entry_source": ("进入来源", "text", 64),
    "department": ("所在内设机构", "department", None),
    "current_post_date": ("任现职时间", "date", None),
    "leadership_level": ("领导职务级别", "text", 32),
    "rank": ("职级", "text", 32),
    "post_type": ("岗位类别", "choice", POST_TYPES),
    "post_grade": ("岗位等级", "text", 32),
    "title": ("职称", "text", 64),
    "person_class": ("人员分类", "choice", PERSON_CLASSES),
    "stat_unit": ("统计关系所在单位", "text", 128),
}
# changed only through a process (落编, 出编, 中层核职 …) or fixed by the ID number
KEY_FIELDS = {
    "name": "姓名", "id_number": "身份证号", "sex": "性别", "birth_date": "出生日期", "code": "人员编码",
    "unit": "在编单位", "unit_id": "在编单位", "work_unit": "任职单位", "work_unit_id": "任职单位",
    "category": "编制类型", "post": "职务", "midlevel_post": "中层职务", "status": "人员状态",
    "entry_date": "入编时间", "entry_doc": "入编文号", "control_notice": "控编通知单编号", "funding": "经费形式",
    "left_date": "出编时间", "left_reason": "出编原因", "retirement_date": "应退休时间",
}
# what a complete record has (完整度): the fields every person should have filled
EXPECTED = ("ethnicity", "native_place", "birthplace", "political_status", "health", "phone", "education",
            "degree", "school", "major", "graduation_date", "work_start_date", "unit_entry_date", "entry_mode",
            "department", "post_type", "title", "photo")
DETAIL_EXPECTED = tuple(k for k in EXPECTED if k not in ("photo", "education", "department"))  # in details
LABELS = {**{k: v[0] for k, v in FIELDS.items()}, "photo": "照片"}
# the keys a person's chronicle entries hold (落编, 出编, 并入, edits, photo) in the words of the page
HISTORY_LABELS = {**KEY_FIELDS, **LABELS, "exit_late": "逾期申报", "vacancy": "空编"}
STATUS_WORDS = {"on_roll": "在编", "left": "已出编"}


def history_fields(values):
    """[(label, text)] of one side (before or after) of a person's chronicle entry: Chinese field
    names instead of the stored keys, 是/否 for flags, the status in words, （空） for nothing."""
    shown = []
    for key, value in (values or {}).items():
        if value is None or value == "":
            text = "（空）"
        elif isinstance(value, bool):
            text = "是" if value else "否"
        elif key == "status":
            text = STATUS_WORDS.get(value, value)
        else:
            text = str(value)
        shown.append((HISTORY_LABELS.get(key, key), text))
    return shown
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def get_person(user, code):
    """The person `code`, if `user` may see them: bureau readers all, a unit clerk only the
    people of their unit (another unit's person is "not found", never "forbidden")."""
    person = db.session.scalar(select(Person).where(Person.code == code))
    if person is None or not may_view(user, person):
        raise NotFound(f"没有人员编码为 {code} 的人员或无权查看")
    return person


def may_view(user, person):
    """Bureau readers: the people of their office's jurisdiction and below (the person's unit's
    office); a unit clerk: their unit's people; nobody else (a partner department reads figures,
    not people)."""
    if user.reads_all_units:
        office_id = person.unit.office_id
        return (office_id is not None and office_id == user.home_office_id) or scope.reads_office(user, office_id)
    return user.has_role("unit_clerk") and user.unit_id is not None and user.unit_id == person.unit_id


def may_edit(user, person):
    return (user.has_role("unit_clerk") and user.unit_id is not None and user.unit_id == person.unit_id
            and person.status == "on_roll")


def current_values(person):
    values = {key: (person.details or {}).get(key) for key in FIELDS}
    values["education"] = person.education
    values["department"] = person.department.name if person.department_id else None
    return values


def _check_date(person, value):
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        return None, "日期格式应为 YYYY-MM-DD"
    if day > clock.today():
        return None, "不能晚于今天"
    if day < person.birth_date:
        return None, f"不能早于出生日期 {person.birth_date.isoformat()}"
    return day.isoformat(), None


def _clean(person, key, value):
    """(stored value, error) for one submitted field; None or "" clears it."""
    label, kind, option = FIELDS[key]
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None, None
    if not isinstance(value, str):
        return None, "应为文字"
    value = value.strip()
    if kind == "text":
        return (value, None) if len(value) <= option else (None, f"不能超过 {option} 个字")
    if kind == "ethnicity":
        return (value, None) if value.endswith("族") and len(value) <= option else (None, "应为民族全称，如「汉族」")
    if kind == "choice":
        return (value, None) if value in option else (None, "请选择：" + "、".join(option))
    if kind == "phone":
        return (value, None) if PHONE.match(value) else (None, "应为 11 位手机号或带区号的固定电话，如 0575-84123456")
    if kind == "date":
        return _check_date(person, value)
    if kind == "department":
        dept = db.session.scalar(select(Department).where(Department.unit_id == person.unit_id,
                                                          Department.name == value))
        if dept is None:
            return None, f"本单位没有名为「{value}」的内设机构"
        return dept.name, None
    raise AssertionError(kind)


def validate_changes(person, changes):
    """The cleaned changes, or ValidationFailed naming every bad field."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed("没有要修改的内容", fields={"_": ["请至少修改一项"]})
    key_fields = [k for k in changes if k in KEY_FIELDS]
    if key_fields:
        names = "、".join(f"「{KEY_FIELDS[k]}」" for k in key_fields)
        message = f"{names}等关键字段只能通过业务流程变更（落编、出编、中层核职等），不能直接修改"
        raise ValidationFailed(message, code="key_field",
                               fields={k: [f"「{KEY_FIELDS[k]}」只能通过业务流程变更"] for k in key_fields})
    errors, clean = {}, {}
    for key, value in changes.items():
        if key not in FIELDS:
            errors[key] = ["没有这个字段"]
            continue
        stored, error = _clean(person, key, value)
        if error:
            errors[key] = [f"{FIELDS[key][0]}：{error}"]
        else:
            clean[key] = stored
    if person.midlevel_post and "department" in clean and clean["department"] != current_values(person)["department"]:
        errors["department"] = [f"担任中层{person.midlevel_post}的人员，所在内设机构随核职变更，请通过中层核职流程办理"]
    if errors:
        raise ValidationFailed("人员信息填写有误，请按提示修改", fields=errors)
    return clean


def update_person(user, person, changes, reason=None):
    """Apply the non-key `changes` to `person` as `user`. Returns the chronicle entry, or None
    when nothing actually changed."""
    if not may_edit(user, person):
        if person.status != "on_roll" and may_view(user, person):
            raise Conflict("已出编人员的信息已归档，不能修改")
        raise Forbidden("只有本单位经办人可以修改本单位人员的信息")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 200):
        raise ValidationFailed("修改原因不能超过 200 个字", fields={"reason": ["不能超过 200 个字"]})
    clean = validate_changes(person, changes)
    old = current_values(person)
    before = {k: old[k] for k, v in clean.items() if old[k] != v}
    after = {k: clean[k] for k in before}
    if not before:
        return None
    details = dict(person.details or {})
    for key, value in after.items():
        if key == "education":
            person.education = value
        elif key == "department":
            person.department_id = db.session.scalar(select(Department.id).where(
                Department.unit_id == person.unit_id, Department.name == value)) if value else None
        elif value is None:
            details.pop(key, None)
        else:
            details[key] = value
    person.details = details
    summary = f"修改人员信息：{person.name}（{person.code}）— {'、'.join(LABELS[k] for k in after)}"
    if reason and reason.strip():
        summary += f"；原因：{reason.strip()}"
    entry = chronicle(user, None, person.unit, "person", person.id, "edit", summary, before=before, after=after)
    db.session.flush()
    return entry


def set_photo(user, person, filename, content):
    """Store `content` (JPEG or PNG by its first bytes, at most 2 MB) as the person's photo."""
    if not may_edit(user, person):
        raise Forbidden("只有本单位经办人可以上传本单位人员的照片")
    if not content:
        raise ValidationFailed("照片是空文件", fields={"photo": ["请选择照片文件"]})
    limit = photo_limit()
    if len(content) > limit:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        raise ValidationFailed(f"照片「{filename}」超过 {size}",
                               fields={"photo": [f"照片大小 {len(content) // 1024} KB，上限 {size}"]})
    content_type = next((t for magic, t in PHOTO_TYPES.items() if content.startswith(magic)), None)
    if content_type is None:
        raise ValidationFailed(f"「{filename}」不是 JPEG 或 PNG 图片", fields={"photo": ["只接受 JPEG、PNG 格式的照片"]})
    digest = hashlib.sha256(content).hexdigest()
    photo = db.session.scalar(select(PersonPhoto).where(PersonPhoto.person_id == person.id))
    before = {"photo": photo.sha256[:12] if photo else None}
    if photo is None:
        photo = PersonPhoto(person_id=person.id)
        db.session.add(photo)
    photo.content_type, photo.size, photo.sha256, photo.content = content_type, len(content), digest, content
    photo.uploaded_by_id, photo.uploaded_at = user.id, clock.now()
    entry = chronicle(user, None, person.unit, "person", person.id, "photo",
                      f"{'更换' if before['photo'] else '上传'}照片：{person.name}（{person.code}）",
                      before=before, after={"photo": digest[:12]})
    db.session.flush()
    return entry


def photo_limit():
    return current_app.config.get("PHOTO_MAX_BYTES", PHOTO_MAX_BYTES)


def photo_of(person):
    return db.session.scalar(select(PersonPhoto).where(PersonPhoto.person_id == person.id))


def _filled(person, key, has_photo):
    if key == "photo":
        return has_photo
    if key == "education":
        return bool(person.education)
    if key == "department":
        return person.department_id is not None
    return bool((person.details or {}).get(key))


def completeness(person, has_photo):
    """(percent filled of EXPECTED, labels of the missing fields)."""
    missing = [LABELS[k] for k in EXPECTED if not _filled(person, k, has_photo)]
    return round(100 * (len(EXPECTED) - len(missing)) / len(EXPECTED)), missing


def _with_photo(unit_id=None):
    query = select(PersonPhoto.person_id).join(Person, Person.id == PersonPhoto.person_id)
    if unit_id is not None:
        query = query.where(Person.unit_id == unit_id)
    return set(db.session.scalars(query))


def people_completeness(unit):
    """{person id: (percent, missing)} for the unit's people on roll."""
    photos = _with_photo(unit.id)
    people = db.session.scalars(select(Person).where(Person.unit_id == unit.id, Person.status == "on_roll"))
    return {p.id: completeness(p, p.id in photos) for p in people}


def unit_completeness(unit):
    """The average completeness of the unit's people on roll (None when it has nobody)."""
    scores = [pct for pct, _ in people_completeness(unit).values()]
    return round(sum(scores) / len(scores), 1) if scores else None


def district_completeness(units=None):
    """Every unit with people on roll, of those `units` (a WHERE clause on Unit, e.g.
    ledger.operations.in_jurisdiction(user); None: all): (unit, people, average percent,
    incomplete people), lowest average first."""
    photos = _with_photo()
    totals = {}
    query = (select(Person.id, Person.unit_id, Person.details, Person.education, Person.department_id)
             .where(Person.status == "on_roll"))
    if units is not None:
        query = query.where(Person.unit_id.in_(select(Unit.id).where(units)))
    for person_id, unit_id, details, education, department_id in db.session.execute(
            query.execution_options(yield_per=2000)):
        details = details or {}
        filled = ((person_id in photos) + bool(education) + (department_id is not None)
                  + sum(1 for k in DETAIL_EXPECTED if details.get(k)))
        pct = round(100 * filled / len(EXPECTED))
        n, total, incomplete = totals.get(unit_id, (0, 0, 0))
        totals[unit_id] = (n + 1, total + pct, incomplete + (pct < 100))
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(totals)))} if totals else {}
    rows = [(units[uid], n, round(total / n, 1), incomplete) for uid, (n, total, incomplete) in totals.items()]
    return sorted(rows, key=lambda r: (r[2], r[0].code))

