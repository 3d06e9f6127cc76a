"""Importing an existing roster (花名册导入): how a district starts using the system.

The file is the roster export's own layout (operations.ROSTER_HEADER), so export → edit → import
works. Every row is checked; a finding names the Excel row, the column header and the problem.
Decisions:
- 单位代码 decides the unit (names need not be unique); 单位 may be left blank, and when given
  must be that unit's name. Without a code the name must name exactly one unit.
- A row whose 人员编码 is already on the ledger with the same ID number (or that number as the
  export masks it) is that person already registered: skipped as 已在册, not refused. The same
  code with another ID number is refused. A new code is kept as the person's code; a blank one
  gets a new code the way registration makes them.
- Only 在编 rows are imported (出编 rows are refused: people who left come through 出编 cases).
- The same ID number twice in the file: the later row is refused, naming the earlier one.
- Over-establishment is not a reason to refuse an initial load (the district's roster is what
  it is); the preview warns per unit and category. A unit without an approved line of the
  row's category is refused (its people would be outside every figure).
- An import touches the importer's office's units only (Unit.office_id): a row of another
  office's unit is refused, and a person found on the ledger outside the importer's jurisdiction
  is not named (only that they are registered in another office's unit). The command line runs
  as the system and may load any unit.
Nothing here commits: the caller (web view, worker, CLI) commits or rolls back.
"""
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import false, func, insert, select

from .. import clock
from ..accounts.models import User
from ..audit.operations import record as audit
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..inbox.models import Job
from ..ledger import idnumber
from ..ledger.models import CATEGORIES, ChronicleEntry, Department, Establishment, Person, Unit
from ..ledger.policy import setting
from ..ledger.privacy import mask_id_number
from ..ledger.vacancy import new_person_code
from ..organisation.models import Office
from ..organisation.scope import office_ids
from .models import RosterImport
from .operations import DETAIL_COLUMNS, ROSTER_HEADER
from .roster_file import cell_date, cell_text, check_upload, read_rows

BATCH = 1000
MAX_KEPT = 2000  # findings kept for the preview page; the counts are always complete
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,24}$")
LIMITS = {"姓名": 64, "职务": 64, "学历": 16}
DETAIL_LIMIT = 64
COL = {h: i for i, h in enumerate(ROSTER_HEADER)}


@dataclass
class Outcome:
    total: int = 0  # data rows (blank rows are not counted)
    findings: list = field(default_factory=list)  # (row, column, message), the first MAX_KEPT
    finding_count: int = 0
    refused: int = 0  # rows with at least one finding
    skipped: list = field(default_factory=list)  # (row, code): 已在册
    valid: int = 0  # rows that would be (or were) imported
    per_unit: dict = field(default_factory=lambda: defaultdict(Counter))  # unit id -> category -> rows
    units: dict = field(default_factory=dict)  # unit id -> (code, name)
    warnings: list = field(default_factory=list)

    @property
    def refused_rows(self):
        return sorted({row for row, _column, _message in self.findings})

    def report(self):
        """What the preview page (and a refused import) shows, as JSON."""
        units = [{"code": self.units[uid][0], "name": self.units[uid][1], "rows": sum(c.values()),
                  "categories": dict(c)} for uid, c in sorted(self.per_unit.items(), key=lambda i: self.units[i[0]][0])]
        return {"findings": [list(f) for f in self.findings], "finding_count": self.finding_count,
                "skipped": [list(s) for s in self.skipped[:MAX_KEPT]], "skipped_count": len(self.skipped),
                "units": units, "warnings": self.warnings, "valid": self.valid}


class RosterRefused(ValidationFailed):
    """Some rows were refused and the user did not choose to import the valid rows only."""

    def __init__(self, outcome):
        super().__init__(f"有 {outcome.refused} 行未通过校验，未导入任何人员", code="rows_refused")
        self.outcome = outcome


# -- the ledger as the check needs it -----------------------------------------------------------

