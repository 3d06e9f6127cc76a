"""组织设置: the admin's pages and the `flask org` commands over offices, sections, 归口, partner
departments and bureau users, and 无人办理 (a step nobody holds, assigned by the admin).

Demo: 柯桥 (330603, admin) has sections jg (A01–A05, B01, B03; reviewer1, reviewer2; leader1)
and sy (B02, B04–B06; reviewer2; leader1), partner departments zzb, rsj, czj; 越城 (330602) has
section zh; the city (330600) is above both, with city_admin1."""
import re

import pytest
from sqlalchemy import func, select

from bianzhi.accounts.models import User
from bianzhi.accounts.operations import create_user
from bianzhi.audit.models import AuditEntry
from bianzhi.cases.models import OpenTask
from bianzhi.errors import Forbidden
from bianzhi.extensions import db
from bianzhi.ledger.models import ChronicleEntry, Unit
from bianzhi.notifications.models import Notification
from bianzhi.organisation import operations as org
from bianzhi.organisation.models import Office, PartnerDepartment, Section, SectionMember
from tests.conftest import PASSWORD, csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, approve_through, decide, only_task, start
from tests.fixtures.pages import text_of

KEQIAO, YUECHENG, CITY = "330603", "330602", "330600"
A01 = "12330621A01000000X"  # 区委办公室, 党政机关, section jg
YC_B01 = "12330602B01000000X"  # 越城区图书馆


def unit_code(suffix, region="330621"):
    return f"12{region}{suffix}{'0' * (9 - len(suffix))}X"


def post(client, path, **data):
    """A form post with the page's CSRF token (lists become repeated fields)."""
    return client.post(path, data={"csrf_token": csrf_token(client, "/login"), **data})


def section_of(app, code):
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        return db.session.get(Section, unit.section_id).code if unit.section_id else None


def members_of(app, office_code, section_code, duty):
    with app.app_context():
        office = org.office_by_code(office_code)
        return sorted(m.user.username for m in org.members(org.section_by_code(office, section_code), duty))


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _office_id(app, code):
    with app.app_context():
        return org.office_by_code(code).id


def audit_count(app, action):
    return count(app, AuditEntry, AuditEntry.action == action)


@pytest.fixture
def yuecheng_admin(app):
    """An admin of 越城 (the demo has none)."""
    with app.app_context():
        user = create_user("yc_admin", PASSWORD, "越城系统管理员", ["admin"])
        user.office_id = org.office_by_code(YUECHENG).id
        db.session.commit()
    return "yc_admin"


# ---------------------------------------------------------------- pages

def test_the_admin_sees_their_office_tree_and_its_pages(app):
    admin = login(app.test_client(), "admin")
    page = admin.get("/admin/organisation")
    assert page.status_code == 200
    text = tree = text_of(page)
    assert "柯桥区委编办" in text and "机关编制科（7）" in text and "事业编制科（4）" in text
    assert "越城区委编办" not in text and "绍兴市委编办" not in text.split("本编办及下级编办")[1]
    assert "└ 柯桥区委编办" not in tree  # the admin's own office is the tree's root
    assert 'href="/admin/organisation"' in page.get_data(as_text=True)  # the navigation link
    office = admin.get(f"/admin/organisation/offices/{KEQIAO}")
    assert office.status_code == 200
    text = text_of(office)
    for shown in ("机关编制科", "周建华（reviewer1）", "傅国强（leader1）", "柯桥区委组织部", "陈组织（zzb1）", "韩纪明"):
        assert shown in text, shown
    units = admin.get(f"/admin/organisation/offices/{KEQIAO}/units?kind=事业单位")
    assert units.status_code == 200
    assert "疾病预防控制中心" in text_of(units) and "区委办公室" not in text_of(units)
    assert "组织设置" not in text_of(login(app.test_client(), "reviewer1").get("/inbox"))

    city = text_of(login(app.test_client(), "city_admin1").get("/admin/organisation"))
    assert "绍兴市委编办" in city and "└ 柯桥区委编办" in city and "└ 越城区委编办" in city
    for username in ("reviewer1", "leader1", "auditor1", "clerk1", "zzb1"):
        assert login(app.test_client(), username).get("/admin/organisation").status_code == 403, username


