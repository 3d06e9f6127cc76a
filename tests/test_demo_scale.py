"""The scale generator (bianzhi.demo_scale) at 1/100 of a district: what it writes is a
consistent ledger the platform reads like any other, in the organisation's shape (offices,
sections, 归口, every open task routed as routing.route routes it, each inbox its own), and it
refuses to run twice."""
from collections import Counter
from types import SimpleNamespace

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from bianzhi import demo_scale
from bianzhi.accounts.models import User, UserRole
from bianzhi.cases.models import Case, CaseStep, OpenTask
from bianzhi.extensions import db
from bianzhi.inbox import operations as inbox
from bianzhi.ledger import idnumber
from bianzhi.ledger import operations as ledger
from bianzhi.ledger.models import Establishment, Person, Unit
from bianzhi.organisation import routing
from bianzhi.organisation.models import Office, Section, SectionMember
from tests.conftest import PASSWORD


def generated_units():
    return db.session.scalars(select(Unit).where(Unit.code.like(demo_scale.CODE_PREFIX + "%")).order_by(Unit.id)).all()


def test_sizes_scale_by_ten():
    assert demo_scale.sizes("district") == {"units": 500, "people": 20_000, "finished": 10_000, "open": 500}
    assert demo_scale.sizes("province") == {"units": 50_000, "people": 2_000_000, "finished": 1_000_000,
                                            "open": 50_000}
    assert demo_scale.sizes(0.01) == {"units": 5, "people": 200, "finished": 100, "open": 5}


def test_a_small_scale_is_a_consistent_ledger(ctx):
    counts = demo_scale.generate(0.01, progress=lambda _: None)
    db.session.commit()
    units = generated_units()
    assert len(units) == counts["units"] == 5
    root, *children = units  # all five in the one generated county (the city's tenth rounds to none)
    assert root.parent_id is None and {u.parent_id for u in children} == {root.id}
    assert len({u.office_id for u in units}) == 1
    ids = [u.id for u in units]

    cases = db.session.execute(select(Case.state, Case.finished_at).where(Case.number.like("GEN-%"))).all()
    assert len(cases) == counts["cases"] == 105
    assert sum(1 for state, done in cases if state == "running" and done is None) == 5
    assert all(done is not None for state, done in cases if state != "running")
    steps = db.session.scalar(select(func.count()).select_from(CaseStep).join(Case, Case.id == CaseStep.case_id)
                              .where(Case.number.like("GEN-%")))
    assert steps == counts["case_steps"] == 200  # two recorded steps per finished case

    people = db.session.execute(select(Person.id_number, Person.status, Person.unit_id, Person.category)
                                .where(Person.unit_id.in_(ids))).all()
    assert len(people) == counts["people"]
    assert len({p.id_number for p in people}) == len(people)
    assert all(idnumber.parse(p.id_number) for p in people)
    left = sum(1 for p in people if p.status == "left")
    assert 0 < left < len(people) * 0.2
    # the figures the platform computes match the people written, unit by unit
    for unit in units:
        figures = {f["category"]: f["on_roll"] for f in ledger.figures(unit)}
        on_roll = {}
        for p in people:
            if p.unit_id == unit.id and p.status == "on_roll":
                on_roll[p.category] = on_roll.get(p.category, 0) + 1
        assert figures == {c: on_roll.get(c, 0) for c in figures}
        assert set(on_roll) <= set(figures)
    assert db.session.scalar(select(func.count()).select_from(Establishment)
                             .where(Establishment.unit_id.in_(ids))) == counts["establishments"]

    # the open tasks are in the inbox like any other
    tasks = db.session.scalars(select(OpenTask).join(Case, Case.id == OpenTask.case_id)
                               .where(Case.number.like("GEN-%"))).all()
    assert len(tasks) == counts["open_tasks"] == 5
    for task in tasks:  # each in the inbox of every reviewer (leader) of its unit's section
        if task.pool not in ("section", "section_leader"):
            continue
        duty = "reviewer" if task.pool == "section" else "leader"
        holders = db.session.scalars(select(User).join(SectionMember, SectionMember.user_id == User.id)
                                     .where(SectionMember.section_id == task.section_id,
                                            SectionMember.duty == duty)).all()
        assert holders
        for user in holders:
            if task.assignee_id in (None, user.id):
                rows, _ = inbox.page(user, inbox.Filters(), limit=1000)
                assert task.id in {t.id for t in rows}, (user.username, task.name)
    # the demo's own offices are as they were: reviewer1's inbox has no generated step
    reviewer1 = db.session.scalar(select(User).where(User.username == "reviewer1"))
    rows, _ = inbox.page(reviewer1, inbox.Filters(), limit=1000)
    assert not {t.id for t in rows} & {t.id for t in tasks}


