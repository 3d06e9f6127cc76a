"""Synthetic ledgers at district, city and province scale, for measuring (bench/scale.py).

`flask --app bianzhi demo --scale province` adds, beside the demo, a province's organisation and
ledger: 50,000 units, 2,000,000 people, 1,000,000 finished cases (two recorded steps each) and
50,000 running cases with one open task each. `district` is 1/100 of those rows (500 units,
20,000 people, 10,000 finished cases, 500 open tasks) and `city` 1/10.

The organisation has the real shape (DESIGN.md "Organisation"), in proportion to the scale:

  province  浙江省委编办 (330000), the new top office; the demo's 绍兴市委编办 is put under it as
            one of its 11 city offices; each city has 8 generated county offices (绍兴's beside
            the demo's 柯桥 and 越城): 1 province, 11 cities, 90 counties.
  city      the demo's 绍兴市委编办 and 8 generated county offices under it.
  district  one generated county office under the demo's 绍兴市委编办.

Every generated office, and the demo's city, has sections: 机关编制科 (jg) and 事业编制科 (sy), plus
综合科 (zh) above the counties and in every third county; 2–3 reviewers in each section (3 above
the counties), two leaders in charge (one of 机关编制科, one of the others) and one admin: ~1,000
bureau users at province scale, every one with the demo password (hashed once, the hash reused
on every row). The demo's own county offices (柯桥, 越城) keep their units, users and sections as
they are, so the demo users do what they did.

The generated units are spread over the offices in contiguous blocks, each block under its first
unit: a tenth over the city offices (市直单位), the rest over the county offices. Each unit is 归口
by kind: 党政机关 to 机关编制科, 事业单位 to 事业编制科 (where there is a 综合科, the 教育 and 卫生健康
事业单位 go to it). Cases carry their unit's office. The open tasks are routed as
organisation.routing.route routes a step that opens: 业务科室初审 (~60 %) to the unit's section
(pool section), 分管领导审核 (30 %) to its leaders in charge (section_leader), 填写申请 (10 %) to
the unit (unit); every 100th is a county unit's step reported up to its city (上报审批, routed
office_above: pool office, the city's office, role reviewer), so a city reviewer has steps to
act on. A tenth of the 初审 are claimed by the section's first reviewer. A county reviewer's
inbox holds its own sections' steps only.

Rows go in by COPY on PostgreSQL (psycopg 3), by batched executemany elsewhere; never one ORM
object at a time. What is left out, knowingly: finished cases carry no workflow blob, notices or
attachments, and the people no chronicle of how they joined (no measured query reads those).
Each generated unit has one clerk (username c + its code in lower case), who started its cases.
Generated rows are plain, realistic in shape (categories, ages 22–61, 8 % left, a tenth of the units over
establishment, deadlines spread ±30 days), not in content.
"""
import random
from datetime import date, datetime, timedelta
from uuid import UUID

from flask import current_app
from sqlalchemy import func, literal, select, text
from werkzeug.security import generate_password_hash

from . import clock
from .accounts.models import User
from .extensions import db
from .ledger import idnumber
from .processes.models import ProcessVersion

BASE = {"units": 500, "people": 20_000, "finished": 10_000, "open": 500}
SCALES = {"district": 1, "city": 10, "province": 100}
CODE_PREFIX = "12S"  # generated units' codes; the demo's start 12330621
BATCH = 20_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红玉海燕晓东文斌佳怡子涵浩然欣"
EDUCATION = ["研究生", "大学本科", "大学本科", "大学本科", "大学专科"]
POSTS = ["科员", "一级科员", "四级主任科员", "三级主任科员", "专业技术人员", "管理人员"]
REGIONS = ["330102", "330105", "330106", "330108", "330109", "330110"]  # none the demo district uses
STEPS = [("Task_review", "业务科室初审", "业务科室", "reviewer", "review"),
         ("Task_leader", "分管领导审核", "分管领导", "leader", "review"),
         ("Task_apply", "填写空编使用申请", "单位经办人", "unit_clerk", "vacancy_use_apply")]
ABOVE = ("Task_above", "上级编办审核", "业务科室", "reviewer", "review")  # 上报审批, routed office_above
POOLS = {"reviewer": "section", "leader": "section_leader", "unit_clerk": "unit"}  # routing's defaults
ABOVE_EVERY = 100  # every 100th open task (from the first) is a county unit's step reported up to its city