def test_creating_an_office_follows_the_level_rules(app):
    city_admin = login(app.test_client(), "city_admin1")
    bad = post(city_admin, "/admin/organisation/offices", parent=KEQIAO, level="county", code="330681", name="诸暨市委编办")
    assert bad.status_code == 422 and "县（区）级编办的上级应为市级编办" in text_of(bad)
    assert count(app, Office, Office.code == "330681") == 0
    ok = post(city_admin, "/admin/organisation/offices", parent=CITY, level="county", code="330681", name="诸暨市委编办")
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/admin/organisation/offices/330681")
    with app.app_context():
        made = org.office_by_code("330681")
        assert made.parent.code == CITY and made.path.startswith(made.parent.path)
    again = post(city_admin, "/admin/organisation/offices", parent=CITY, level="county", code="330681", name="重复")
    assert again.status_code == 409 and "编办代码 330681 已存在" in text_of(again)
    unknown = post(city_admin, "/admin/organisation/offices", parent="999999", level="county", code="330682", name="某编办")
    assert unknown.status_code == 404 and "编办「999999」不存在" in text_of(unknown)
    # the district's admin manages the district only: not a child of the city
    district = post(login(app.test_client(), "admin"), "/admin/organisation/offices", parent=CITY, level="county",
                    code="330683", name="嵊州市委编办")
    assert district.status_code == 403 and "您不能管理绍兴市委编办的组织设置" in text_of(district)
    assert count(app, Office, Office.code == "330683") == 0


def test_sections_and_their_members(app):
    admin = login(app.test_client(), "admin")
    base = f"/admin/organisation/offices/{KEQIAO}"
    assert post(admin, f"{base}/sections", code="zh", name="综合科").status_code == 302
    # a member picked by name or by username
    assert post(admin, f"{base}/members", section="zh", username="陆佳怡", duty="reviewer").status_code == 302
    assert post(admin, f"{base}/members", section="zh", username="leader1", duty="leader").status_code == 302
    assert members_of(app, KEQIAO, "zh", "reviewer") == ["reviewer2"]
    assert members_of(app, KEQIAO, "zh", "leader") == ["leader1"]
    page = text_of(admin.get(base))
    assert "综合科" in page and "陆佳怡（reviewer2）" in page
    # bad input: a user of another office, the wrong role, twice, nobody, an unknown section
    for data, status, message in [
            ({"username": "reviewer_b1", "duty": "reviewer"}, 422, "邵越审属于越城区委编办，不是柯桥区委编办的工作人员"),
            ({"username": "leader1", "duty": "reviewer"}, 422, "傅国强不是业务科室人员，不能担任科室成员"),
            ({"username": "reviewer2", "duty": "reviewer"}, 409, "陆佳怡已是综合科的科室成员"),
            ({"username": "nobody", "duty": "reviewer"}, 422, "用户「nobody」不存在"),
            ({"username": "reviewer1", "duty": "reviewer", "section": "xx"}, 404, "柯桥区委编办没有代码为「xx」的科室")]:
        response = post(admin, f"{base}/members", **{"section": "zh", **data})
        assert response.status_code == status and message in text_of(response), (data, text_of(response)[:300])
    assert members_of(app, KEQIAO, "zh", "reviewer") == ["reviewer2"]
    assert post(admin, f"{base}/members/remove", section="zh", username="reviewer2", duty="reviewer").status_code == 302
    assert members_of(app, KEQIAO, "zh", "reviewer") == []
    # a section that owns units is not deleted; an empty one is
    refused = post(admin, f"{base}/sections/delete", section="jg")
    assert refused.status_code == 409 and "机关编制科仍归口管理 7 个单位，请先把这些单位归口到其他科室" in text_of(refused)
    assert count(app, Section, Section.code == "jg", Section.office_id == _office_id(app, KEQIAO)) == 1 and members_of(app, KEQIAO, "jg", "reviewer") == ["reviewer1", "reviewer2"]
    assert post(admin, f"{base}/sections/delete", section="zh").status_code == 302
    with app.app_context():
        assert [s.code for s in org.sections_of(org.office_by_code(KEQIAO))] == ["jg", "sy"]
    assert audit_count(app, "section.create") >= 1 and audit_count(app, "section.member_remove") >= 1


