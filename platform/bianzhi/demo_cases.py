"""Demo cases in every state for every process, made by running the real operations as the
demo users, so a newcomer opening `make run` sees a living system."""
from datetime import date, timedelta

from sqlalchemy import select

from .accounts.models import User
from .cases import operations as cases
from .extensions import db
from .ledger import idnumber
from .cases.models import OpenTask
from .ledger.models import Unit


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
            "id_number": idnumber.make("330621", birth, 500 + seq), "entry_date": (entry or date.today()).isoformat(),
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


SCRIPTS = [vacancy_use_cases]


def load_cases():
    """Run every demo script once (the caller checks the demo is fresh)."""
    s = Script()
    for script in SCRIPTS:
        script(s)
        db.session.flush()

