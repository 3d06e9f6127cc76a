"""The inbox: urgency order, filters that can be saved, counts in the navigation, keyset paging;
已办 / 我发起 / 抄送; claim and release, transfer, delegation while on leave, copies, urging."""
import re

from flask import request

from bianzhi.access import MATRIX
from bianzhi.accounts.operations import create_user
from bianzhi.demo_cases import load_cases
from bianzhi.extensions import db
from bianzhi.inbox import operations as inbox_operations
from tests.conftest import PASSWORD, csrf_token
from tests.fixtures.cases import CLERK2_UNIT, decide, only_task, start
from tests.fixtures.inbox import at, beijing, notes
from tests.fixtures.pages import task_links, text_of, user_client


def ids(response):
    assert response.status_code == 200, response.json
    return [t["id"] for t in response.json]


def add_user(app, username, name, roles):
    """A bureau user of 柯桥 in 机关编制科 (clerk1's unit's section), in its duties by their roles."""
    from bianzhi.organisation import operations as org

    with app.app_context():
        user = create_user(username, PASSWORD, name, roles)
        office = org.office_by_code("330603")
        org.place_user(None, user, office)
        for duty in ("reviewer", "leader"):
            if duty in roles:
                org.add_member(None, org.section_by_code(office, "jg"), user, duty)
        db.session.commit()
        db.session.remove()


def nav_count(page):
    return int(re.search(r'id="nav-inbox">待办<span class="badge">(\d+)', page.get_data(as_text=True)).group(1))


# --- order, filters, counts, paging -----------------------------------------------------

def test_tasks_come_overdue_first_then_by_due_date(app, api):
    clerk = api("clerk1")
    with at(beijing(2024, 9, 20)):
        a = only_task(start(clerk, count=1))  # due 27 September
    with at(beijing(2024, 10, 8)):
        b = only_task(start(clerk, count=1))  # due 14 October
    with at(beijing(2024, 9, 27)):
        c = only_task(start(clerk, count=1))  # due 10 October (over the National Day holiday)
    with at(beijing(2024, 10, 11)):
        listed = api("reviewer1").get("/api/v1/tasks").json
        page = user_client(app, "reviewer1").get("/inbox")
    assert [t["id"] for t in listed] == [a, c, b]
    assert [(t["due"], t["due_state"]) for t in listed] == [
        ("2024-09-27", "overdue"), ("2024-10-10", "overdue"), ("2024-10-14", "soon")]
    assert {"id", "case_id", "name", "lane", "due"} <= set(listed[0])  # the original fields stay
    assert task_links(page) == [a, c, b]
    assert re.findall(r'<tr class="due-row-(\w+)">', page.get_data(as_text=True)) == ["overdue", "overdue", "soon"]
    assert nav_count(page) == 3


def test_filters_narrow_the_inbox_and_can_be_saved(app, api):
    with at(beijing(2024, 9, 27)):
        mine = start(api("clerk1"), count=1)
        archive = start(api("clerk2"), unit=CLERK2_UNIT, count=1)
    with at(beijing(2024, 10, 9)):
        later = start(api("clerk1"), count=1)
    reviewer = api("reviewer2")  # of both sections: clerk1's unit's and clerk2's
    with at(beijing(2024, 10, 11)):
        assert ids(reviewer.get(f"/api/v1/tasks?unit={CLERK2_UNIT}")) == [only_task(archive)]
        assert set(ids(reviewer.get("/api/v1/tasks?due=overdue"))) == {only_task(mine), only_task(archive)}
        assert ids(reviewer.get(f"/api/v1/tasks?q={later['number']}")) == [only_task(later)]
        assert ids(reviewer.get("/api/v1/tasks?q=档案馆")) == [only_task(archive)]
        assert ids(reviewer.get("/api/v1/tasks?process=annual_plan")) == []
        bad = reviewer.get("/api/v1/tasks?due=someday")
        assert bad.status_code == 422 and "due" in bad.json["error"]["fields"]

        client = user_client(app, "reviewer2")
        token = csrf_token(client, "/inbox")
        response = client.post("/inbox/filters", data={"csrf_token": token, "name": "档案馆超期", "due": "overdue",
                                                       "unit": CLERK2_UNIT})
        assert response.status_code == 302
        page = client.get(response.headers["Location"])
        assert "已保存筛选条件「档案馆超期」" in text_of(page)
        saved = re.search(r'href="/inbox\?saved=(\d+)">档案馆超期<', page.get_data(as_text=True)).group(1)
        assert task_links(client.get(f"/inbox?saved={saved}")) == [only_task(archive)]
        assert len(task_links(client.get("/inbox"))) == 3
        # another user does not see it
        assert "档案馆超期" not in text_of(user_client(app, "reviewer1").get("/inbox"))
        token = csrf_token(client, "/inbox")
        assert client.post(f"/inbox/filters/{saved}/delete", data={"csrf_token": token}).status_code == 302
        assert "档案馆超期" not in text_of(client.get("/inbox"))