def test_a_section_with_open_tasks_is_not_deleted(app, api):
    admin = login(app.test_client(), "admin")
    base = f"/admin/organisation/offices/{KEQIAO}"
    start(api("clerk1"))  # 初审 routed to jg
    assert post(admin, f"{base}/sections", code="zh", name="综合科").status_code == 302
    with app.app_context():
        office = org.office_by_code(KEQIAO)
        zh = org.section_by_code(office, "zh")
        db.session.execute(db.update(OpenTask).values(section_id=zh.id))  # as if its units' steps were open
        db.session.commit()
    refused = post(admin, f"{base}/sections/delete", section="zh")
    assert refused.status_code == 409 and "综合科还有 1 件待办，办完或转办后才能删除" in text_of(refused)
    assert count(app, Section, Section.code == "zh", Section.office_id == _office_id(app, KEQIAO)) == 1


def test_partner_departments_and_their_users(app, api):
    admin = login(app.test_client(), "admin")
    base = f"/admin/organisation/offices/{KEQIAO}"
    assert post(admin, f"{base}/departments", code="ybj", name="柯桥区医保局").status_code == 302
    made = post(admin, f"{base}/partners", department="ybj", username="ybj1", display_name="医保一", password="Secret-99x")
    assert made.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ybj1"))
        assert user.roles == ["partner"] and user.partner_department.code == "ybj" and user.office.code == KEQIAO
    assert "医保一（ybj1）" in text_of(admin.get(base))
    bad_password = post(admin, f"{base}/partners", department="ybj", username="ybj2", display_name="医保二", password="1")
    assert bad_password.status_code == 422 and "密码至少 8 位" in text_of(bad_password)
    assert count(app, User, User.username == "ybj2") == 0
    # a department with active users, or with open tasks, stays
    refused = post(admin, f"{base}/departments/delete", department="ybj")
    assert refused.status_code == 409 and "柯桥区医保局还有 1 名在用账号，请先停用或调出" in text_of(refused)
    assert post(admin, f"{base}/departments", code="jcj", name="柯桥区监察局").status_code == 302
    start(api("clerk1"))
    with app.app_context():
        dept = org.department_by_code(org.office_by_code(KEQIAO), "jcj")
        db.session.execute(db.update(OpenTask).values(pool="department", partner_department_id=dept.id))
        db.session.commit()
    refused = post(admin, f"{base}/departments/delete", department="jcj")
    assert refused.status_code == 409 and "柯桥区监察局还有 1 件待办，办完后才能删除" in text_of(refused)
    unknown = post(admin, f"{base}/departments/delete", department="nope")
    assert unknown.status_code == 404 and "柯桥区委编办没有代码为「nope」的联审部门" in text_of(unknown)
    assert count(app, PartnerDepartment, PartnerDepartment.code.in_(["ybj", "jcj"])) == 2
    with app.app_context():
        db.session.execute(db.update(OpenTask).values(pool="section", partner_department_id=None))
        db.session.commit()
    assert post(admin, f"{base}/departments/delete", department="jcj").status_code == 302
    assert count(app, PartnerDepartment, PartnerDepartment.code == "jcj") == 0


def test_a_user_belongs_to_one_office_and_a_move_is_said_explicitly(app):
    admin = login(app.test_client(), "admin")
    base = f"/admin/organisation/offices/{KEQIAO}"
    refused = post(admin, f"{base}/users/place", username="reviewer_b1")
    assert refused.status_code == 409
    assert "邵越审已属于越城区委编办，一个用户只能属于一个编办" in text_of(refused) and "确认调出" in text_of(refused)
    # confirming is not enough when the admin does not manage the office the user leaves
    refused = post(admin, f"{base}/users/place", username="reviewer_b1", move="1")
    assert refused.status_code == 403 and "您不能管理越城区委编办的组织设置" in text_of(refused)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "reviewer_b1"))
        assert user.office.code == YUECHENG and user.section_ids("reviewer")
    # the city's admin manages both: the move goes through and the old section places end
    moved = post(login(app.test_client(), "city_admin1"), f"{base}/users/place", username="reviewer_b1", move="1")
    assert moved.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "reviewer_b1"))
        assert user.office.code == KEQIAO and user.section_ids("reviewer") == []
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.office")
                                  .order_by(AuditEntry.id.desc()).limit(1))
        assert entry.detail["moved_from"] == YUECHENG and entry.detail["office"] == KEQIAO
    # a bureau user in no office yet is placed without more ado; a clerk never
    with app.app_context():
        create_user("reviewer9", PASSWORD, "新审核", ["reviewer"])
        db.session.commit()
    assert "新审核（reviewer9）" in text_of(admin.get(base))  # listed as not yet placed
    assert post(admin, f"{base}/users/place", username="reviewer9").status_code == 302
    assert post(admin, f"{base}/members", section="jg", username="reviewer9", duty="reviewer").status_code == 302
    clerk = post(admin, f"{base}/users/place", username="clerk1")
    assert clerk.status_code == 422 and "是单位经办人，所属编办随其单位" in text_of(clerk)
    partner = post(admin, f"{base}/users/place", username="zzb1")
    assert partner.status_code == 422 and "是联审部门账号，请指定其所属的联审部门" in text_of(partner)
    assert post(admin, f"{base}/users/place", username="zzb1", department="rsj").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "zzb1")).partner_department.code == "rsj"