class Ledger:
    """Units, departments and approved lines, loaded once; people looked up per batch. `office`:
    the importer's office, whose units alone the import may touch (None: any unit, the system);
    `readable`: the offices whose people the importer may be told about (None: all)."""

    def __init__(self, office=None, readable=None):
        self.office, self.readable = office, readable
        self.units = {}
        self.by_name = defaultdict(list)
        for unit in db.session.execute(select(Unit.id, Unit.code, Unit.name, Unit.office_id, *_status_column())):
            self.units[unit.code] = unit
            if office is None or unit.office_id == office.id:
                self.by_name[unit.name].append(unit)
        self.departments = {(d.unit_id, d.name): d.id for d in db.session.execute(
            select(Department.id, Department.unit_id, Department.name))}
        self.lines = {tuple(r) for r in db.session.execute(select(Establishment.unit_id, Establishment.category))}

    @staticmethod
    def people(codes, numbers):
        """(person by code, on-roll holder by ID number) for one batch."""
        by_code, holders = {}, {}
        if codes:
            for row in db.session.execute(select(Person.code, Person.id_number, Person.name, Unit.office_id)
                                          .join(Unit, Unit.id == Person.unit_id)
                                          .where(Person.code.in_(codes))):
                by_code[row.code] = row
        if numbers:
            for row in db.session.execute(select(Person.id_number, Person.code, Unit.name, Unit.office_id)
                                          .join(Unit, Unit.id == Person.unit_id)
                                          .where(Person.id_number.in_(numbers), Person.status == "on_roll")):
                holders[row.id_number] = row
        return by_code, holders

    def may_name(self, office_id):
        """Whether the importer may be told who is registered in a unit of `office_id`."""
        return self.readable is None or office_id in self.readable


def _status_column():
    """Units may carry a lifecycle status (abolished units take nobody); older schemas do not."""
    column = getattr(Unit, "status", None)
    return [column.label("status")] if column is not None else []


# -- one row ------------------------------------------------------------------------------------