def test_the_command_refuses_a_second_generation(app, ctx):
    demo_scale.generate(0.01, progress=lambda _: None)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["demo", "--password", "pw123456", "--scale", "district"])
    assert result.exit_code == 1
    assert "已有生成的规模数据" in result.output
    db.session.remove()
    assert len(generated_units()) == 5


def test_the_shapes_offices():
    """Each shape's offices, as the docstring says: the province is 1 + 11 + 90 offices with the
    demo's city one of the 11 (its two demo counties among the 90)."""
    for shape, cities, counties in (("district", 0, 1), ("city", 0, 8), ("province", 10, 88)):
        plan = demo_scale.offices_plan(shape)
        levels = Counter(level for _code, _name, level, _parent in plan)
        assert levels == Counter({"province": 1 if shape == "province" else 0, "city": cities, "county": counties})
        assert len({code for code, *_ in plan} | {"330600", "330602", "330603"}) == len(plan) + 3
        for code, _name, level, parent in plan:
            assert parent is None if level == "province" else parent in {c for c, *_ in plan} | {"330600"}


def test_the_city_shape_routes_every_task_to_its_holders(ctx):
    """The city shape: every generated unit is in an office's jurisdiction and 归口 to a section
    of that office (by kind); every open task is routed as routing.route routes its step; a
    county reviewer's inbox (OpenTask.actionable) holds its own sections' tasks only, all of
    them; the steps reported up are the city's reviewers'."""
    counts = demo_scale.generate(0.1, shape="city", password=PASSWORD, progress=lambda _: None)
    db.session.commit()
    assert counts["offices"] == 8 and counts["open_tasks"] == 50
    city = db.session.scalar(select(Office).where(Office.code == demo_scale.DEMO_CITY))
    offices = {o.id: o for o in db.session.scalars(select(Office).where(Office.path.startswith(city.path)))}
    counties = [o for o in offices.values() if o.level == "county" and o.code[-2:] >= "81"]
    assert len(counties) == 8 and all(o.parent_id == city.id and o.path == f"{city.path}{o.id}/" for o in counties)
    sections = {s.id: s for s in db.session.scalars(select(Section))}

    units = generated_units()
    assert len(units) == 50
    assert {u.office_id for u in units} == {city.id} | {o.id for o in counties}
    assert sum(1 for u in units if u.office_id == city.id) == 5  # a tenth in the city office
    for unit in units:
        section = sections[unit.section_id]
        assert section.office_id == unit.office_id
        assert (section.code == "jg") == (unit.kind == "党政机关")
    by_id = {u.id: u for u in units}
    assert all(c.office_id == by_id[c.unit_id].office_id
               for c in db.session.scalars(select(Case).where(Case.number.like("GEN-%"))))

    # every open task's routing is what routing.route gives its step on its case
    tasks = db.session.scalars(select(OpenTask).join(Case, Case.id == OpenTask.case_id)
                               .where(Case.number.like("GEN-%"))).all()
    assert Counter(t.pool for t in tasks).keys() == {"section", "section_leader", "unit", "office"}
    for task in tasks:
        unit = by_id[task.case.unit_id]
        element = SimpleNamespace(name=task.name, lane=task.lane,
                                  properties={"assignment": "office_above"} if task.bpmn_id == "Task_above" else {})
        expected = routing.route(task.case, element, task.role)
        assert (task.pool, task.office_id, task.section_id, task.unheld) == (
            expected["pool"], expected["office_id"], expected["section_id"], False), task.name
        if task.pool in ("section", "section_leader"):
            assert task.section_id == unit.section_id
        if task.pool == "office":  # reported up: the county's city
            assert task.office_id == city.id and offices[unit.office_id].parent_id == city.id
        assert routing.pool_users(task), task.name  # somebody holds every routed step

    # each county reviewer's inbox: its sections' tasks, every one of them, nothing else
    reviewers = db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == "reviewer", User.office_id.in_([o.id for o in counties]))).all()
    assert len(reviewers) >= 8 * 4
    seen = 0
    for reviewer in reviewers:
        mine = set(reviewer.section_ids("reviewer"))
        assert mine and all(sections[s].office_id == reviewer.office_id for s in mine)
        inbox_ids = set(db.session.scalars(select(OpenTask.id).from_statement(OpenTask.actionable(reviewer))).all())
        expected = {t.id for t in tasks if t.pool == "section" and t.section_id in mine
                    and t.assignee_id in (None, reviewer.id)}
        assert inbox_ids == expected, reviewer.username
        seen += len(inbox_ids)
    assert seen  # the check saw tasks
    # the city's reviewers act on the steps reported up to the city (and their sections' own)
    above = {t.id for t in tasks if t.pool == "office"}
    city_reviewer = db.session.scalar(select(User).where(User.username == "r330600jg1"))
    city_inbox = set(db.session.scalars(select(OpenTask.id).from_statement(OpenTask.actionable(city_reviewer))).all())
    assert above and above <= city_inbox
    assert all(by_id[t.case.unit_id].office_id == city.id for t in tasks if t.id in city_inbox - above)


