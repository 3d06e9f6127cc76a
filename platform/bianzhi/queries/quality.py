"""数据质量 (数据完整性校验): rules are query definitions ("the records this matches are wrong"),
configured in the UI without Python; the few checks no query can express are named built-in
checks. "Check now" runs every active rule: a new match opens a finding, an open finding that
no longer matches is marked fixed, nothing is ever duplicated (a partial unique index on the
open ones). Nothing here commits.

Offices (organisation.jurisdiction): a check run from the page covers the runner's jurisdiction
only (the cron's covers everything); findings are listed within the reader's. The built-in rules
are the installation's (switched on or off by the top office); a rule configured from a query
belongs to its author's office and checks that office's jurisdiction: it is listed, and switched,
where that jurisdiction meets the reader's."""
from dataclasses import dataclass

from sqlalchemy import and_, case, func, insert, select, text, update

from .. import clock
from ..audit.operations import record as audit
from ..accounts.models import User
from ..errors import Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..ledger import idnumber, retirement
from ..ledger.models import Person, Unit
from ..organisation import jurisdiction
from ..organisation.jurisdiction import Jurisdiction
from ..organisation.models import Office
from ..organisation.scope import office_ids
from . import operations as queries
from .models import QualityFinding, QualityRule

SEVERITY = {"error": "错误", "warning": "提示"}
BATCH = 5000
_LOCK_KEY = 0x7175616C  # "qual"
ON_ROLL = {"field": "person.status", "op": "eq", "value": "on_roll"}


def _on_roll_and(*conditions):
    return {"op": "and", "items": [ON_ROLL, *conditions]}


# code -> (name, description, target, definition or None, builtin or None, severity)
BUILTIN_RULES = {
    "Q01": ("在编人员缺少学历", "学历是“两历”之一，在编人员必须填写", "person",
            _on_roll_and({"field": "person.education", "op": "empty"}), None, "error"),
    "Q02": ("出生日期、性别与身份证号不符", "出生日期和性别应与身份证号一致；身份证号本身须有效", "person",
            None, "id_number_mismatch", "error"),
    "Q03": ("入编时未满 18 周岁", "入编时间早于年满 18 周岁之日", "person", None, "entry_under_18", "error"),
    "Q04": ("已到法定退休年龄仍在编", "按 2025 年起渐进式延迟退休规定，退休月已过仍在编，应办理出编", "person",
            None, "past_retirement", "warning"),
    "Q05": ("单位没有核定编制", "单位的核定编制总数为 0（没有编制核定）", "unit",
            {"op": "and", "items": [{"field": "unit.approved", "op": "eq", "value": 0}]}, None, "warning"),
    "Q06": ("在编人员未填内设机构", "所在内设机构不明", "person",
            _on_roll_and({"field": "person.department", "op": "empty"}), None, "warning"),
    "Q07": ("在编人员缺少民族", "民族为“一身份”信息，应填写", "person",
            _on_roll_and({"field": "person.ethnicity", "op": "empty"}), None, "warning"),
}


