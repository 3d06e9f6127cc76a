"""The scale generator (bianzhi.demo_scale) at 1/100 of a district: what it writes is a
consistent ledger the platform reads like any other, and it refuses to run twice."""
from sqlalchemy import func, select

from bianzhi import demo_scale
from bianzhi.accounts.models import User
from bianzhi.cases.models import Case, CaseStep, OpenTask
from bianzhi.extensions import db
from bianzhi.inbox import operations as inbox
from bianzhi.ledger import idnumber
from bianzhi.ledger import operations as ledger
from bianzhi.ledger.models import Establishment, Person, Unit


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
    root, *children = units
    assert root.parent_id is None and {u.parent_id for u in children} == {root.id}
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
    reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
    expected = {t.id for t in tasks if t.role == "reviewer" and t.assignee_id is None}
    rows, _ = inbox.page(reviewer, inbox.Filters(), limit=1000)
    assert expected <= {t.id for t in rows}


def test_the_command_refuses_a_second_generation(app, ctx):
    demo_scale.generate(0.01, progress=lambda _: None)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["demo", "--password", "pw123456", "--scale", "district"])
    assert result.exit_code == 1
    assert "已有生成的规模数据" in result.output
    db.session.remove()
    assert len(generated_units()) == 5