class Checker:
    def __init__(self, ledger, today):
        self.ledger = ledger
        self.today = today
        self.min_age = setting("MIN_AGE_AT_ENTRY")
        self.levels = setting("MIDLEVEL_LEVELS")
        self.seen_numbers = {}  # ID number -> first row
        self.seen_codes = {}

    def row(self, number, values, by_code, holders):
        """(record for the insert, or "skip", or None; findings [(column, message)])."""
        cell = {h: values[i] for h, i in COL.items()}
        text = {h: cell_text(v) for h, v in cell.items()}
        problems = []

        def bad(column, message):
            problems.append((column, message))

        code = text["人员编码"]
        id_raw = cell["身份证号"]
        id_text = text["身份证号"].upper()
        if code:
            existing = by_code.get(code)
            if existing is not None:
                if id_text in (existing.id_number, mask_id_number(existing.id_number)):
                    return "skip", []
                if self.ledger.may_name(existing.office_id):
                    bad("人员编码", f"人员编码 {code} 已是「{existing.name}」的编码（身份证号不同）")
                else:
                    bad("人员编码", f"人员编码 {code} 已被其他编办辖区的人员使用")
            elif not CODE_RE.match(code):
                bad("人员编码", "人员编码只能由字母、数字、- 和 _ 组成，最长 24 位")
            elif code in self.seen_codes:
                bad("人员编码", f"与第 {self.seen_codes[code]} 行的人员编码重复")
            else:
                self.seen_codes[code] = number

        unit = self._unit(text["单位代码"], text["单位"], bad)
        if not text["姓名"]:
            bad("姓名", "姓名不能为空")

        info = None
        if isinstance(id_raw, (int, float)):
            bad("身份证号", "身份证号须以文本格式填写（数字格式会丢失末位）")
        elif not id_text:
            bad("身份证号", "身份证号不能为空")
        else:
            try:
                info = idnumber.parse(id_text)
            except idnumber.InvalidIdNumber as exc:
                bad("身份证号", str(exc))
        if info is not None:
            first = self.seen_numbers.get(info.number)
            if first is not None:
                bad("身份证号", f"与第 {first} 行的身份证号重复")
            else:
                self.seen_numbers[info.number] = number
                holder = holders.get(info.number)
                if holder is not None and self.ledger.may_name(holder.office_id):
                    bad("身份证号", f"此人已在{holder.name}在编（编码 {holder.code}）")
                elif holder is not None:
                    bad("身份证号", "此人已在其他编办辖区的单位在编")
            sex = text["性别"]
            if sex and sex not in ("男", "女"):
                bad("性别", "性别应为「男」或「女」")
            elif sex and sex != info.sex:
                bad("性别", f"性别「{sex}」与身份证号（{info.sex}）不符")
            if text["出生日期"]:
                birth = cell_date(cell["出生日期"])
                if birth is None:
                    bad("出生日期", f"日期「{text['出生日期']}」无效，应为 YYYY-MM-DD")
                elif birth != info.birth_date:
                    bad("出生日期", f"出生日期 {birth.isoformat()} 与身份证号中的 {info.birth_date.isoformat()} 不符")

        category = text["编制类型"]
        if not category:
            bad("编制类型", "编制类型不能为空")
        elif category not in CATEGORIES:
            bad("编制类型", "编制类型应为" + "、".join(CATEGORIES) + "之一")
        elif unit is not None and (unit.id, category) not in self.ledger.lines:
            bad("编制类型", f"{unit.name}没有核定{category}")

        department_id = None
        if text["内设机构"] and unit is not None:
            department_id = self.ledger.departments.get((unit.id, text["内设机构"]))
            if department_id is None:
                bad("内设机构", f"{unit.name}没有内设机构「{text['内设机构']}」")
        midlevel = text["中层职务"] or None
        if midlevel and midlevel not in self.levels:
            bad("中层职务", "中层职务应为" + "或".join(f"「{v}」" for v in self.levels) + "，或留空")
        for column, limit in LIMITS.items():
            if len(text[column]) > limit:
                bad(column, f"超过 {limit} 个字")

        entry = None
        if not text["入编时间"]:
            bad("入编时间", "入编时间不能为空")
        else:
            entry = cell_date(cell["入编时间"])
            if entry is None:
                bad("入编时间", f"日期「{text['入编时间']}」无效，应为 YYYY-MM-DD")
            elif entry > self.today:
                bad("入编时间", "入编时间晚于今天")
            elif info is not None and _age(info.birth_date, entry) < self.min_age:
                bad("入编时间", f"入编时未满{self.min_age}周岁")
        if text["人员状态"] not in ("", "在编"):
            bad("人员状态", "只能导入在编人员（人员状态应为「在编」；出编人员经出编业务办理）")
        details = {}
        for header, key in DETAIL_COLUMNS:
            if text[header]:
                if len(text[header]) > DETAIL_LIMIT:
                    bad(header, f"超过 {DETAIL_LIMIT} 个字")
                details[key] = text[header]

        if problems:
            return None, problems
        return {"code": code or None, "name": text["姓名"], "id_number": info.number, "sex": info.sex,
                "birth_date": info.birth_date, "unit_id": unit.id, "work_unit_id": unit.id, "category": category,
                "status": "on_roll", "entry_date": entry, "education": text["学历"] or None,
                "post": text["职务"] or None, "details": details, "department_id": department_id,
                "midlevel_post": midlevel, "exit_late": False}, []

    def _unit(self, code, name, bad):
        office = self.ledger.office
        if code:
            unit = self.ledger.units.get(code)
            if unit is None:
                bad("单位代码", f"没有单位代码为 {code} 的单位")
                return None
            if office is not None and unit.office_id != office.id:
                bad("单位代码", f"单位代码 {code} 的单位不属于{office.name}，只能导入本编办辖区单位的人员")
                return None
            if name and name != unit.name:
                bad("单位", f"单位名称「{name}」与单位代码 {code} 的单位「{unit.name}」不符")
        elif name:
            found = self.ledger.by_name.get(name, [])
            if not found:
                bad("单位", f"没有名为「{name}」的单位" if office is None else f"{office.name}辖区没有名为「{name}」的单位")
                return None
            if len(found) > 1:
                bad("单位代码", f"有 {len(found)} 个名为「{name}」的单位，请填写单位代码")
                return None
            unit = found[0]
        else:
            bad("单位代码", "单位代码和单位不能都为空")
            return None
        if getattr(unit, "status", "active") == "abolished":
            bad("单位代码", f"{unit.name}已撤销，不能导入人员")
            return None
        return unit