def _serialize():
    """One check (or seeding) at a time: a transaction-scoped advisory lock on PostgreSQL;
    SQLite's BEGIN IMMEDIATE already makes writers queue."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def ensure_builtin_rules(user=None):
    """Add the built-in rules that are missing (by code); existing ones are left as configured."""
    _serialize()
    have = set(db.session.scalars(select(QualityRule.code)))
    added = []
    for code, (name, description, target, definition, builtin, severity) in BUILTIN_RULES.items():
        if code not in have:
            rule = QualityRule(code=code, name=name, description=description, target=target,
                               definition=definition, builtin=builtin, severity=severity, active=True,
                               created_by_id=user.id if user else None)
            db.session.add(rule)
            added.append(rule)
    db.session.flush()
    return added


# -- the checks ----------------------------------------------------------------------------------------

def _person_label(unit_name, name, code):
    return f"{unit_name} {name}（{code}）"


def _definition_matches(rule, today, where):
    """{(entity, id): (unit_id, message)} of the records the rule's definition matches among the
    units `where` (clauses on Unit) admits."""
    condition = queries.compile_definition(None, rule.target, rule.definition, today)
    if rule.target == "person":
        query = queries.base_query("person", None, [Person.id, Person.unit_id, Unit.name, Person.name, Person.code])
        return {("person", pid): (unit_id, f"{_person_label(unit_name, name, code)}：{rule.name}")
                for pid, unit_id, unit_name, name, code in db.session.execute(query.where(condition, *where))}
    query = queries.base_query("unit", None, [Unit.id, Unit.name])
    return {("unit", uid): (uid, f"{name}：{rule.name}")
            for uid, name in db.session.execute(query.where(condition, *where))}


def _people(*extra):
    """(person row, unit name) of everyone on roll: plain columns, not Person objects (a
    district's 18,000 people would fill the identity map)."""
    query = (select(Person.id, Person.unit_id, Person.name, Person.code, Person.id_number, Person.sex,
                    Person.birth_date, Person.entry_date, Person.category, Person.details, Unit.name.label("unit_name"))
             .join(Unit, Unit.id == Person.unit_id).where(Person.status == "on_roll", *extra).order_by(Person.id)
             .execution_options(yield_per=BATCH))
    return ((row, row.unit_name) for row in db.session.execute(query))


def _id_number_mismatch(rule, today, where):
    found = {}
    for person, unit_name in _people(*where):
        try:
            info = idnumber.parse(person.id_number)
        except idnumber.InvalidIdNumber as exc:
            problem = f"身份证号无效（{exc}）"
        else:
            wrong = []
            if info.birth_date != person.birth_date:
                wrong.append(f"出生日期 {person.birth_date} 而身份证号为 {info.birth_date}")
            if info.sex != person.sex:
                wrong.append(f"性别“{person.sex}”而身份证号为“{info.sex}”")
            if not wrong:
                continue
            problem = "，".join(wrong)
        found[("person", person.id)] = (person.unit_id, f"{_person_label(unit_name, person.name, person.code)}：{problem}")
    return found


def _years_after(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, month=3, day=1)  # born 29 February


def _entry_under_18(rule, today, where):
    found = {}
    for person, unit_name in _people(*where):
        adult = _years_after(person.birth_date, 18)
        if person.entry_date < adult:
            found[("person", person.id)] = (person.unit_id, f"{_person_label(unit_name, person.name, person.code)}："
                                            f"{person.entry_date} 入编，{adult} 才年满 18 周岁")
    return found


def _past_retirement(rule, today, where):
    found = {}
    for person, unit_name in _people(Person.birth_date <= retirement.latest_birth_date(today, 0), *where):
        try:
            ret = retirement.of_person(person)
        except ValueError:
            continue  # sex unknown: Q02 reports the record
        if retirement.months_until(ret, today) < 0:
            found[("person", person.id)] = (person.unit_id, f"{_person_label(unit_name, person.name, person.code)}："
                                            f"应于 {ret.month_label} 退休（{ret.age_label}），仍在编")
    return found


BUILTIN_CHECKS = {"id_number_mismatch": _id_number_mismatch, "entry_under_18": _entry_under_18,
                  "past_retirement": _past_retirement}


def matches(rule, today=None, scope=None):
    """The records the rule finds wrong among the units of `scope` (a Jurisdiction; None: every
    unit) that the rule covers (its office's jurisdiction: rule_scope)."""
    today = today or clock.today()
    where = [c.unit_clause() for c in (scope, rule_scope(rule)) if c is not None and not c.everything]
    if rule.builtin:
        return BUILTIN_CHECKS[rule.builtin](rule, today, where)
    return _definition_matches(rule, today, where)


# -- whose rule ---------------------------------------------------------------------------------------

def rule_office(rule):
    """The office whose jurisdiction a configured rule checks (its author's), None for a
    built-in rule (every office's) or one without an author."""
    if rule.code in BUILTIN_RULES or rule.created_by_id is None:
        return None
    author = db.session.get(User, rule.created_by_id)
    return author.home_office_id if author is not None else None


def rule_scope(rule):
    office_id = rule_office(rule)
    if office_id is None:
        return jurisdiction.EVERYTHING
    office = db.session.get(Office, office_id)
    return Jurisdiction(offices=tuple(office.subtree_ids()), label=office.name, office=office)


def _reader_offices(user):
    """The offices whose rules concern the reader: their jurisdiction's (a clerk: their unit's
    office), None for the system."""
    if user is None:
        return None
    scope = queries.scope_of(user)
    return set(scope.offices) if scope.by_office else {user.home_office_id}


def _concerns(rule, readers):
    """Whether the rule's jurisdiction meets the reader's (offices form a tree: one holds the other)."""
    if readers is None:
        return True
    coverage = rule_scope(rule)
    return coverage.everything or bool(readers & set(coverage.offices))


def visible_rules(user):
    readers = _reader_offices(user)
    return [rule for rule in db.session.scalars(select(QualityRule).order_by(QualityRule.code))
            if _concerns(rule, readers)]


@dataclass
class CheckResult:
    rules: int
    opened: int
    fixed: int
    still_open: int


def check_now(user=None, today=None, ip=None):
    """Run every active rule. Concurrent checks queue (_serialize), each sees what the one before
    committed; the partial unique index would refuse a duplicate open finding anyway. The check
    is audited here ("quality.check"), whether the page or the command (cron) ran it."""
    _serialize()
    ensure_builtin_rules(user)
    now, today = clock.now(), today or clock.today()
    scope = queries.scope_of(user) if user is not None else jurisdiction.EVERYTHING
    rules = [rule for rule in visible_rules(user) if rule.active]
    opened = fixed = still = 0
    for rule in rules:
        found = matches(rule, today, scope)
        open_findings = {(entity, entity_id): (fid, message) for fid, entity, entity_id, message in db.session.execute(
            select(QualityFinding.id, QualityFinding.entity, QualityFinding.entity_id, QualityFinding.message)
            .where(QualityFinding.rule_id == rule.id, QualityFinding.status == "open",
                   scope.clause(QualityFinding.unit_id)))}  # another office's findings are its own checks
        gone = [fid for key, (fid, _) in open_findings.items() if key not in found]
        for chunk in range(0, len(gone), BATCH):
            db.session.execute(update(QualityFinding).where(QualityFinding.id.in_(gone[chunk:chunk + BATCH]))
                               .values(status="fixed", fixed_at=now))
        for key, (fid, message) in open_findings.items():
            if key in found and found[key][1] != message:  # the latest wording (a name may have changed)
                db.session.execute(update(QualityFinding).where(QualityFinding.id == fid)
                                   .values(message=found[key][1]))
        new = [{"rule_id": rule.id, "entity": key[0], "entity_id": key[1], "unit_id": found[key][0],
                "status": "open", "found_at": now, "message": found[key][1]}
               for key in sorted(found.keys() - open_findings.keys())]
        for chunk in range(0, len(new), BATCH):
            db.session.execute(insert(QualityFinding), new[chunk:chunk + BATCH])  # one executemany per batch
        opened, fixed, still = opened + len(new), fixed + len(gone), still + len(open_findings) - len(gone)
    db.session.flush()
    audit(user, "quality.check", "quality", ip=ip, rules=len(rules), opened=opened, fixed=fixed, still_open=still,
          scope=scope.label)
    return CheckResult(len(rules), opened, fixed, still)


# -- configuring rules -----------------------------------------------------------------------------------

def _next_code():
    codes = db.session.scalars(select(QualityRule.code).where(QualityRule.code.like("R%"))).all()
    numbers = [int(c[1:]) for c in codes if c[1:].isdigit()]
    return f"R{max(numbers, default=0) + 1:03d}"


def create_rule(user, name, target, definition, severity="warning", description=None):
    """A rule from a query definition (checked by running it through the compiler)."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 64:
        raise ValidationFailed("规则名称必填，最长 64 个字", fields={"name": ["必填，最长 64 个字"]})
    if severity not in SEVERITY:
        raise ValidationFailed("严重程度应为 error（错误）或 warning（提示）", fields={"severity": ["无效"]})
    queries.compile_definition(user, target, definition)
    description = (description or "").strip()[:500] or None
    rule = QualityRule(code=_next_code(), name=name, description=description, target=target,
                       definition=definition, severity=severity, active=True, created_by_id=user.id)
    db.session.add(rule)
    db.session.flush()
    return rule


def get_rule(rule_id, user=None):
    rule = db.session.get(QualityRule, rule_id) if isinstance(rule_id, int) else None
    if rule is None or not _concerns(rule, _reader_offices(user)):
        raise NotFound("没有这条数据质量规则")
    return rule


def may_switch(user, rule):
    """A built-in rule is switched for every office by the top office's staff; a configured one by
    its office's staff (or an office above it)."""
    office_id = rule_office(rule)
    if office_id is None:
        return user.office is not None and user.office.parent_id is None
    return office_id in office_ids(user)


def set_active(user, rule_id, active):
    rule = get_rule(rule_id, user)
    if not may_switch(user, rule):
        raise Forbidden("内置规则对所有编办生效，由最上级编办统一启用或停用" if rule_office(rule) is None
                        else "只能启用或停用本编办及下级编办制定的规则")
    rule.active = bool(active)
    db.session.flush()
    return rule


# -- reading ------------------------------------------------------------------------------------------------

def _scoped(query, user):
    scope = queries.scope_of(user)
    return query if scope.everything else query.where(scope.clause(QualityFinding.unit_id))


def open_findings(user, limit=500):
    """(finding, rule, unit, person code) of the open findings of active rules within the
    user's scope, by unit then rule."""
    query = (select(QualityFinding, QualityRule, Unit, Person.code)
             .join(QualityRule, QualityRule.id == QualityFinding.rule_id)
             .outerjoin(Unit, Unit.id == QualityFinding.unit_id)
             .outerjoin(Person, and_(QualityFinding.entity == "person", Person.id == QualityFinding.entity_id))
             .where(QualityFinding.status == "open", QualityRule.active)
             .order_by(Unit.code, QualityRule.code, QualityFinding.id).limit(limit))
    return db.session.execute(_scoped(query, user)).all()


def open_by_unit(user):
    """[(unit, open findings of active rules, of which errors)] within the user's scope, most first."""
    errors = func.sum(case((QualityRule.severity == "error", 1), else_=0))
    query = (select(Unit, func.count(QualityFinding.id), errors)
             .join(QualityFinding, QualityFinding.unit_id == Unit.id)
             .join(QualityRule, QualityRule.id == QualityFinding.rule_id)
             .where(QualityFinding.status == "open", QualityRule.active)
             .group_by(Unit.id).order_by(func.count(QualityFinding.id).desc(), Unit.code))
    return [(unit, n, int(e or 0)) for unit, n, e in db.session.execute(_scoped(query, user))]


def fixed_findings(user, limit=100):
    query = (select(QualityFinding, QualityRule, Unit).join(QualityRule, QualityRule.id == QualityFinding.rule_id)
             .outerjoin(Unit, Unit.id == QualityFinding.unit_id)
             .where(QualityFinding.status == "fixed")
             .order_by(QualityFinding.fixed_at.desc(), QualityFinding.id.desc()).limit(limit))
    return db.session.execute(_scoped(query, user)).all()


def rules_with_counts(user):
    """[(rule, open findings in the user's scope)] for every rule that concerns the user."""
    counts = dict(db.session.execute(_scoped(
        select(QualityFinding.rule_id, func.count()).where(QualityFinding.status == "open")
        .group_by(QualityFinding.rule_id), user)).all())
    return [(rule, counts.get(rule.id, 0)) for rule in visible_rules(user)]