def test_the_province_shape(ctx):
    """1 province office over 11 cities (the demo's among them, moved under it with its
    counties) over 90 counties; ~9 bureau users an office, each able to sign in with the demo
    password; the demo's own users keep their inboxes."""
    before = set(db.session.scalars(select(OpenTask.id).from_statement(
        OpenTask.actionable(db.session.scalar(select(User).where(User.username == "reviewer1"))))).all())
    counts = demo_scale.generate(0.01, shape="province", password=PASSWORD, progress=lambda _: None)
    db.session.commit()
    province = db.session.scalar(select(Office).where(Office.code == "330000"))
    assert province.level == "province" and province.parent_id is None and province.path == f"/{province.id}/"
    offices = db.session.scalars(select(Office)).all()
    assert Counter(o.level for o in offices) == {"province": 1, "city": 11, "county": 90}
    by_id = {o.id: o for o in offices}
    for office in offices:  # every path is its parent's and its own id: the subtree queries hold
        parent = by_id.get(office.parent_id)
        assert office.path == f"{parent.path if parent else '/'}{office.id}/"
        assert (parent.level if parent else None) == {"province": None, "city": "province", "county": "city"}[office.level]
    assert len(province.subtree_ids()) == 102
    bureau = counts["bureau_users"]
    assert 800 <= bureau <= 1100
    user = db.session.scalar(select(User).where(User.username == "r330181jg1"))
    assert check_password_hash(user.password_hash, PASSWORD)
    assert user.office.code == "330181" and user.section_ids("reviewer")
    reviewer1 = db.session.scalar(select(User).where(User.username == "reviewer1"))
    assert set(db.session.scalars(select(OpenTask.id).from_statement(OpenTask.actionable(reviewer1))).all()) == before