def _age(birth, on):
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# -- the walk: check (and insert) batch by batch ------------------------------------------------

def importer(user):
    """(office, readable office ids) of an import by `user`: the office whose units it may touch
    and the offices whose people it may name; (None, None) for the system (user None)."""
    if user is None:
        return None, None
    office = db.session.get(Office, user.office_id) if user.office_id is not None else None
    if office is None:
        raise Forbidden("您的账号未设所属编办，不能导入花名册")
    return office, set(office_ids(user)) | {office.id}


def walk(content, user=None, apply=False, valid_only=False, progress=None, at=None, today=None):
    """Check every row (against the units of `user`'s office: importer); with `apply`, insert the
    valid rows as it goes (bulk, no per-row flush), each with its chronicle entry. In
    all-or-nothing mode it stops inserting at the first refusal (the caller rolls back) but still
    checks every row. Returns an Outcome."""
    at = at or clock.now()
    rows = read_rows(content)
    ledger = Ledger(*importer(user))
    checker = Checker(ledger, today or clock.today())
    outcome = Outcome()
    outcome.units = {u.id: (u.code, u.name) for u in ledger.units.values()}
    batch = []
    for number, values in rows:
        batch.append((number, values))
        if len(batch) >= BATCH:
            _batch(batch, checker, outcome, user, apply, valid_only, at)
            batch = []
            if progress:
                progress(outcome.total)
    if batch:
        _batch(batch, checker, outcome, user, apply, valid_only, at)
        if progress:
            progress(outcome.total)
    return outcome


def _batch(batch, checker, outcome, user, apply, valid_only, at):
    codes = {cell_text(v[COL["人员编码"]]) for _n, v in batch} - {""}
    numbers = {cell_text(v[COL["身份证号"]]).upper() for _n, v in batch} - {""}
    by_code, holders = Ledger.people(codes, numbers)
    records = []
    for number, values in batch:
        outcome.total += 1
        record, problems = checker.row(number, values, by_code, holders)
        if record == "skip":
            outcome.skipped.append((number, cell_text(values[COL["人员编码"]])))
        elif problems:
            outcome.refused += 1
            outcome.finding_count += len(problems)
            room = MAX_KEPT - len(outcome.findings)
            outcome.findings.extend((number, column, message) for column, message in problems[:max(room, 0)])
        else:
            outcome.valid += 1
            outcome.per_unit[record["unit_id"]][record["category"]] += 1
            records.append(record)
    if apply and records and (valid_only or not outcome.refused):
        _insert(records, user, at)


def _insert(records, user, at):
    for record in records:
        record["code"] = record["code"] or new_person_code()
        record["created_at"] = at
    ids = {code: pid for code, pid in db.session.execute(insert(Person).returning(Person.code, Person.id), records)}
    user_id = user.id if user is not None else None
    db.session.execute(insert(ChronicleEntry), [
        {"at": at, "user_id": user_id, "case_id": None, "unit_id": r["unit_id"], "entity": "person",
         "entity_id": ids[r["code"]], "action": "import",
         "summary": f"花名册导入 {r['name']} 在编（{r['category']}）",
         "after": {"name": r["name"], "code": r["code"], "category": r["category"],
                   "entry_date": r["entry_date"].isoformat()},
         "delta": {"category": r["category"], "on_roll": 1}} for r in records])