# ---------------------------------------------------------------- 归口

def test_the_preview_changes_nothing_and_the_confirmation_chronicles_each_unit(app):
    admin = login(app.test_client(), "admin")
    base = f"/admin/organisation/offices/{KEQIAO}/units"
    chronicle_before = count(app, ChronicleEntry, ChronicleEntry.action == "section")
    # the kind 事业单位 and one unit checked: B01 and B03 move from jg, B02 … B06 stay; A01 moves
    preview = post(admin, f"{base}/preview", section="sy", kind="事业单位", units=[A01])
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-unit="([^"]+)">(.*?)</tr>', html, re.DOTALL))
    assert set(rows) == {A01, CLERK1_UNIT, unit_code("B03")}
    assert "机关编制科" in rows[CLERK1_UNIT] and "事业编制科" in rows[CLERK1_UNIT]
    assert "以下 3 个单位" in text_of(preview) and "不变的单位 4 个" in text_of(preview)
    assert section_of(app, CLERK1_UNIT) == "jg" and section_of(app, A01) == "jg"
    assert count(app, ChronicleEntry, ChronicleEntry.action == "section") == chronicle_before
    # the confirmation carries exactly the previewed units
    confirm = html[html.index('id="confirm-form"'):]
    posted = re.findall(r'name="units" value="([^"]+)"', confirm)
    assert set(posted) == {A01, CLERK1_UNIT, unit_code("B03"), *(unit_code(s) for s in ("B02", "B04", "B05", "B06"))}
    done = post(admin, f"{base}/assign", section="sy", units=posted)
    assert done.status_code == 302
    assert "已将 3 个单位归口到事业编制科" in text_of(admin.get(base))
    assert section_of(app, CLERK1_UNIT) == "sy" and section_of(app, A01) == "sy" and section_of(app, unit_code("B04")) == "sy"
    with app.app_context():
        entries = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.action == "section")
                                     .order_by(ChronicleEntry.id.desc()).limit(3)).all()
        assert {e.summary for e in entries} == {"归口科室由机关编制科调整为事业编制科"}
        assert {e.unit_id for e in entries} == {db.session.scalar(select(Unit.id).where(Unit.code == c))
                                                for c in (A01, CLERK1_UNIT, unit_code("B03"))}
        assert all(e.user_id is not None for e in entries)
    # one at a time: the same form with one unit
    assert post(admin, f"{base}/assign", section="jg", units=[CLERK1_UNIT]).status_code == 302
    assert section_of(app, CLERK1_UNIT) == "jg"
    assert count(app, ChronicleEntry, ChronicleEntry.action == "section") == chronicle_before + 4