def test_keyset_paging_walks_every_task_once(api):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    for day in (20, 23, 24, 25, 26, 27, 30):
        with at(beijing(2024, 9, day)):
            start(clerk, count=1)
    everything = ids(reviewer.get("/api/v1/tasks"))
    seen, url = [], "/api/v1/tasks?limit=3"
    while url:
        response = reviewer.get(url)
        seen.extend(ids(response))
        cursor = response.headers.get("X-Next-Cursor")
        url = f"/api/v1/tasks?limit=3&after={cursor}" if cursor else None
        if cursor:
            assert 'rel="next"' in response.headers["Link"]
    assert seen == everything and len(seen) == 7
    bad = reviewer.get("/api/v1/tasks?after=not-a-cursor")
    assert bad.status_code == 422 and bad.json["error"]["fields"] == {"after": ["无效"]}
    assert reviewer.get("/api/v1/tasks?limit=0").status_code == 422


def test_the_page_pages_by_its_own_next_link(app, api, monkeypatch):
    clerk = api("clerk1")
    with at(beijing(2024, 9, 2)):
        for _ in range(3):
            start(clerk, count=1)
    monkeypatch.setattr(inbox_operations, "PAGE", 2)  # 50 in use; 2 keeps the test small
    client = user_client(app, "reviewer1")
    first = client.get("/inbox?due=overdue")
    more = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', first.get_data(as_text=True))
    assert more and len(task_links(first)) == 2
    second = client.get(more.group(1).replace("&amp;", "&"))
    assert len(task_links(second)) == 1 and "回到第一页" in text_of(second)
    assert task_links(first) + task_links(second) == ids(api("reviewer1").get("/api/v1/tasks"))


# --- claim, release, transfer -----------------------------------------------------------

def test_a_claimed_task_is_only_the_claimers(app, api):
    task = only_task(start(api("clerk1")))
    r1, r2 = api("reviewer1"), api("reviewer2")
    claimed = r1.post(f"/api/v1/tasks/{task}/claim")
    assert claimed.status_code == 200 and claimed.json["assignee"] == "reviewer1"
    assert ids(r2.get("/api/v1/tasks")) == []
    group = r2.get("/api/v1/tasks?scope=group").json
    assert [(t["id"], t["assignee"]) for t in group] == [(task, "reviewer1")]
    refused = decide(r2, task)
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == "此任务已由周建华认领或转交其办理，您无权办理"
    again = r2.post(f"/api/v1/tasks/{task}/claim")
    assert again.status_code == 409 and again.json["error"]["message"] == "此任务已由周建华认领"
    assert r2.post(f"/api/v1/tasks/{task}/release").status_code == 403
    assert ids(r1.get("/api/v1/tasks?scope=claimed")) == [task]
    assert r1.post(f"/api/v1/tasks/{task}/release").status_code == 200
    assert ids(r2.get("/api/v1/tasks")) == [task]
    assert decide(r2, task).status_code == 200
    done = api("clerk1").post(f"/api/v1/tasks/{task}/claim")
    assert done.status_code == 409 and done.json["error"]["message"].startswith("该任务已由陆佳怡于")


