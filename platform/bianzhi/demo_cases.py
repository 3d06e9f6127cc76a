"""Demo cases in every state for every process, made by running the real operations as the
demo users, so a newcomer opening `make run` sees a living system."""
from datetime import date, timedelta

from sqlalchemy import select

from . import clock
from .accounts.models import User
from .cases import operations as cases
from .extensions import db
from .ledger import idnumber
from .cases.models import OpenTask
from .ledger.models import Person, Unit


def _user(username):
    return db.session.scalar(select(User).where(User.username == username))


class Script:
    """Drives cases through their steps as named users."""

    def __init__(self):
        self.users = {}

    def user(self, name):
        if name not in self.users:
            self.users[name] = _user(name)
        return self.users[name]

    def start(self, clerk, process, data):
        return cases.start_case(self.user(clerk), process, data)

    def step(self, case, username, data):
        db.session.flush()
        task = db.session.scalars(select(OpenTask).where(OpenTask.case_id == case.id)).first()
        return cases.complete_task(self.user(username), task.id, data)

    def approve(self, case, *usernames, opinion="同意"):
        for username in usernames:
            case = self.step(case, username, {"decision": "approve", "opinion": opinion})
        return case


def _person(seq, entry=None):
    birth = date(1990, 1, 1) + timedelta(days=97 * seq)
    return {"name": ["陈思远", "王雨桐", "李明轩", "赵可欣", "周子墨", "吴若曦"][seq % 6],
            "id_number": idnumber.make("330621", birth, 500 + seq), "entry_date": (entry or clock.today()).isoformat(),
            "education": "大学本科", "post": "专业技术人员"}


def _unit(suffix):
    return db.session.scalar(select(Unit).where(Unit.code == f"12330621{suffix}{'0' * (9 - len(suffix))}X"))


def vacancy_use_cases(s):
    cdc = _unit("B01").code
    base = {"unit": cdc, "category": "事业编制", "channel": "调任"}
    s.start("clerk1", "vacancy_use", dict(base, count=1, reason="检验科骨干调入"))  # at 业务科室初审
    returned = s.start("clerk1", "vacancy_use", dict(base, count=1, reason="急需流行病学专业人员"))
    s.step(returned, "reviewer1", {"decision": "return", "opinion": "请补充主管部门审核意见"})
    approved = s.start("clerk1", "vacancy_use", dict(base, count=1, reason="补充应急管理岗位"))
    s.approve(approved, "reviewer1", "leader1")  # waiting for 落编登记
    done = s.start("clerk1", "vacancy_use", dict(base, count=1, reason="补充检验技师"))
    done = s.approve(done, "reviewer1", "leader1")
    done = s.step(done, "clerk1", {"people": [_person(1)]})
    s.approve(done, "reviewer1", opinion="材料齐全，同意落编")
    rejected = s.start("clerk1", "vacancy_use", dict(base, count=2, reason="拟增加行政辅助人员"))
    s.step(rejected, "reviewer1", {"decision": "reject", "opinion": "行政辅助岗位不属于核定职能，不予通过"})
    withdrawn = s.start("clerk1", "vacancy_use", dict(base, count=1, reason="填报有误"))
    cases.withdraw_case(s.user("clerk1"), withdrawn.id)
    archive = _unit("B02").code
    s.start("clerk2", "vacancy_use", {"unit": archive, "category": "事业编制", "channel": "军转安置", "count": 1,
                                      "reason": "安置军队转业干部"})


def _team(days_ago=5):
    return {"team_body": "党组（党委）会议", "team_date": (clock.today() - timedelta(days=days_ago)).isoformat(),
            "team_decision": "经单位党组会议研究，同意报送本用编计划"}


def plan_cases(s):
    year = clock.today().year
    cdc, archive = _unit("B01").code, _unit("B02").code
    plan = s.start("clerk1", "annual_plan", dict(_team(), unit=cdc, year=year, lines=[
        {"category": "事业编制", "channel": "公开招聘", "count": 2, "reason": "检验科、应急办公开招聘专业技术人员"}]))
    s.approve(plan, "reviewer1", "leader1", opinion="符合年度用编计划管理规定，同意")
    s.start("clerk2", "annual_plan", dict(_team(), unit=archive, year=year + 1, lines=[
        {"category": "事业编制", "channel": "公开招聘", "count": 1, "reason": "档案数字化岗位"}]))
    extra = s.start("clerk2", "extra_plan", dict(_team(2), unit=archive, year=year, lines=[
        {"category": "事业编制", "channel": "人才引进", "count": 1, "reason": "引进档案保护专业人才"}]))
    s.approve(extra, "reviewer2")  # at 分管领导审核