@pytest.mark.parametrize("data,status,message", [
    ({"section": "jg", "units": [A01, YC_B01]}, 422, "绍兴市越城区图书馆属于越城区委编办，不能归口到柯桥区委编办的机关编制科"),
    ({"section": "jg", "units": [A01, "91330000NOPE0000X"]}, 422, "没有统一社会信用代码为 91330000NOPE0000X 的单位"),
    ({"section": "zz", "units": [A01]}, 404, "柯桥区委编办没有代码为「zz」的科室"),
    ({"section": "jg"}, 422, "请勾选要调整的单位，或选择一类单位"),
    ({"section": "jg", "kind": "群团组织"}, 422, "机构类别应为：党政机关、事业单位"),
])
def test_bad_assignments_are_refused_on_the_page_and_change_nothing(app, data, status, message):
    admin = login(app.test_client(), "admin")
    base = f"/admin/organisation/offices/{KEQIAO}/units"
    before = count(app, ChronicleEntry, ChronicleEntry.action == "section")
    for step in ("preview", "assign"):
        response = post(admin, f"{base}/{step}", **data)
        assert response.status_code == status, (step, text_of(response)[:300])
        assert message in text_of(response) and 'id="assign-form"' in response.get_data(as_text=True)
    assert section_of(app, A01) == "jg" and section_of(app, YC_B01) == "zh"
    assert count(app, ChronicleEntry, ChronicleEntry.action == "section") == before


def test_a_yuecheng_admin_cannot_manage_keqiao(app, api, yuecheng_admin):
    client = login(app.test_client(), yuecheng_admin)
    tree = text_of(client.get("/admin/organisation"))
    assert "越城区委编办" in tree and "柯桥区委编办" not in tree
    assert client.get(f"/admin/organisation/offices/{YUECHENG}").status_code == 200
    base = f"/admin/organisation/offices/{KEQIAO}"
    for path, data in [(base, None), (f"{base}/units", None), (f"{base}/sections", {"code": "x1", "name": "某科"}),
                       (f"{base}/sections/delete", {"section": "sy"}), (f"{base}/units/preview", {"section": "jg", "units": [A01]}),
                       (f"{base}/units/assign", {"section": "sy", "units": [A01]}),
                       (f"{base}/members", {"section": "jg", "username": "reviewer1", "duty": "reviewer"}),
                       (f"{base}/departments", {"code": "x1", "name": "某局"}),
                       (f"{base}/users/place", {"username": "reviewer_b1"})]:
        response = client.get(path) if data is None else post(client, path, **data)
        assert response.status_code == 403 and "您不能管理柯桥区委编办的组织设置" in text_of(response), path
    # nor from their own office's page: a 柯桥 unit 归口 to a 越城 section
    response = post(client, f"/admin/organisation/offices/{YUECHENG}/units/assign", section="zh", units=[A01])
    assert response.status_code == 422 and "绍兴市柯桥区委办公室属于柯桥区委编办，不能归口到越城区委编办的综合编制科" in text_of(response)
    assert section_of(app, A01) == "jg" and count(app, Section, Section.code == "x1") == 0
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.username == yuecheng_admin))
        with pytest.raises(Forbidden):
            org.assign_units(actor, [db.session.scalar(select(Unit).where(Unit.code == A01))],
                             org.section_by_code(org.office_by_code(KEQIAO), "sy"))
    # 柯桥's unheld tasks are not theirs either
    _empty_jg(app)
    case = start(api("clerk1"))
    assert case["number"] not in text_of(client.get("/admin/organisation/unheld"))
    refused = post(client, f"/admin/organisation/unheld/{only_task(case)}/assign", username="reviewer1")
    assert refused.status_code == 404


# ---------------------------------------------------------------- 无人办理

def _empty_jg(app):
    """jg (which owns clerk1's unit) without reviewers."""
    with app.app_context():
        jg = org.section_by_code(org.office_by_code(KEQIAO), "jg")
        db.session.execute(db.delete(SectionMember).where(SectionMember.section_id == jg.id,
                                                          SectionMember.duty == "reviewer"))
        db.session.commit()


