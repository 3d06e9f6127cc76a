"""Cases, their open tasks, their history (opinions) and attachments."""
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, false, or_, select
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from .. import clock
from ..accounts.models import ROLES
from ..extensions import db
from ..inbox.models import Delegation
from ..ledger.policy import setting
from ..workdays import add_workdays

STATES = ("running", "approved", "rejected", "withdrawn", "completed")
STATE_LABELS = {"running": "在审", "approved": "已核准", "rejected": "不予通过",
                "withdrawn": "已撤回", "completed": "已办结"}
DECISION_LABELS = {"approve": "同意", "return": "退回补正", "reject": "不予通过", "submit": "提交",
                   "withdraw": "撤回", "timeout": "逾期自动办结"}
NO_LIMIT = date(9999, 12, 31)  # OpenTask.sort_due of a step without a deadline


def sort_due_of(due_date):
    """The inbox's sort key for a due date: the date itself, or NO_LIMIT (never NULL)."""
    return due_date or NO_LIMIT


def _sort_due(context):
    return sort_due_of(context.get_current_parameters().get("due_date"))


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("state in ('running','approved','rejected','withdrawn','completed')",
                        name="state_known"),
        # running cases are unfinished, rejected/withdrawn/completed ones finished; an approved
        # case may still be running (registration ahead) or finished (an approved plan)
        CheckConstraint("state <> 'running' OR finished_at IS NULL", name="running_unfinished"),
        CheckConstraint("state not in ('rejected','withdrawn','completed') OR finished_at IS NOT NULL",
                        name="closed_finished"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    process_key: Mapped[str] = mapped_column(String(64), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)  # the unit's, at start
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="running")
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # latest application data, for display
    workflow_json: Mapped[str] = deferred(mapped_column(Text))  # serializer output, byte for byte
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": revision}

    version = relationship("ProcessVersion", lazy="joined")
    unit = relationship("Unit", lazy="joined")
    started_by = relationship("User")
    steps = relationship("CaseStep", order_by="CaseStep.id", viewonly=True)  # loaded when read
    open_tasks = relationship("OpenTask", order_by="OpenTask.created_at", viewonly=True)

    @property
    def state_label(self):
        return STATE_LABELS[self.state]

    @property
    def overdue(self):
        return any(t.due_state == "overdue" for t in self.open_tasks)

    def can_view(self, user):
        """Bureau staff and supervisors: the cases of their office's jurisdiction and below;
        a partner department: the cases routed to it; a clerk: their unit's (organisation.scope)."""
        from ..organisation import scope

        if user.reads_all_units:
            return (self.office_id is not None and self.office_id == user.home_office_id) \
                or scope.reads_office(user, self.office_id)
        if user.has_role("partner") and scope.routed_to_department(self.id, user.partner_department_id):
            return True
        return user.has_role("unit_clerk") and user.unit_id == self.unit_id


