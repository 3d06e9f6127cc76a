"""Real concurrency: two reviewers on one task, two cases taking the last places.
Exactly one wins; the other gets a clear message; nothing is doubled or half-written."""

import pytest
from sqlalchemy import func, select

from bianzhi.cases.models import CaseStep
from bianzhi.extensions import db
from bianzhi.ledger.models import ChronicleEntry, Reservation
from tests.fixtures.cases import CLERK1_UNIT, decide, only_task, start
from tests.fixtures.race import race

# threads racing on separate connections: each must see the others' commits and wait on their locks
pytestmark = pytest.mark.commits




def test_two_reviewers_complete_the_same_task(api, ctx):
    case = start(api("clerk1"))
    task = only_task(case)
    r1, r2 = api("reviewer1"), api("reviewer2")
    responses = race(lambda: decide(r1, task), lambda: decide(r2, task))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.json for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json["error"]
    assert loser["code"] == "already_done" and "该任务已由" in loser["message"]
    again = race(lambda: decide(r1, task), lambda: decide(r2, task))
    assert [r.status_code for r in again] == [409, 409]
    steps = db.session.scalar(select(func.count()).select_from(CaseStep).where(
        CaseStep.case_id == case["id"], CaseStep.bpmn_id == "Task_review"))
    assert steps == 1
    after = api("clerk1").get(f"/api/v1/cases/{case['id']}").json
    assert [t["name"] for t in after["tasks"]] == ["分管领导审核"]


def test_two_cases_race_for_the_last_places(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    # 7 places vacant: two applications of 4 each fit alone, not together
    tasks = []
    for _ in range(2):
        case = start(clerk, count=4)
        tasks.append((case["id"], only_task(decide(reviewer, only_task(case)).json)))
    leader_a, leader_b = api("leader1"), api("leader1")
    responses = race(lambda: decide(leader_a, tasks[0][1]), lambda: decide(leader_b, tasks[1][1]))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.json for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json
    loser = next(r for r in responses if r.status_code == 409).json["error"]
    assert winner["state"] == "approved"
    assert loser["code"] == "no_vacancy"
    assert loser["message"] == ("绍兴市柯桥区疾病预防控制中心事业编制空编不足：核定 40 名，在编 33 名，"
                                "已预留 4 名，空编 3 名，本次申请 4 名")
    # the loser is exactly where it was: still at the leader's step, nothing reserved for it
    lost_id = next(cid for cid, _ in tasks if cid != winner["id"])
    lost = clerk.get(f"/api/v1/cases/{lost_id}").json
    assert lost["state"] == "running" and [t["name"] for t in lost["tasks"]] == ["分管领导审核"]
    assert [h["decision"] for h in lost["history"]] == ["submit", "approve"]
    assert db.session.scalar(select(func.sum(Reservation.count))) == 4
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)) == 1
    figures = clerk.get(f"/api/v1/units/{CLERK1_UNIT}/establishment").json[0]
    assert (figures["reserved"], figures["vacancy"]) == (4, 3)