def test_a_step_nobody_holds_goes_to_the_admin_who_assigns_it(app, api):
    admin = login(app.test_client(), "admin")
    for username in ("reviewer1", "reviewer2"):  # through the page: jg without reviewers
        assert post(admin, f"/admin/organisation/offices/{KEQIAO}/members/remove", section="jg", username=username,
                    duty="reviewer").status_code == 302
    case = start(api("clerk1"))
    task_id = only_task(case)
    with app.app_context():
        task = db.session.get(OpenTask, task_id)
        assert task.unheld and task.pool == "section" and task.assignee_id is None
        admin_id = db.session.scalar(select(User.id).where(User.username == "admin"))
        told = db.session.scalars(select(Notification).where(Notification.user_id == admin_id,
                                                             Notification.kind == "unheld")).all()
        assert [n.link for n in told] == ["/admin/organisation/unheld"] and case["number"] in told[0].title
    # nobody in jg may act on it
    assert decide(api("reviewer1"), task_id).status_code == 403
    page = admin.get("/admin/organisation/unheld")
    assert page.status_code == 200
    row = re.search(rf'<tr data-task="{task_id}">(.*?)</tr>', page.get_data(as_text=True), re.DOTALL).group(1)
    assert case["number"] in row and "机关编制科现无可办理人员" in text_of(page)
    assert 'value="reviewer1"' in row and 'value="reviewer2"' in row and 'value="leader1"' not in row
    assert "有 1 件待办无人办理" in text_of(admin.get("/admin/organisation"))
    # only someone who may hold it: the lane's role, of the office the step is routed to
    for username, message in [("leader1", "此环节由业务科室办理，傅国强不是业务科室"),
                              ("reviewer_b1", "邵越审不是柯桥区委编办的工作人员"),
                              ("ghost", "用户「ghost」不存在")]:
        refused = post(admin, f"/admin/organisation/unheld/{task_id}/assign", username=username)
        assert refused.status_code == 422 and message in text_of(refused), username
    with app.app_context():
        assert db.session.get(OpenTask, task_id).assignee_id is None
    assigned = post(admin, f"/admin/organisation/unheld/{task_id}/assign", username="reviewer1")
    assert assigned.status_code == 302
    assert "没有无人办理的待办" in text_of(admin.get("/admin/organisation/unheld"))
    with app.app_context():
        task = db.session.get(OpenTask, task_id)
        reviewer1 = db.session.scalar(select(User).where(User.username == "reviewer1"))
        assert task.assignee_id == reviewer1.id and not task.unheld and task.assigned_by.username == "admin"
        note = db.session.scalar(select(Notification).where(Notification.user_id == reviewer1.id,
                                                            Notification.kind == "assign"))
        assert note.link == f"/tasks/{task_id}" and "指派" in note.title and case["number"] in note.title
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "task.assign"))
        assert entry.detail["to"] == "reviewer1" and entry.detail["number"] == case["number"]
    again = post(admin, f"/admin/organisation/unheld/{task_id}/assign", username="reviewer2")
    assert again.status_code == 409 and "此任务已有可办理人员，无需指派" in text_of(again)
    # the assignee has it in the inbox and completes it; the case goes on to the leader
    assert task_id in [t["id"] for t in api("reviewer1").get("/api/v1/tasks").json]
    done = decide(api("reviewer1"), task_id)
    assert done.status_code == 200, done.json
    assert done.json["tasks"][0]["name"] == "分管领导审核"


def test_a_pool_emptied_after_the_step_opened_is_listed_too(app, api):
    case = start(api("clerk2"), unit=CLERK2_UNIT)  # B02: sy, reviewer2 alone
    task_id = only_task(case)
    admin = login(app.test_client(), "admin")
    assert case["number"] not in text_of(admin.get("/admin/organisation/unheld"))
    refused = post(admin, f"/admin/organisation/unheld/{task_id}/assign", username="reviewer1")
    assert refused.status_code == 409 and "此任务已有可办理人员" in text_of(refused)
    assert post(admin, f"/admin/organisation/offices/{KEQIAO}/members/remove", section="sy", username="reviewer2",
                duty="reviewer").status_code == 302
    page = text_of(admin.get("/admin/organisation/unheld"))
    assert case["number"] in page and "事业编制科现无可办理人员" in page
    with app.app_context():
        assert not db.session.get(OpenTask, task_id).unheld  # it was held when it opened
    # the city's admin sees its counties' unheld steps too, and may assign them
    city = login(app.test_client(), "city_admin1")
    assert case["number"] in text_of(city.get("/admin/organisation/unheld"))
    assert post(city, f"/admin/organisation/unheld/{task_id}/assign", username="reviewer2").status_code == 302
    assert decide(api("reviewer2"), task_id).status_code == 200


