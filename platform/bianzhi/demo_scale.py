"""Synthetic ledgers at district, city and province scale, for measuring (bench/scale.py).

`flask --app bianzhi demo --scale province` adds, beside the demo district (its users act on
the generated cases): 50,000 units, 2,000,000 people, 1,000,000 finished cases (two recorded
steps each) and 50,000 running cases with one open task each. `district` is 1/100 of that
(500 units, 20,000 people, 10,000 finished cases, 500 open tasks) and `city` 1/10.

Rows go in by COPY on PostgreSQL (psycopg 3), by batched executemany elsewhere; never one ORM
object at a time. What is left out, knowingly: finished cases carry no workflow blob, notices or
attachments, and the people no chronicle of how they joined (no measured query reads those);
generated rows are plain, realistic in shape (categories, ages 22–61, 8 % left, a tenth of the
units over establishment, deadlines spread ±30 days), not in content.
"""
import random
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, text

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
FIRST_BIRTH = date(1965, 3, 1)
BIRTH_DAYS = 14_000  # born 1965-03 .. 2003-07: aged 22 to 61


def sizes(scale):
    """Row counts for a scale name, or for a factor of the district (tests use 0.01)."""
    factor = SCALES[scale] if isinstance(scale, str) else scale
    return {k: max(1, round(v * factor)) for k, v in BASE.items()}


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


def generate(scale, seed=2026, progress=print):
    """Add `scale`'s synthetic ledger and cases. Refuses if generated units are there already.
    Returns the counts written."""
    n = sizes(scale)
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
    w = Writer()
    pg = w.pg
    now = clock.now()
    today = clock.today()
    stamp = now.replace(tzinfo=None) if isinstance(now, datetime) else now
    counts = {}

    # --- units, establishment, post quotas -----------------------------------------------------
    first_unit = _next_id(tables["units"])
    unit_ids = list(range(first_unit, first_unit + n["units"]))
    kinds = {}

    def unit_rows():
        for i, uid in enumerate(unit_ids):
            block = i // 500  # a "district" of 500 units under its first one
            root = i % 500 == 0
            kind = "党政机关" if root or rng.random() < 0.3 else "事业单位"
            kinds[uid] = kind
            yield (uid, f"{CODE_PREFIX}{block:04d}{i:09d}X", f"{'区' if root else ''}单位{block:04d}-{i % 500:03d}",
                   None if root else first_unit + block * 500, kind, "正科级",
                   "行政机关" if kind == "党政机关" else "公益一类", "全额", "政府", date(2001, 6, 1),
                   f"编〔2001〕{i % 90 + 10}号", "active")
    counts["units"] = w.write("units", ["id", "code", "name", "parent_id", "kind", "level", "nature", "funding",
                                        "system", "founded", "approval_doc", "status"], unit_rows())
    progress(f"units {counts['units']:,}")

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
    clerk, reviewer, leader = users["clerk1"], users["reviewer1"], users["leader1"]
    data = {"category": "事业编制", "count": 1, "channel": "调任", "reason": "生成的历史案件"}
    data_out = _json(data) if pg else data
    empty = _json({}) if pg else {}
    finished = []  # (case id, unit id, created, finished, state)

    def case_rows():
        for i in range(n["finished"]):
            cid = first_case + i
            uid = unit_ids[rng.randrange(len(unit_ids))]
            created = stamp - timedelta(days=rng.randint(30, 3650), minutes=rng.randint(0, 1440))
            done = created + timedelta(days=rng.randint(1, 20))
            state = "rejected" if rng.random() < 0.1 else "completed"
            finished.append((cid, uid, created, done, state))
            yield (cid, f"GEN-{cid:08d}", "vacancy_use", version_id, uid, clerk, state, "空编使用（事业编制 1 名）",
                   data_out, "", 2, created, done, done)
        for i in range(n["open"]):
            cid = first_case + n["finished"] + i
            uid = unit_ids[rng.randrange(len(unit_ids))]
            created = stamp - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1440))
            finished.append((cid, uid, created, None, "running"))
            yield (cid, f"GEN-{cid:08d}", "vacancy_use", version_id, uid, clerk, "running",
                   "空编使用（事业编制 1 名）", data_out, "", 1, created, created, None)
    case_columns = ["id", "number", "process_key", "version_id", "unit_id", "started_by_id", "state", "title",
                    "data", "workflow_json", "revision", "created_at", "updated_at", "finished_at"]
    counts["cases"] = w.write("cases", case_columns, case_rows())
    progress(f"cases {counts['cases']:,}")

    def step_rows():
        sid = first_step
        for cid, _uid, created, done, state in finished:
            if done is None:
                continue
            yield (sid, cid, str(UUID(int=rng.getrandbits(128), version=4)), "Task_apply", "填写空编使用申请",
                   "unit_clerk", clerk, "submit", None, empty, created)
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
    def task_rows():
        for cid, uid, created, done, _state in finished[n["finished"]:]:
            roll = rng.random()
            bpmn_id, name, lane, role, form = STEPS[0 if roll < 0.6 else 1 if roll < 0.9 else 2]
            due = None if rng.random() < 0.03 else today + timedelta(days=rng.randint(-30, 30))
            assignee = users["reviewer2"] if role == "reviewer" and rng.random() < 0.1 else None
            yield (str(UUID(int=rng.getrandbits(128), version=4)), cid, bpmn_id, name, lane, role,
                   uid if role == "unit_clerk" else None, form, due, due or date(9999, 12, 31), created, assignee)
    counts["open_tasks"] = w.write("open_tasks", ["id", "case_id", "bpmn_id", "name", "lane", "role", "unit_id",
                                                  "form_key", "due_date", "sort_due", "created_at", "assignee_id"],
                                   task_rows())
    progress(f"open tasks {counts['open_tasks']:,}")

    if pg:
        for table in ("units", "establishments", "post_quotas", "people", "cases", "case_steps", "reservations"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
    db.session.flush()
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