# the organisation (see the docstring): 浙江's 11 cities; the demo's city is 绍兴 (330600)
SHAPES = ("district", "city", "province")
PROVINCE = ("330000", "浙江省委编办")
CITIES = [("330100", "杭州"), ("330200", "宁波"), ("330300", "温州"), ("330400", "嘉兴"), ("330500", "湖州"),
          ("330600", "绍兴"), ("330700", "金华"), ("330800", "衢州"), ("330900", "舟山"), ("331000", "台州"),
          ("331100", "丽水")]
DEMO_CITY = "330600"
COUNTIES_PER_CITY = 8  # generated; codes xx81..xx88 (the demo's counties are 330602, 330603)
CITY_UNITS = 0.1  # share of the generated units in the city offices (市直单位)
SECTION_NAMES = {"jg": "机关编制科", "sy": "事业编制科", "zh": "综合科"}
ZH_SYSTEMS = ("教育", "卫生健康")  # the 事业单位 a 综合科 owns where there is one
SYSTEMS = ["教育", "卫生健康", "文化", "农业农村", "住房城建", "交通运输"]  # of generated 事业单位
FIRST_BIRTH = date(1965, 3, 1)
BIRTH_DAYS = 14_000  # born 1965-03 .. 2003-07: aged 22 to 61


def sizes(scale):
    """Row counts for a scale name, or for a factor of the district (tests use 0.01)."""
    factor = SCALES[scale] if isinstance(scale, str) else scale
    return {k: max(1, round(v * factor)) for k, v in BASE.items()}