def test_a_claimer_deactivated_leaves_the_task_unheld(app, api):
    from bianzhi.accounts.operations import deactivate

    case = start(api("clerk2"), unit=CLERK2_UNIT)
    task_id = only_task(case)
    assert api("reviewer2").post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    with app.app_context():
        deactivate(db.session.scalar(select(User).where(User.username == "reviewer2")))
        db.session.commit()
    admin = login(app.test_client(), "admin")
    assert "指定的办理人账号已停用" in text_of(admin.get("/admin/organisation/unheld"))
    assert post(admin, f"/admin/organisation/unheld/{task_id}/assign", username="reviewer1").status_code == 302
    assert decide(api("reviewer1"), task_id).status_code == 200


def test_a_unit_without_clerks_is_listed_with_nobody_to_assign(app, api):
    from bianzhi.accounts.operations import deactivate

    case = approve_through(api("reviewer1"), api("leader1"), start(api("clerk1")))
    task_id = only_task(case)  # 落编登记, the unit's
    admin = login(app.test_client(), "admin")
    assert case["number"] not in text_of(admin.get("/admin/organisation/unheld"))
    with app.app_context():
        deactivate(db.session.scalar(select(User).where(User.username == "clerk1")))
        db.session.commit()
    page = admin.get("/admin/organisation/unheld")
    row = text_of(page).split(case["number"])[1]
    assert "申请单位现无可办理人员" in row and "没有可指派的人员：请先为申请单位开通经办人账号" in row
    refused = post(admin, f"/admin/organisation/unheld/{task_id}/assign", username="clerk2")
    assert refused.status_code == 422 and "沈丽娟不是申请单位的经办人" in text_of(refused)
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == CLERK1_UNIT))
        create_user("clerk1b", PASSWORD, "新经办人", ["unit_clerk"], unit)
        db.session.commit()
    assert case["number"] not in text_of(admin.get("/admin/organisation/unheld"))


# ---------------------------------------------------------------- the CLI

def run(app, *args):
    result = app.test_cli_runner().invoke(args=["org", *args])
    return result.exit_code, result.output


def test_cli_tree_and_offices(app, ctx):
    code, out = run(app, "tree")
    assert code == 0
    assert "绍兴市委编办（330600，市级）" in out and "  柯桥区委编办（330603，县（区）级）：11 个单位" in out
    assert "科室 jg 机关编制科：归口 7 个单位（科室成员：reviewer1、reviewer2；分管领导：leader1）" in out
    assert "联审部门 zzb 柯桥区委组织部：zzb1" in out and "科室 zh 综合编制科：归口 4 个单位" in out
    code, out = run(app, "office-add", "330681", "诸暨市委编办", "县级", "--parent", CITY)
    assert code == 0 and "已新建诸暨市委编办（330681，县（区）级，上级：绍兴市委编办）" in out
    code, out = run(app, "office-add", "330682", "某编办", "county", "--parent", KEQIAO)
    assert code == 1 and "县（区）级编办的上级应为市级编办" in out
    code, out = run(app, "office-add", "330684", "某编办", "county", "--parent", "999999")
    assert code == 1 and "编办「999999」不存在" in out
    code, out = run(app, "office-add", "330685", "某编办", "town", "--parent", CITY)
    assert code == 1 and "层级应为" in out
    assert db.session.scalar(select(func.count()).select_from(Office).where(Office.code.in_(["330682", "330684", "330685"]))) == 0
    assert "诸暨市委编办（330681" in run(app, "tree")[1]