def temp_staff_cases(s):
    start = clock.today()
    end = date(start.year + 1, start.month, 1) - timedelta(days=1)
    cdc, archive = _unit("B01").code, _unit("B02").code
    waiting = s.start("clerk1", "temp_staff", {"unit": cdc, "count": 2, "posts": "核酸检测辅助、样本转运",
                                               "start_date": start.isoformat(), "end_date": end.isoformat(),
                                               "funding": "财政拨款", "reason": "秋冬季传染病监测任务加重"})
    s.approve(waiting, "reviewer1", "leader1")  # approved, the unit still has to register the staff
    done = s.start("clerk2", "temp_staff", {"unit": archive, "count": 1, "posts": "档案整理辅助",
                                            "start_date": start.isoformat(), "end_date": end.isoformat(),
                                            "funding": "单位自有资金", "reason": "馆藏档案数字化项目"})
    done = s.approve(done, "reviewer2", "leader1")
    s.step(done, "clerk2", {"staff": [{"name": "蒋文静", "id_number": idnumber.make("330621", date(1996, 4, 12), 862),
                                       "post": "档案整理辅助", "start_date": start.isoformat(),
                                       "end_date": end.isoformat()}]})


def _people(suffix, count, holders=False):
    unit = _unit(suffix)
    query = select(Person).where(Person.unit_id == unit.id, Person.status == "on_roll")
    query = query.where(Person.midlevel_post.is_not(None) if holders else Person.midlevel_post.is_(None))
    return unit, db.session.scalars(query.order_by(Person.birth_date).limit(count)).all()


def exit_cases(s):
    today = clock.today()
    media, (oldest, second, third) = _people("B05", 3)  # 融媒体中心, over establishment: exits help
    done = s.start("clerk3", "staff_exit", {"unit": media.code, "person": oldest.code, "reason": "退休",
                                            "exit_date": (today - timedelta(days=3)).isoformat(),
                                            "notes": "已办理退休手续"})
    s.approve(done, "reviewer2", opinion="退休审批表齐全，同意出编")  # 融媒体中心 is 事业编制科's
    s.start("clerk3", "staff_exit", {"unit": media.code, "person": second.code, "reason": "调出",
                                     "exit_date": today.isoformat(), "destination": "绍兴市柯桥区档案馆",
                                     "notes": "调令已下达"})  # at 业务科室审核
    rejected = s.start("clerk3", "staff_exit", {"unit": media.code, "person": third.code, "reason": "辞职",
                                                "exit_date": today.isoformat()})
    s.step(rejected, "reviewer2", {"decision": "reject", "opinion": "辞职审批尚未完成，请审批后再报"})


def post_cases(s):
    today = clock.today().isoformat()
    cdc, (first, second) = _people("B01", 2)
    done = s.start("clerk1", "midlevel_post", {"unit": cdc.code, "action": "appoint", "person": first.code,
                                               "department": "业务二科", "level": "副职",
                                               "doc_no": "柯疾控〔2026〕12号", "effective_date": today})
    s.approve(done, "reviewer1", "leader1", opinion="符合职数管理规定，同意")
    s.start("clerk1", "midlevel_post", {"unit": cdc.code, "action": "appoint", "person": second.code,
                                        "department": "质量管理科", "level": "正职",
                                        "doc_no": "柯疾控〔2026〕15号", "effective_date": today})


def finance_and_review(s):
    """The finance bureau's paid head counts (区人民医院 paid for two more than its roll: a
    mismatch for 四清两对应 to find), and this year's 年审 started by the bureau."""
    from sqlalchemy import func

    from . import clock
    from .ledger import reconcile
    from .review import operations as reviews

    counts = db.session.execute(select(Unit.code, Person.category, func.count()).join(Unit, Unit.id == Person.unit_id)
                                .where(Person.status == "on_roll", Unit.office_id == _unit("A01").office_id)
                                .group_by(Unit.code, Person.category)).all()
    lines = [{"unit": code, "category": category, "paid": n + (2 if code == _unit("B03").code else 0)}
             for code, category, n in counts]
    today = clock.today()
    reconcile.report_paid_headcounts(s.user("finance1"), lines, today.replace(day=1).isoformat(),
                                     f"区财政局 {today.year} 年 {today.month} 月工资统发")
    reviews.start_review(s.user("reviewer1"), today.year, today + timedelta(days=30))


SCRIPTS = [plan_cases, vacancy_use_cases, temp_staff_cases, exit_cases, post_cases, finance_and_review]


def load_cases():
    """Run every demo script once (the caller checks the demo is fresh)."""
    s = Script()
    for script in SCRIPTS:
        script(s)
        db.session.flush()