def offices_plan(shape):
    """The offices a shape adds, top first: [(code, name, level, parent's code)]. The demo's city
    (DEMO_CITY) is not among them (it is there already) but is the parent of the counties and, at
    province scale, a child of the province."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    plan = [(PROVINCE[0], PROVINCE[1], "province", None)] if shape == "province" else []
    for code, short in (CITIES if shape == "province" else [c for c in CITIES if c[0] == DEMO_CITY]):
        if code != DEMO_CITY:
            plan.append((code, f"{short}市委编办", "city", PROVINCE[0]))
        for k in range(1 if shape == "district" else COUNTIES_PER_CITY):
            plan.append((f"{code[:4]}{81 + k}", f"{short}市第{k + 1}县（区）委编办", "county", code))
    return plan


def _spread(total, offices):
    """How many of `total` units each office gets: a tenth shared by the city offices, the rest by
    the counties (all to the cities when there is no county), evenly within each level."""
    cities = [o for o in offices if o["level"] == "city"]
    counties = [o for o in offices if o["level"] == "county"]
    above = round(total * CITY_UNITS) if counties else total
    share = {}
    for group, count in ((cities, above), (counties, total - above)):
        base, extra = divmod(count, len(group)) if group else (0, 0)
        for i, office in enumerate(group):
            share[office["id"]] = base + (1 if i < extra else 0)
    return [(office, share.get(office["id"], 0)) for office in offices]


class Writer:
    """Bulk rows into a table: COPY on PostgreSQL, executemany in batches elsewhere. Every NOT
    NULL column without a server default must be given (checked, so a new model column shows
    up here as a clear error rather than as a failed COPY half-way)."""

    def __init__(self):
        self.conn = db.session.connection()
        self.pg = self.conn.dialect.name == "postgresql"

    def write(self, table_name, columns, rows):
        table = db.metadata.tables[table_name]
        missing = [c.name for c in table.columns if not c.nullable and c.server_default is None
                   and c.name not in columns]
        if missing:
            raise RuntimeError(f"demo_scale: {table_name} needs values for {', '.join(missing)}")
        count = 0
        if self.pg:
            cursor = self.conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        batch = []
        statement = table.insert()
        for row in rows:
            batch.append(dict(zip(columns, row)))
            if len(batch) == BATCH:
                self.conn.execute(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            self.conn.execute(statement, batch)
            count += len(batch)
        return count


def _next_id(table):
    return (db.session.scalar(select(func.max(table.c.id))) or 0) + 1


def _json(value):
    import json
    return json.dumps(value, ensure_ascii=False)


def _organisation(w, shape, rng, stamp, password_hash):
    """Write the shape's offices, sections, bureau users, their roles and memberships (bulk rows).
    Returns (the offices that get units, in block order, each a dict with id, code, level,
    parent_id, sections {code: id}, first_reviewer {section id: user id}; the counts written)."""
    tables = db.metadata.tables
    offices_t, sections_t = tables["offices"], tables["sections"]
    existing = {row.code: row for row in db.session.execute(
        select(offices_t.c.id, offices_t.c.code, offices_t.c.level, offices_t.c.parent_id, offices_t.c.path))}
    city = existing.get(DEMO_CITY)
    if city is None:
        raise RuntimeError("请先载入演示数据（flask demo）")
    plan = offices_plan(shape)
    taken = [code for code, *_ in plan if code in existing]
    if taken:
        raise RuntimeError(f"编办代码 {'、'.join(taken)} 已存在：请在新的数据库上运行")
    counts = {}
    next_id = _next_id(offices_t)
    offices = {DEMO_CITY: {"id": city.id, "code": DEMO_CITY, "level": "city", "parent_id": city.parent_id,
                           "path": city.path}}
    rows = []
    for code, name, level, parent_code in plan:
        parent = offices.get(parent_code) if parent_code else None
        office = {"id": next_id, "code": code, "name": name, "level": level,
                  "parent_id": parent["id"] if parent else None,
                  "path": f"{parent['path'] if parent else '/'}{next_id}/"}
        offices[code] = office
        rows.append((office["id"], code, name, level, office["parent_id"], office["path"]))
        next_id += 1
        if code == PROVINCE[0]:  # the demo's city (and its counties) go under the province
            offices[DEMO_CITY].update(parent_id=office["id"], path=office["path"] + city.path.lstrip("/"))
    counts["offices"] = w.write("offices", ["id", "code", "name", "level", "parent_id", "path"], rows)
    if shape == "province":
        w.conn.execute(offices_t.update().where(offices_t.c.path.startswith(city.path))
                       .values(path=literal(offices[PROVINCE[0]]["path"][:-1]) + offices_t.c.path))
        w.conn.execute(offices_t.update().where(offices_t.c.id == city.id)
                       .values(parent_id=offices[PROVINCE[0]]["id"]))

    # sections: the demo city's that exist are kept (its 机构编制科 stands for jg)
    demo_sections = dict(db.session.execute(select(sections_t.c.code, sections_t.c.id)
                                            .where(sections_t.c.office_id == city.id)).all())
    section_id = _next_id(sections_t)
    user_id = _next_id(tables["users"])
    role_id = _next_id(tables["user_roles"])
    member_id = _next_id(tables["section_members"])
    section_rows, user_rows, role_rows, member_rows = [], [], [], []
    ordered = [offices[DEMO_CITY]] + [offices[code] for code, *_ in plan]

    def user(username, office, role):
        nonlocal user_id, role_id
        user_rows.append((user_id, username, rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                          password_hash, office["id"], True, 0, 0, stamp))
        role_rows.append((role_id, user_id, role))
        user_id, role_id = user_id + 1, role_id + 1
        return user_id - 1

    def member(section, uid, duty):
        nonlocal member_id
        member_rows.append((member_id, section, uid, duty))
        member_id += 1

    for ordinal, office in enumerate(ordered):
        county = office["level"] == "county"
        codes = ["jg", "sy"] + ([] if county and ordinal % 3 else ["zh"])
        office["sections"], office["first_reviewer"] = {}, {}
        for code in codes:
            if office["code"] == DEMO_CITY and code in demo_sections:
                office["sections"][code] = demo_sections[code]
                continue
            office["sections"][code] = section_id
            section_rows.append((section_id, office["id"], code, SECTION_NAMES[code]))
            section_id += 1
        for code, sid in office["sections"].items():
            for k in range(2 + ordinal % 2 if county else 3):
                uid = user(f"r{office['code']}{code}{k + 1}", office, "reviewer")
                office["first_reviewer"].setdefault(sid, uid)
                member(sid, uid, "reviewer")
        for k, charge in enumerate((["jg"], [c for c in codes if c != "jg"])):
            uid = user(f"l{office['code']}_{k + 1}", office, "leader")
            for code in charge:
                member(office["sections"][code], uid, "leader")
        user(f"a{office['code']}", office, "admin")
    counts["sections"] = w.write("sections", ["id", "office_id", "code", "name"], section_rows)
    counts["bureau_users"] = w.write("users", ["id", "username", "display_name", "password_hash", "office_id",
                                               "active", "failed_logins", "session_version", "created_at"],
                                     user_rows)
    w.write("user_roles", ["id", "user_id", "role"], role_rows)
    counts["section_members"] = w.write("section_members", ["id", "section_id", "user_id", "duty"], member_rows)
    return [o for o in ordered if o["level"] != "province"], counts


def generate(scale, seed=2026, progress=print, shape=None, password=None):
    """Add `scale`'s organisation, synthetic ledger and cases. `shape` (district, city, province)
    is the scale's own by default (district for a numeric factor); `password` is the generated
    users' (default: the demo's, reviewer1's hash reused). Refuses if generated units are there
    already. Returns the counts written."""
    n = sizes(scale)
    shape = shape or (scale if isinstance(scale, str) else "district")
    rng = random.Random(seed)
    tables = db.metadata.tables
    if db.session.scalar(select(tables["units"].c.id).where(tables["units"].c.code.like(CODE_PREFIX + "%"))
                         .limit(1)) is not None:
        raise RuntimeError("已有生成的规模数据：请在新的数据库上运行")
    users = dict(db.session.execute(select(User.username, User.id)).all())
    for name in ("clerk1", "reviewer1", "reviewer2", "leader1"):
        if name not in users:
            raise RuntimeError("请先载入演示数据（flask demo）")
    version_id = db.session.scalar(select(ProcessVersion.id).where(ProcessVersion.key == "vacancy_use")
                                   .order_by(ProcessVersion.version.desc()).limit(1))
    if password is None:  # the demo password, as the demo users have it
        password_hash = db.session.scalar(select(User.password_hash).where(User.username == "reviewer1"))
    else:
        password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
    w = Writer()
    pg = w.pg
    now = clock.now()
    today = clock.today()
    stamp = now.replace(tzinfo=None) if isinstance(now, datetime) else now
    counts = {}

    # --- the organisation ----------------------------------------------------------------------
    offices, org_counts = _organisation(w, shape, rng, stamp, password_hash)
    counts.update(org_counts)
    progress(f"offices {counts['offices']:,} (shape {shape}), sections {counts['sections']:,}, "
             f"bureau users {counts['bureau_users']:,}")

    # --- units, establishment, post quotas -----------------------------------------------------
    first_unit = _next_id(tables["units"])
    unit_ids = list(range(first_unit, first_unit + n["units"]))
    kinds, unit_office, unit_section, unit_code = {}, {}, {}, {}
    office_by_id = {o["id"]: o for o in offices}
    first_reviewer = {sid: uid for o in offices for sid, uid in o["first_reviewer"].items()}

    def unit_rows():
        i = 0
        for block, (office, count) in enumerate(_spread(n["units"], offices)):
            root_id = unit_ids[i] if count else None
            for j in range(count):
                uid = unit_ids[i]
                root = j == 0
                kind = "党政机关" if root or rng.random() < 0.3 else "事业单位"
                system = ("党委" if rng.random() < 0.4 else "政府") if kind == "党政机关" else rng.choice(SYSTEMS)
                section = "jg" if kind == "党政机关" else "zh" if (
                    system in ZH_SYSTEMS and "zh" in office["sections"]) else "sy"
                kinds[uid], unit_office[uid] = kind, office["id"]
                unit_code[uid] = f"{CODE_PREFIX}{block:04d}{i:09d}X"
                unit_section[uid] = office["sections"][section]
                yield (uid, unit_code[uid], f"{'机关' if root else ''}单位{block:04d}-{j:04d}",
                       None if root else root_id, kind, "正科级",
                       "行政机关" if kind == "党政机关" else "公益一类", "全额", system, date(2001, 6, 1),
                       f"编〔2001〕{i % 90 + 10}号", "active", office["id"], unit_section[uid])
                i += 1
    counts["units"] = w.write("units", ["id", "code", "name", "parent_id", "kind", "level", "nature", "funding",
                                        "system", "founded", "approval_doc", "status", "office_id", "section_id"],
                              unit_rows())
    progress(f"units {counts['units']:,} over {sum(1 for _o, c in _spread(n['units'], offices) if c)} offices")

    # one clerk per unit (username c + the unit's code), so every step at a unit has its holder
    first_user = _next_id(tables["users"])
    first_role = _next_id(tables["user_roles"])
    clerk_of = {uid: first_user + k for k, uid in enumerate(unit_ids)}
    counts["clerks"] = w.write("users", ["id", "username", "display_name", "password_hash", "unit_id", "active",
                                         "failed_logins", "session_version", "created_at"], (
        (clerk_of[uid], f"c{unit_code[uid]}".lower(), rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
         password_hash, uid, True, 0, 0, stamp) for uid in unit_ids))
    w.write("user_roles", ["id", "user_id", "role"], ((first_role + k, clerk_of[uid], "unit_clerk")
                                                      for k, uid in enumerate(unit_ids)))

    per_unit = n["people"] // n["units"]
    on_roll_target = {}  # (unit, category) -> people on roll to generate
    establishment = []
    for uid in unit_ids:
        category = "行政编制" if kinds[uid] == "党政机关" else "事业编制"
        people = max(1, int(rng.gauss(per_unit * 0.92, per_unit * 0.1)))
        roll = rng.random()
        approved = people - rng.randint(1, 3) if roll < 0.1 else people if roll < 0.25 else people + rng.randint(1, 6)
        on_roll_target[(uid, category)] = people
        establishment.append((uid, category, max(approved, 0)))
        if rng.random() < 0.2:
            on_roll_target[(uid, "工勤编制")] = 2
            establishment.append((uid, "工勤编制", 3))
    first = _next_id(tables["establishments"])
    counts["establishments"] = w.write("establishments", ["id", "unit_id", "category", "approved"],
                                       ((first + i, *row) for i, row in enumerate(establishment)))
    first = _next_id(tables["post_quotas"])
    counts["post_quotas"] = w.write("post_quotas", ["id", "unit_id", "kind", "level", "approved"], (
        (first + 2 * i + j, uid, "midlevel", level, approved)
        for i, uid in enumerate(unit_ids) for j, (level, approved) in enumerate((("正职", 4), ("副职", 4)))))

    # --- people -------------------------------------------------------------------------------
    first_person = _next_id(tables["people"])
    total_people = sum(on_roll_target.values())
    left_share = 0.08

    def people_rows():
        pid = first_person
        serial = 0
        for (uid, category), on_roll in on_roll_target.items():
            left = int(on_roll * left_share / (1 - left_share) + rng.random())
            for k in range(on_roll + left):
                # unique ID numbers: day of birth from the serial, sequence from its quotient
                birth = FIRST_BIRTH + timedelta(days=serial % BIRTH_DAYS)
                sequence = (serial // BIRTH_DAYS) % 1000
                region = REGIONS[(serial // (BIRTH_DAYS * 1000)) % len(REGIONS)]
                id_number = idnumber.make(region, birth, sequence)
                sex = "男" if int(id_number[16]) % 2 else "女"
                entry = min(birth + timedelta(days=365 * 22 + rng.randint(0, 3000)), today)
                is_left = k >= on_roll
                yield (pid, f"BZS{pid:09d}", rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                       id_number, sex, birth, uid, uid, category, "left" if is_left else "on_roll", entry,
                       rng.choice(EDUCATION), rng.choice(POSTS), _json({"ethnicity": "汉族"}) if pg else
                       {"ethnicity": "汉族"},
                       entry + timedelta(days=3000) if is_left else None, "调出" if is_left else None, False, stamp)
                pid += 1
                serial += 1
    counts["people"] = w.write("people", ["id", "code", "name", "id_number", "sex", "birth_date", "unit_id",
                                          "work_unit_id", "category", "status", "entry_date", "education", "post",
                                          "details", "left_date", "left_reason", "exit_late", "created_at"],
                               people_rows())
    progress(f"people {counts['people']:,} ({total_people:,} on roll)")

    # --- finished cases, their steps and reservations -------------------------------------------
    first_case = _next_id(tables["cases"])
    first_step = _next_id(tables["case_steps"])
    data = {"category": "事业编制", "count": 1, "channel": "调任", "reason": "生成的历史案件"}
    data_out = _json(data) if pg else data
    empty = _json({}) if pg else {}
    finished = []  # (case id, unit id, created, finished, state)
    county_units = [uid for uid in unit_ids if office_by_id[unit_office[uid]]["level"] == "county"]
    above = set()  # the running cases whose open step is reported up (上报审批)

    def case_rows():
        for i in range(n["finished"]):
            cid = first_case + i
            uid = unit_ids[rng.randrange(len(unit_ids))]
            created = stamp - timedelta(days=rng.randint(30, 3650), minutes=rng.randint(0, 1440))
            done = created + timedelta(days=rng.randint(1, 20))
            state = "rejected" if rng.random() < 0.1 else "completed"
            finished.append((cid, uid, created, done, state))
            yield (cid, f"GEN-{cid:08d}", "vacancy_use", version_id, uid, unit_office[uid], clerk_of[uid], state,
                   "空编使用（事业编制 1 名）", data_out, "", 2, created, done, done)
        for i in range(n["open"]):
            cid = first_case + n["finished"] + i
            if i % ABOVE_EVERY == 0 and county_units:
                uid = county_units[rng.randrange(len(county_units))]
                above.add(cid)
            else:
                uid = unit_ids[rng.randrange(len(unit_ids))]
            created = stamp - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1440))
            finished.append((cid, uid, created, None, "running"))
            yield (cid, f"GEN-{cid:08d}", "vacancy_use", version_id, uid, unit_office[uid], clerk_of[uid], "running",
                   "空编使用（事业编制 1 名）", data_out, "", 1, created, created, None)
    case_columns = ["id", "number", "process_key", "version_id", "unit_id", "office_id", "started_by_id", "state",
                    "title",
                    "data", "workflow_json", "revision", "created_at", "updated_at", "finished_at"]
    counts["cases"] = w.write("cases", case_columns, case_rows())
    progress(f"cases {counts['cases']:,}")

    def step_rows():
        sid = first_step
        for cid, uid, created, done, state in finished:
            if done is None:
                continue
            reviewer = first_reviewer[unit_section[uid]]  # the unit's section's
            yield (sid, cid, str(UUID(int=rng.getrandbits(128), version=4)), "Task_apply", "填写空编使用申请",
                   "unit_clerk", clerk_of[uid], "submit", None, empty, created)
            yield (sid + 1, cid, str(UUID(int=rng.getrandbits(128), version=4)), "Task_review", "业务科室初审",
                   "reviewer", reviewer, "reject" if state == "rejected" else "approve", "同意", empty, done)
            sid += 2
    counts["case_steps"] = w.write("case_steps", ["id", "case_id", "task_id", "bpmn_id", "name", "role", "user_id",
                                                  "decision", "opinion", "data", "at"], step_rows())
    progress(f"case steps {counts['case_steps']:,}")

    first_reservation = _next_id(tables["reservations"])
    counts["reservations"] = w.write("reservations", ["id", "kind", "unit_id", "category", "case_id", "count", "used",
                                                      "status", "created_at"], (
        (first_reservation + i, "case", uid, "事业编制", cid, 1, 0, "active", done)
        for i, (cid, uid, _c, done, _s) in enumerate(r for r in finished[:n["finished"]:50]
                                                       if r[4] == "completed")))

    # --- open tasks on the running cases --------------------------------------------------------
    # routed as organisation.routing.route routes a step that opens (section, section_leader,
    # unit; office_above: pool office at the office above), so each lands in its holders' inbox
    def task_rows():
        for cid, uid, created, done, _state in finished[n["finished"]:]:
            roll = rng.random()
            office = office_by_id[unit_office[uid]]
            if cid in above:
                bpmn_id, name, lane, role, form = ABOVE
                pool, office_id, section_id = "office", office["parent_id"], None
            else:
                bpmn_id, name, lane, role, form = STEPS[0 if roll < 0.6 else 1 if roll < 0.9 else 2]
                pool, office_id = POOLS[role], office["id"]
                section_id = None if pool == "unit" else unit_section[uid]
            due = None if rng.random() < 0.03 else today + timedelta(days=rng.randint(-30, 30))
            assignee = first_reviewer[section_id] if pool == "section" and rng.random() < 0.1 else None
            yield (str(UUID(int=rng.getrandbits(128), version=4)), cid, bpmn_id, name, lane, role,
                   uid if role == "unit_clerk" else None, form, due, due or date(9999, 12, 31), created, assignee,
                   pool, office_id, section_id, False)
    counts["open_tasks"] = w.write("open_tasks", ["id", "case_id", "bpmn_id", "name", "lane", "role", "unit_id",
                                                  "form_key", "due_date", "sort_due", "created_at", "assignee_id",
                                                  "pool", "office_id", "section_id", "unheld"],
                                   task_rows())
    progress(f"open tasks {counts['open_tasks']:,}")

    if pg:
        for table in ("offices", "sections", "users", "user_roles", "section_members", "units", "establishments",
                      "post_quotas", "people", "cases", "case_steps", "reservations"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
    db.session.flush()
    db.session.expire_all()  # the demo's city moved under the province (Core updates)
    return counts


def analyze():
    """Fresh planner statistics after a bulk load (outside a transaction on PostgreSQL)."""
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