class OpenTask(db.Model):
    """A ready human task; the inbox reads only this table, never workflow blobs.

    `assignee` is set when someone claims the task (认领) or it is transferred (转办) to them:
    then only they (or whoever stands in for them, 委托) may act. The inbox sorts and pages on
    (sort_due, created_at, id), an indexed copy of due_date that is never NULL."""
    __tablename__ = "open_tasks"
    __table_args__ = (Index("ix_open_tasks_urgency", "sort_due", "created_at", "id"),
                      Index("ix_open_tasks_role_urgency", "role", "sort_due", "created_at", "id"),
                      Index("ix_open_tasks_assignee_id", "assignee_id"),
                      # a reviewer's or leader's inbox: their sections' tasks, most urgent first
                      Index("ix_open_tasks_section_urgency", "section_id", "sort_due", "created_at", "id"),
                      Index("ix_open_tasks_office_urgency", "office_id", "sort_due", "created_at", "id"),
                      Index("ix_open_tasks_partner_department_id", "partner_department_id"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the engine's task UUID
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # set for the unit lane
    form_key: Mapped[str | None] = mapped_column(String(64))
    due_date: Mapped[date | None]
    sort_due: Mapped[date] = mapped_column(default=_sort_due)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    # routing (organisation.routing): who holds the step, decided when it opens. `pool` is one of
    # unit (the case's unit's clerks), section (the reviewers of section_id), section_leader (its
    # leaders in charge), office (the role's users of office_id), department (the partner
    # department's users), user (the assignee alone). `unheld`: nobody could hold it when it
    # opened, so the office's admins were told (无人办理).
    pool: Mapped[str] = mapped_column(String(16), default="office", server_default="office")
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    partner_department_id: Mapped[int | None] = mapped_column(ForeignKey("partner_departments.id"))
    unheld: Mapped[bool] = mapped_column(default=False, server_default=db.false())

    case = relationship("Case", lazy="joined")
    assignee = relationship("User", foreign_keys=[assignee_id])
    assigned_by = relationship("User", foreign_keys=[assigned_by_id])

    # Who may act on a task. The rule is written twice, side by side: as Python on a loaded task
    # (the task page, completing, claiming, transferring: acting_for, refusal, conflict) and as
    # SQL over open_tasks joined to cases (the inbox, its count, the API's task list: actionable,
    # _own_right, _separated). tests/test_inbox.py checks that the two agree for every user.

    def can_complete(self, user):
        """Whether `user` may act on this task now, in their own right or standing in for
        someone on leave (see acting_for)."""
        return self.acting_for(user) is not None

    def acting_for(self, user):
        """The user whose right `user` acts on: themselves, or a colleague on leave who
        delegated to them (委托, within its dates); None when `user` may not act."""
        if self.may_act_as(user):
            return user
        if self.separated(user):
            for principal in Delegation.principals_of(user, clock.today()):
                if self.may_act_as(principal):
                    return principal
        return None

    def may_act_as(self, user):
        """Acting in one's own right (see refusal)."""
        return self.refusal(user) is None

    def refusal(self, user):
        """Why `user` may not act on this task in their own right, or None when they may: the
        lane's role; the task's routing (the case's unit for the unit lane, the section, the
        office, the partner department: organisation.routing); only the assignee once the task is
        claimed, transferred or routed to one user; and the separation of duties (conflict)."""
        if not user.active or not user.has_role(self.role):
            return f"此任务由{ROLES[self.role][0] if self.role in ROLES else self.role}办理，您无权办理"
        if self.assignee_id is not None and self.assignee_id != user.id:
            if self.pool == "user":  # the diagram names the holder (user:, field:, starter)
                return f"此任务指定由{self.assignee.display_name}办理，您无权办理"
            return f"此任务已由{self.assignee.display_name}认领或转交其办理，您无权办理"
        if (barred := self.conflict(user)) is not None:
            return barred
        return self.outside_pool(user) if self.assignee_id is None else None

    def outside_pool(self, user):
        """Why `user`, of the task's role, is not among those the task is routed to (None: they are)."""
        pool = self.pool or "office"
        if pool == "unit" or self.role == "unit_clerk":
            return None if user.unit_id == self.case.unit_id else "此任务属于其他单位"
        if pool == "user":
            return "此任务指定由他人办理"
        if pool == "section":
            return None if self.section_id in user.section_ids("reviewer") else "此任务由案件单位的归口科室办理"
        if pool == "section_leader":
            return None if self.section_id in user.section_ids("leader") else "此任务由归口科室的分管领导办理"
        if pool == "department":
            return (None if self.partner_department_id is not None
                    and user.partner_department_id == self.partner_department_id else "此任务由其他联审部门办理")
        return None if self.office_id is not None and user.office_id == self.office_id else "此任务由其他编办办理"

    def separated(self, user):
        return self.conflict(user) is None

    def conflict(self, user):
        """The separation of duties, binding whoever acts and whoever they act for (委托): no
        bureau step on a case one started; no 分管领导 step on a case whose 初审 one did, oneself
        or through a delegate (the step's on_behalf_of counts as its doer)."""
        if self.role == "unit_clerk":
            return None
        if self.case.started_by_id == user.id:
            return "不能审核本人发起的案件"
        if self.role == "leader" and db.session.scalar(select(CaseStep.id).where(
                CaseStep.case_id == self.case_id, CaseStep.role == "reviewer",
                or_(CaseStep.user_id == user.id, CaseStep.on_behalf_of_id == user.id)).limit(1)):
            return "已在本案中担任初审，不能再作领导审核"
        return None

    def why_not(self, user):
        """The refusal to show when acting_for(user) is None: what bars the user, or, standing
        in for a colleague who holds the lane's role, what bars that colleague."""
        reason = self.refusal(user)
        if user.has_role(self.role):
            return reason
        barred = self.conflict(user)
        if barred:
            return barred  # standing in for someone does not lift one's own conflict
        for principal in Delegation.principals_of(user, clock.today()):
            if principal.has_role(self.role) and (barred := self.conflict(principal)):
                return f"委托人{principal.display_name}{barred}，您不能代为办理"
        return reason

    @classmethod
    def actionable(cls, user, claimed_by_others=False):
        """A select of the open tasks `user` may act on (acting_for is not None), most urgent
        first (overdue, then due soonest): their roles' unclaimed tasks and those claimed by or
        transferred to them, and the same for every colleague who delegated to them for today
        (委托). The order is the index ix_open_tasks_urgency, so a page of it reads only the rows
        it shows. With `claimed_by_others`, it also lists what colleagues have claimed of the
        user's own roles (the group queue: shown, not actable)."""
        conditions = []
        own = cls._own_right(user, any_assignee=claimed_by_others)
        if own is not None:
            conditions.append(own)
        for_others = [c for p in Delegation.principals_of(user, clock.today())
                      if (c := cls._own_right(p)) is not None]
        if for_others:
            conditions.append(cls._separated(user) & or_(*for_others))
        if not conditions:
            return select(cls).where(false())
        return (select(cls).join(Case, cls.case_id == Case.id).where(or_(*conditions))
                .order_by(cls.sort_due, cls.created_at, cls.id))

    @classmethod
    def _own_right(cls, user, any_assignee=False):
        """may_act_as as SQL (None: on no task)."""
        if not user.active:
            return None
        rights = []
        for role in user.roles:
            if role == "unit_clerk":
                if user.unit_id:
                    mine = (cls.role == "unit_clerk") & (Case.unit_id == user.unit_id)
                    rights.append(mine if any_assignee else
                                  mine & (cls.assignee_id.is_(None) | (cls.assignee_id == user.id)))
                continue
            if role not in ROLES:
                continue
            pools = []
            if user.office_id is not None:
                pools.append((cls.pool == "office") & (cls.office_id == user.office_id))
            if role != "partner":
                if sections := user.section_ids("reviewer"):
                    pools.append((cls.pool == "section") & cls.section_id.in_(sections))
                if sections := user.section_ids("leader"):
                    pools.append((cls.pool == "section_leader") & cls.section_id.in_(sections))
            elif user.partner_department_id is not None:
                pools.append((cls.pool == "department") & (cls.partner_department_id == user.partner_department_id))
            routed = or_(*pools) if pools else false()
            if not any_assignee:
                routed = routed & cls.assignee_id.is_(None)
            rights.append((cls.role == role) & (routed | (cls.assignee_id == user.id)))
        if not rights:
            return None
        return or_(*rights) & cls._separated(user)

    @classmethod
    def _separated(cls, user):
        """separated as SQL."""
        reviewed = select(CaseStep.id).where(
            CaseStep.case_id == cls.case_id, CaseStep.role == "reviewer",
            or_(CaseStep.user_id == user.id, CaseStep.on_behalf_of_id == user.id)).exists()
        return or_(cls.role == "unit_clerk",
                   (Case.started_by_id != user.id) & or_(cls.role != "leader", ~reviewed))

    @property
    def due_state(self):
        """overdue (red), soon (amber: within DUE_SOON_WORKDAYS working days), ok, or None."""
        if self.due_date is None:
            return None
        today = clock.today()
        if self.due_date < today:
            return "overdue"
        if self.due_date <= _soon_limit(today, setting("DUE_SOON_WORKDAYS")):
            return "soon"
        return "ok"


@lru_cache(maxsize=64)
def _soon_limit(today, workdays):
    """The last due date that counts as soon: the same for every task shown on a day (an inbox
    page asked the holiday calendar 50 times for it)."""
    return add_workdays(today, workdays)


class CaseStep(db.Model):
    """One completed human step: who, what decision, which opinion, when."""
    __tablename__ = "case_steps"
    __table_args__ = (Index("ix_case_steps_user_id_id", "user_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)  # 委托: for whom
    decision: Mapped[str] = mapped_column(String(16))
    opinion: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=clock.now)

    user = relationship("User", lazy="joined", foreign_keys=[user_id])
    on_behalf_of = relationship("User", foreign_keys=[on_behalf_of_id])
    case = relationship("Case", viewonly=True)  # usually in the session already (its page, its notice)

    @property
    def decision_label(self):
        """The step's form names its decisions (落编确认: 确认落编); the general names are for
        steps without one (撤回, 逾期自动办结) and decisions the form does not list."""
        # imported here: the processes package imports the case models
        from ..processes.operations import decision_labels

        labels = decision_labels(self.case.version, self.bpmn_id) if self.case is not None else {}
        return labels.get(self.decision) or DECISION_LABELS.get(self.decision, self.decision)


class Attachment(db.Model):
    """An uploaded file, kept in the database so app servers stay stateless."""
    __tablename__ = "attachments"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)


class CaseSequence(db.Model):
    """Per prefix and year, the last case number handed out."""
    __tablename__ = "case_sequences"
    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