def test_claim_from_the_pages(app, api):
    task = only_task(start(api("clerk1")))
    client = user_client(app, "reviewer1")
    token = csrf_token(client, "/inbox")
    response = client.post(f"/tasks/{task}/claim", data={"csrf_token": token, "next": f"/tasks/{task}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/tasks/{task}"
    page = text_of(client.get(f"/tasks/{task}"))
    assert "已认领：" in page and "办理人：我（已认领）" in page
    other = text_of(user_client(app, "reviewer2").get("/inbox?scope=group"))
    assert "周建华（已认领）" in other
    assert client.post(f"/tasks/{task}/claim", data={"csrf_token": token}).status_code == 302
    assert "您已认领此任务" in text_of(client.get("/inbox"))
    assert client.post(f"/tasks/{task}/claim", data={}).status_code == 400  # CSRF


def test_a_transferred_task_leaves_the_old_inbox(app, api):
    task = only_task(start(api("clerk1")))
    r1, r2 = api("reviewer1"), api("reviewer2")
    assert r1.post(f"/api/v1/tasks/{task}/transfer", json={"to": "leader1"}).status_code == 422
    assert r1.post(f"/api/v1/tasks/{task}/transfer", json={"to": "reviewer1"}).status_code == 422
    assert r1.post(f"/api/v1/tasks/{task}/transfer", json={"to": "nobody"}).status_code == 422
    moved = r1.post(f"/api/v1/tasks/{task}/transfer", json={"to": "reviewer2", "note": "您熟悉该单位情况"})
    assert moved.status_code == 200 and moved.json["assignee"] == "reviewer2"
    assert ids(r1.get("/api/v1/tasks")) == [] and task_links(user_client(app, "reviewer1").get("/inbox")) == []
    assert ids(r2.get("/api/v1/tasks")) == [task]
    assert decide(r1, task).status_code == 403
    assert r1.post(f"/api/v1/tasks/{task}/transfer", json={"to": "reviewer1"}).status_code == 403
    assert notes(app, "reviewer2") == [("transfer", f"转办：周建华将「{moved.json['case_number']} 业务科室初审」转交您办理")]
    assert decide(r2, task).status_code == 200


def test_transfer_respects_the_reviewer_and_leader_separation(app, api):
    add_user(app, "leader2", "沈副主任", ["leader", "reviewer"])
    case = start(api("clerk1"))
    # leader2 (also a reviewer) does the initial review, so may not take the leader's step
    after = decide(api("leader2"), only_task(case)).json
    refused = api("leader1").post(f"/api/v1/tasks/{only_task(after)}/transfer", json={"to": "leader2"})
    assert refused.status_code == 422 and "回避" in str(refused.json["error"]["fields"])


def test_a_user_who_is_reviewer_and_leader_is_not_offered_the_leaders_step_of_their_own_review(app, api):
    add_user(app, "leader2", "沈副主任", ["leader", "reviewer"])
    both = api("leader2")
    case = start(api("clerk1"))
    assert ids(both.get("/api/v1/tasks")) == [only_task(case)]
    leader_task = only_task(decide(both, only_task(case)).json)
    assert decide(both, leader_task).status_code == 403
    # the inbox, the group queue, the API's list and the count all leave it out
    assert ids(both.get("/api/v1/tasks")) == [] and ids(both.get("/api/v1/tasks?scope=group")) == []
    client = user_client(app, "leader2")
    assert task_links(client.get("/inbox")) == [] and task_links(client.get("/inbox?scope=group")) == []
    assert nav_count(client.get("/inbox")) == 0
    assert ids(api("leader1").get("/api/v1/tasks")) == [leader_task]
    # nor may a colleague standing in for leader2 take it on their behalf
    with at(beijing(2024, 10, 8)):
        delegate_to(app, "leader2", "reviewer2")
        assert leader_task not in ids(api("reviewer2").get("/api/v1/tasks"))
        refused = decide(api("reviewer2"), leader_task)
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == "委托人沈副主任已在本案中担任初审，不能再作领导审核，您不能代为办理"


def test_the_inbox_lists_exactly_the_tasks_its_holder_may_do(app, api):
    """The inbox's SQL (OpenTask.actionable) and the predicate that completing checks
    (OpenTask.acting_for) agree for every user and every open task: claims, delegations, a user
    with two roles, a principal's 初审 done by a delegate."""
    from bianzhi.accounts.models import User
    from bianzhi.cases.models import OpenTask
    from sqlalchemy import select

    add_user(app, "leader2", "沈副主任", ["leader", "reviewer"])
    with at(beijing(2024, 10, 8)):
        clerk = api("clerk1")
        cases = [start(clerk) for _ in range(5)] + [start(api("clerk2"), unit=CLERK2_UNIT)]
        decide(api("leader2"), only_task(cases[0]))  # leader2's own 初审: then its leader step is not theirs
        assert api("reviewer1").post(f"/api/v1/tasks/{only_task(cases[1])}/claim").status_code == 200
        delegate_to(app, "reviewer1", "reviewer2")
        decide(api("reviewer2"), only_task(cases[1]))  # for reviewer1
        decide(api("reviewer1"), only_task(cases[2]))
        decide(api("reviewer2"), only_task(cases[3]), decision="return", opinion="请补正")
        assert api("reviewer2").post(f"/api/v1/tasks/{only_task(cases[4])}/claim").status_code == 200
        delegate_to(app, "leader1", "leader2")
        with app.app_context():
            users = db.session.scalars(select(User).order_by(User.id)).all()
            tasks = db.session.scalars(select(OpenTask)).all()
            assert len(tasks) == 6
            checked = 0
            for user in users:
                listed = set(db.session.scalars(inbox_operations.cases.inbox(user).with_only_columns(OpenTask.id)))
                for task in tasks:
                    assert (task.id in listed) == task.can_complete(user), (user.username, task.name, task.case_id)
                    checked += task.id in listed
            assert checked >= 8
            db.session.remove()


# --- delegation -----------------------------------------------------------------------

def test_a_delegate_acts_within_the_dates_and_the_record_says_on_whose_behalf(app, api):
    leader = user_client(app, "leader1")
    with at(beijing(2024, 10, 8)):
        token = csrf_token(leader, "/delegations")
        response = leader.post("/delegations", data={"csrf_token": token, "to": "reviewer2", "start_date": "2024-10-09",
                                                     "end_date": "2024-10-10", "note": "年休假"})
        assert response.status_code == 302
        assert "已委托陆佳怡在 2024-10-09 至 2024-10-10 代为办理" in text_of(leader.get("/delegations"))
        case = start(api("clerk1"))
        leader_task = only_task(decide(api("reviewer1"), only_task(case)).json)
    delegate = api("reviewer2")
    with at(beijing(2024, 10, 8, 17)):  # before the delegation starts
        assert leader_task not in ids(delegate.get("/api/v1/tasks"))
        assert decide(delegate, leader_task).status_code == 403
    with at(beijing(2024, 10, 11, 9)):  # after it ended
        assert leader_task not in ids(delegate.get("/api/v1/tasks"))
        assert decide(delegate, leader_task).status_code == 403
    with at(beijing(2024, 10, 10, 16)):
        assert leader_task in ids(delegate.get("/api/v1/tasks"))
        done = decide(delegate, leader_task, opinion="同意（代签）")
    assert done.status_code == 200, done.json
    last = done.json["history"][-1]
    assert (last["username"], last["on_behalf_of"], last["step"]) == ("reviewer2", "leader1", "分管领导审核")
    page = text_of(user_client(app, "clerk1").get(f"/cases/{case['id']}"))
    assert "分管领导审核 陆佳怡（代傅国强） 同意 同意（代签）" in page
    assert "陆佳怡受委托代办" in text_of(leader.get("/inbox/done"))
    assert notes(app, "reviewer2", "delegation") == [
        ("delegation", "委托：傅国强在 2024-10-09 至 2024-10-10 期间委托您代为办理其待办")]


def test_a_delegate_is_still_bound_by_separation_and_delegations_are_checked(app, api):
    with at(beijing(2024, 10, 8)):
        leader = api("leader1")
        client = user_client(app, "leader1")
        token = csrf_token(client, "/delegations")
        client.post("/delegations", data={"csrf_token": token, "to": "reviewer1", "start_date": "2024-10-08",
                                          "end_date": "2024-10-20"})
        case = start(api("clerk1"))
        task = only_task(decide(api("reviewer1"), only_task(case)).json)
        # reviewer1 did the initial review: standing in for the leader does not lift that
        assert decide(api("reviewer1"), task).status_code == 403
        for form, message in [({"to": "clerk1"}, "不是编办工作人员"), ({"to": "reviewer2", "start_date": "2024-10-20",
                                                                   "end_date": "2024-10-10"}, "结束日期不能早于开始日期"),
                              ({"to": "reviewer2"}, "时间重叠")]:
            data = {"csrf_token": token, "start_date": "2024-10-09", "end_date": "2024-10-12", **form}
            page = client.get(client.post("/delegations", data=data).headers["Location"])
            assert message in text_of(page), (form, text_of(page)[:300])
        assert leader.get("/api/v1/me").status_code == 200
        clerk = user_client(app, "clerk1")
        token = csrf_token(clerk, "/delegations")
        clerk.post("/delegations", data={"csrf_token": token, "to": "clerk1", "start_date": "2024-10-09",
                                         "end_date": "2024-10-12"})
        assert "只有业务科室和分管领导可以设置委托" in text_of(clerk.get("/delegations"))


def delegate_to(app, principal, delegate, start="2024-10-08", end="2024-10-20"):
    client = user_client(app, principal)
    response = client.post("/delegations", data={"csrf_token": csrf_token(client, "/delegations"), "to": delegate,
                                                 "start_date": start, "end_date": end})
    assert response.status_code == 302 and "已委托" in text_of(client.get("/delegations"))


def test_the_principal_of_the_initial_review_may_not_take_the_leaders_step(app, api):
    """Separation of duties counts the person on whose behalf a step was done: reviewer1's
    初审, done by reviewer2 standing in for them, bars reviewer1 from the 分管领导 step, even as
    leader1's delegate."""
    with at(beijing(2024, 10, 8)):
        case = start(api("clerk1"))
        review = only_task(case)
        assert api("reviewer1").post(f"/api/v1/tasks/{review}/claim").status_code == 200
        delegate_to(app, "reviewer1", "reviewer2")
        done = decide(api("reviewer2"), review)
        assert done.status_code == 200, done.json
        assert (done.json["history"][-1]["username"], done.json["history"][-1]["on_behalf_of"]) == ("reviewer2", "reviewer1")
        leader_task = only_task(done.json)
        delegate_to(app, "leader1", "reviewer1")
        reviewer1 = api("reviewer1")
        assert leader_task not in ids(reviewer1.get("/api/v1/tasks"))
        assert leader_task not in task_links(user_client(app, "reviewer1").get("/inbox"))
        refused = decide(reviewer1, leader_task)
        assert refused.status_code == 403
        assert refused.json["error"]["message"] == "已在本案中担任初审，不能再作领导审核"
        # nor may reviewer2, who did that 初审, take the leader's step for leader1
        delegate_to(app, "leader1", "reviewer2", start="2024-10-21", end="2024-10-22")
    with at(beijing(2024, 10, 21)):
        assert leader_task not in ids(api("reviewer2").get("/api/v1/tasks"))
        assert decide(api("reviewer2"), leader_task).status_code == 403
        assert decide(api("leader1"), leader_task).status_code == 200


def test_revoking_a_delegation_ends_it(app, api):
    with at(beijing(2024, 10, 8)):
        client = user_client(app, "leader1")
        token = csrf_token(client, "/delegations")
        client.post("/delegations", data={"csrf_token": token, "to": "reviewer2", "start_date": "2024-10-08",
                                          "end_date": "2024-10-20"})
        case = start(api("clerk1"))
        task = only_task(decide(api("reviewer1"), only_task(case)).json)
        assert task in ids(api("reviewer2").get("/api/v1/tasks"))
        delegation = re.search(r'action="/delegations/(\d+)/revoke"', client.get("/delegations")
                               .get_data(as_text=True)).group(1)
        client.post(f"/delegations/{delegation}/revoke", data={"csrf_token": token})
        assert task not in ids(api("reviewer2").get("/api/v1/tasks"))


# --- copies and urging ------------------------------------------------------------------

def test_copy_a_case_for_information(app, api):
    case = start(api("clerk1"))
    reviewer = api("reviewer1")
    copied = reviewer.post(f"/api/v1/cases/{case['id']}/cc", json={"to": ["leader1"], "note": "请知悉"})
    assert copied.status_code == 201 and copied.json[0]["to"] == "leader1"
    assert reviewer.post(f"/api/v1/cases/{case['id']}/cc", json={"to": ["leader1"]}).status_code == 409
    refused = reviewer.post(f"/api/v1/cases/{case['id']}/cc", json={"to": ["clerk2"]})
    assert refused.status_code == 422
    assert refused.json["error"]["fields"]["to"] == ["沈丽娟无权查看此案件，不能抄送"]
    assert api("auditor1").post(f"/api/v1/cases/{case['id']}/cc", json={"to": ["leader1"]}).status_code == 403
    assert api("clerk2").post(f"/api/v1/cases/{case['id']}/cc", json={"to": ["leader1"]}).status_code == 404
    assert notes(app, "leader1") == [("cc", f"抄送：周建华抄送「{case['number']} {case['title']}」供您知悉")]
    leader = user_client(app, "leader1")
    listing = leader.get("/inbox/cc")
    assert f"{case['number']} 未读" in text_of(listing) and 'id="nav-cc">抄送<span class="badge">1<' in \
        listing.get_data(as_text=True)
    link = re.search(r'href="(/inbox/cc/\d+)"', listing.get_data(as_text=True)).group(1)
    assert leader.get(link).headers["Location"].endswith(f"/cases/{case['id']}")
    assert "未读" not in text_of(leader.get("/inbox/cc"))


def test_urging_notifies_the_holders_and_is_rate_limited(app, api):
    with at(beijing(2024, 10, 8, 9)):
        case = start(api("clerk1"))
    clerk = api("clerk1")
    with at(beijing(2024, 10, 9, 10)):
        urged = clerk.post(f"/api/v1/cases/{case['id']}/urge", json={"note": "急需人员到岗"})
        assert urged.status_code == 201 and urged.json[0]["step"] == "业务科室初审"
        again = clerk.post(f"/api/v1/cases/{case['id']}/urge")
        assert again.status_code == 429 and again.json["error"]["code"] == "rate_limited"
        assert again.json["error"]["message"] == "您已于 2024-10-09 10:00 催办过「业务科室初审」，24 小时内只能催办一次"
        assert api("clerk2").post(f"/api/v1/cases/{case['id']}/urge").status_code == 404
        assert api("reviewer2").post(f"/api/v1/cases/{case['id']}/urge").status_code == 403
        assert api("leader1").post(f"/api/v1/cases/{case['id']}/urge").status_code == 201  # a leader too
    expected = ("urge", f"催办：钱晓峰催办「{case['number']} 业务科室初审」，办理期限 2024-10-14")
    assert notes(app, "reviewer1")[0] == expected and notes(app, "reviewer2")[0] == expected
    assert notes(app, "clerk1") == []
    with at(beijing(2024, 10, 10, 10, 1)):
        assert clerk.post(f"/api/v1/cases/{case['id']}/urge").status_code == 201
    # claimed: only the claimer hears
    api("reviewer1").post(f"/api/v1/tasks/{only_task(case)}/claim")
    with at(beijing(2024, 10, 11, 11)):
        assert clerk.post(f"/api/v1/cases/{case['id']}/urge").status_code == 201
    # reviewer1: the clerk's three and the leader's one; reviewer2 missed the last (claimed)
    assert len(notes(app, "reviewer1", "urge")) == 4 and len(notes(app, "reviewer2", "urge")) == 3
    # the record on the case page
    page = text_of(user_client(app, "clerk1").get(f"/cases/{case['id']}"))
    assert "钱晓峰 2024-10-09 10:00 催办「业务科室初审」（急需人员到岗）" in page
    # a returned case waits for the unit: the clerk has nothing to urge
    returned = decide(api("reviewer1"), only_task(case), "return", "请补充材料")
    assert clerk.post(f"/api/v1/cases/{returned.json['id']}/urge").json["error"]["code"] == "own_step"


def test_urge_from_the_case_page(app, api):
    case = start(api("clerk1"))
    client = user_client(app, "clerk1")
    token = csrf_token(client, f"/cases/{case['id']}")
    response = client.post(f"/cases/{case['id']}/urge", data={"csrf_token": token, "note": ""})
    assert response.status_code == 302
    assert "已催办：业务科室初审" in text_of(client.get(f"/cases/{case['id']}"))
    client.post(f"/cases/{case['id']}/urge", data={"csrf_token": token})
    assert "24 小时内只能催办一次" in text_of(client.get(f"/cases/{case['id']}"))


# --- 已办 / 我发起 ------------------------------------------------------------------------

def test_done_and_started_lists(app, api):
    case = start(api("clerk1"))
    decide(api("reviewer1"), only_task(case), opinion="材料齐全")
    done = text_of(user_client(app, "reviewer1").get("/inbox/done"))
    assert f"{case['number']} {case['title']} 业务科室初审 同意 材料齐全" in done
    assert "暂无已办事项" in text_of(user_client(app, "reviewer2").get("/inbox/done"))
    started = text_of(user_client(app, "clerk1").get("/inbox/started"))
    assert f"{case['number']} {case['title']} 在审 分管领导审核" in started
    assert case["number"] not in text_of(user_client(app, "clerk2").get("/inbox/started"))


def test_every_inbox_page_renders_for_every_role(app):
    """With the demo's cases of every process in every state."""
    with app.app_context():
        load_cases()
        db.session.commit()
        db.session.remove()
    pages = ["/inbox", "/inbox?scope=group", "/inbox?due=soon&q=空编", "/inbox/done", "/inbox/started",
             "/inbox/cc", "/reminders", "/reminders?months=36", "/delegations", "/notifications"]
    role_of = {"clerk1": "unit_clerk", "clerk2": "unit_clerk", "reviewer1": "reviewer", "leader1": "leader",
               "admin": "admin", "auditor1": "auditor"}
    for username, role in role_of.items():
        client = user_client(app, username)
        for path in pages:
            response = client.get(path)
            with app.test_request_context(path):
                rule = MATRIX[request.url_rule.endpoint]
            # 待办 and 已办 are for those who act on tasks, 我发起 for those who start cases
            expected = 200 if role in rule.roles else 403
            assert response.status_code == expected, (username, path, text_of(response)[:300])
        for link in task_links(client.get("/inbox"))[:3]:
            assert client.get(f"/tasks/{link}").status_code == 200