def warnings(outcome):
    """Per unit and category: importing these rows puts it over the approved number (超编)."""
    if not outcome.per_unit:
        return []
    on_roll = {(u, c): n for u, c, n in db.session.execute(
        select(Person.unit_id, Person.category, func.count()).where(Person.status == "on_roll",
                                                                    Person.unit_id.in_(outcome.per_unit))
        .group_by(Person.unit_id, Person.category))}
    approved = {(u, c): n for u, c, n in db.session.execute(
        select(Establishment.unit_id, Establishment.category, Establishment.approved)
        .where(Establishment.unit_id.in_(outcome.per_unit)))}
    result = []
    for unit_id, categories in sorted(outcome.per_unit.items(), key=lambda i: outcome.units[i[0]][0]):
        for category, adding in sorted(categories.items()):
            now, cap = on_roll.get((unit_id, category), 0), approved.get((unit_id, category), 0)
            if now + adding > cap:
                result.append(f"{outcome.units[unit_id][1]}{category}：核定 {cap} 名，现在编 {now} 名，本次导入 "
                              f"{adding} 名，导入后超编 {now + adding - cap} 名")
    return result


# -- what the web, the worker and the CLI call --------------------------------------------------

def preview(user, filename, content, ip=None):
    """Check an uploaded file and keep it with its findings for the import. Returns the row."""
    check_upload(filename, content)
    outcome = walk(content, user)  # checked as this importer's: their office's units
    outcome.warnings = warnings(outcome)
    job = RosterImport(user_id=user.id, filename=filename[:255], content=content, status="previewed",
                       total=outcome.total, refused=outcome.refused, skipped=len(outcome.skipped),
                       report=outcome.report())
    db.session.add(job)
    db.session.flush()
    audit(user, "roster.import.preview", f"roster_import:{job.id}", ip=ip, filename=job.filename,
          rows=outcome.total, refused=outcome.refused)
    return job


def import_roster(user, content, valid_only=False, progress=None, target="cli", filename=None):
    """Import the file in the caller's transaction: valid rows inserted with their chronicle, one
    audit entry. Raises RosterRefused (the caller rolls back) when any row is refused and
    `valid_only` is not set. Returns the Outcome."""
    outcome = walk(content, user=user, apply=True, valid_only=valid_only, progress=progress)
    if outcome.refused and not valid_only:
        raise RosterRefused(outcome)
    audit(user, "roster.import", target, filename=filename, rows=outcome.total, imported=outcome.valid,
          skipped=len(outcome.skipped), refused=outcome.refused, valid_only=valid_only)
    db.session.flush()
    return outcome


def _office_imports(user):
    """A WHERE clause: the imports made by users of `user`'s office (an office's imports are its own)."""
    if user.office_id is None:
        return false()
    return RosterImport.user_id.in_(select(User.id).where(User.office_id == user.office_id))


def recent_imports(user, limit=20):
    return db.session.scalars(select(RosterImport).where(_office_imports(user))
                              .order_by(RosterImport.id.desc()).limit(limit)).all()


def get_import(number, user=None):
    """An import by number; with `user`, only one made in their office (another office's is not found)."""
    query = select(RosterImport).where(RosterImport.id == number)
    if user is not None:
        query = query.where(_office_imports(user))
    job = db.session.scalar(query)
    if job is None:
        raise NotFound(f"没有编号为 {number} 的花名册导入")
    return job


def queue(user, job, valid_only):
    """The user chose 导入 / 仅导入有效行: hand the import to the worker."""
    if job.status != "previewed":
        raise Conflict("这次导入已经开始或已结束", code="import_started")
    if job.refused and not valid_only:
        raise ValidationFailed(f"有 {job.refused} 行未通过校验：请修改后重新上传，或选择「仅导入有效行」",
                               code="rows_refused")
    if valid_only and job.total - job.refused - job.skipped <= 0:
        raise ValidationFailed("没有可导入的有效行", code="nothing_to_import")
    job.status, job.mode, job.done, job.phase = "queued", "valid" if valid_only else "all", 0, None
    db.session.add(Job(kind="roster_import", key=f"roster_import:{job.id}", run_at=clock.now(),
                       payload={"import_id": job.id}))
    db.session.flush()
    return job


# The import itself runs in the worker: bianzhi.jobs.roster (why there, and why two passes).


def status(job):
    return {"id": job.id, "status": job.status, "phase": job.phase, "total": job.total, "done": job.done,
            "imported": job.imported, "skipped": job.skipped, "refused": job.refused, "message": job.message}