def test_cli_sections_and_members(app, ctx):
    assert run(app, "section-add", KEQIAO, "zh", "综合科") == (0, "已为柯桥区委编办新建科室综合科（zh）\n")
    code, out = run(app, "section-add", KEQIAO, "zh", "又一个")
    assert code == 1 and "柯桥区委编办已有代码为 zh 的科室" in out
    code, out = run(app, "member-add", KEQIAO, "zh", "reviewer1", "--duty", "reviewer")
    assert code == 0 and "周建华已任综合科科室成员" in out
    code, out = run(app, "member-add", KEQIAO, "zh", "reviewer1", "--duty", "reviewer")
    assert code == 1 and "周建华已是综合科的科室成员" in out
    code, out = run(app, "member-add", KEQIAO, "zh", "reviewer_b1", "--duty", "reviewer")
    assert code == 1 and "不是柯桥区委编办的工作人员" in out
    code, out = run(app, "member-remove", KEQIAO, "zh", "reviewer1", "--duty", "reviewer")
    assert code == 0 and "周建华已不再是综合科的科室成员" in out
    code, out = run(app, "member-remove", KEQIAO, "zh", "reviewer1", "--duty", "reviewer")
    assert code == 1 and "周建华不是综合科的科室成员" in out
    code, out = run(app, "section-delete", KEQIAO, "jg")
    assert code == 1 and "机关编制科仍归口管理 7 个单位" in out
    code, out = run(app, "section-delete", KEQIAO, "nope")
    assert code == 1 and "柯桥区委编办没有代码为「nope」的科室" in out
    assert run(app, "section-delete", KEQIAO, "zh") == (0, "已删除科室综合科\n")
    code, out = run(app, "section-add", "000000", "zh", "综合科")
    assert code == 1 and "编办「000000」不存在" in out


def test_cli_assign_previews_and_applies(app, ctx):
    before = db.session.scalar(select(func.count()).select_from(ChronicleEntry))
    code, out = run(app, "assign", KEQIAO, "sy", CLERK1_UNIT, "--dry-run")
    assert code == 0
    assert f"{CLERK1_UNIT} 绍兴市柯桥区疾病预防控制中心：机关编制科 → 事业编制科" in out and "预览：将调整 1 个单位（未修改）" in out
    db.session.expire_all()
    assert section_of(app, CLERK1_UNIT) == "jg" and db.session.scalar(select(func.count()).select_from(ChronicleEntry)) == before
    code, out = run(app, "assign", KEQIAO, "sy", CLERK2_UNIT, "--kind", "事业单位")
    assert code == 0 and "已将 2 个单位归口到事业编制科，4 个已归口事业编制科不变" in out
    assert section_of(app, CLERK1_UNIT) == "sy" and section_of(app, unit_code("B03")) == "sy"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)) == before + 2
    # one bad unit refuses the whole command
    code, out = run(app, "assign", KEQIAO, "jg", CLERK1_UNIT, YC_B01)
    assert code == 1 and "绍兴市越城区图书馆属于越城区委编办，不能归口到柯桥区委编办的机关编制科" in out
    code, out = run(app, "assign", KEQIAO, "jg", CLERK1_UNIT, "NOPE")
    assert code == 1 and "没有统一社会信用代码为 NOPE 的单位" in out
    code, out = run(app, "assign", KEQIAO, "jg")
    assert code == 1 and "请勾选要调整的单位，或选择一类单位" in out
    assert section_of(app, CLERK1_UNIT) == "sy"


def test_cli_departments_and_placing_users(app, ctx):
    assert run(app, "department-add", KEQIAO, "ybj", "柯桥区医保局") == (0, "已为柯桥区委编办新建联审部门柯桥区医保局（ybj）\n")
    code, out = run(app, "department-delete", KEQIAO, "zzb")
    assert code == 1 and "柯桥区委组织部还有 1 名在用账号" in out
    code, out = run(app, "place", "zzb1", "--department", f"{KEQIAO}:ybj")
    assert code == 0 and "陈组织（zzb1）已归属柯桥区委编办柯桥区医保局" in out
    assert run(app, "department-delete", KEQIAO, "zzb") == (0, "已删除联审部门柯桥区委组织部\n")
    code, out = run(app, "place", "zzb1", "--department", f"{YUECHENG}:ybj")
    assert code == 1 and "越城区委编办没有代码为「ybj」的联审部门" in out
    code, out = run(app, "place", "reviewer_b1", "--office", KEQIAO)
    assert code == 1 and "邵越审已属于越城区委编办，一个用户只能属于一个编办" in out
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.username == "reviewer_b1")).office.code == YUECHENG
    code, out = run(app, "place", "reviewer_b1", "--office", KEQIAO, "--move")
    assert code == 0 and "邵越审（reviewer_b1）已归属柯桥区委编办" in out
    code, out = run(app, "place", "reviewer1")
    assert code == 1 and "请指定 --office 或 --department 之一" in out
    code, out = run(app, "place", "nobody", "--office", KEQIAO)
    assert code == 1 and "用户「nobody」不存在" in out
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.username == "reviewer_b1")).office.code == KEQIAO
