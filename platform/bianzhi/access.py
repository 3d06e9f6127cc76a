"""The access matrix: for every route and API operation, which roles may use it and over what
scope. It is the one source of truth for role checks (enforced before every view, pages and API
alike); scope is then enforced by the model predicates it names (case.can_view, task.can_complete,
ledger.can_view_unit …). A route missing here is refused. tests/test_access.py walks every route
with every role and with users of two units against this table."""
from dataclasses import dataclass

from flask import request
from flask_login import current_user

from .accounts.models import BUREAU_READERS, ROLES
from .cases import operations as cases
from .documents import operations as documents
from .errors import RoleDenied
from .inbox import followup
from .inbox.assignment import DELEGATING_ROLES
from .processes import drafts
from .review import operations as review

ANY = frozenset(ROLES)
CLERK = frozenset({"unit_clerk"})
BUREAU = frozenset(BUREAU_READERS)  # bureau staff and supervisors: their office's jurisdiction (organisation.scope)
CASE_READERS = BUREAU | CLERK
PARTNER = frozenset({"partner"})  # a partner department (部门联审): the cases routed to it, their units' figures
CASE_VIEWERS = CASE_READERS | PARTNER
TASK_ACTORS = frozenset({"unit_clerk", "reviewer", "leader", "partner"})
DESIGN_READERS = frozenset(drafts.READERS)  # the drafts refuse anyone else too
REGISTER_EDITORS = frozenset({"reviewer", "admin"})  # change units and establishment (ledger/units.py, establishment.py)
QUERY_SAVERS = frozenset({"unit_clerk", "reviewer", "leader", "admin"})  # supervisors only read
RULE_EDITORS = frozenset({"reviewer", "admin"})  # who configures and runs data-quality rules
QUERY_SCOPE = "单位经办人限本单位及下属单位；编办人员与督查为本编办及下级编办辖区"
IMPORTERS = frozenset({"reviewer", "admin"})  # who loads a district's existing roster
DELEGATORS = frozenset(DELEGATING_ROLES)  # who may set a delegation (委托) while on leave
ORG_ADMINS = frozenset({"admin"})  # offices, sections, 归口, partner departments, 无人办理 (organisation.operations.may_manage)


@dataclass(frozen=True)
class Rule:
    roles: frozenset  # who passes the role check; empty = public (no login needed)
    scope: str  # what the view then limits them to, in words (documentation and the test)
    message: str = ""  # the refusal, in Chinese; by default it names the roles that may

    def refusal(self):
        if self.message:
            return self.message
        labels = "、".join(ROLES[r][0] for r in ROLES if r in self.roles)
        return f"此功能仅供{labels}使用"

    @property
    def public(self):
        return not self.roles


PUBLIC = Rule(frozenset(), "公开")
JURISDICTION = "本编办及下级编办辖区"
OWN = f"单位经办人限本单位；联审部门限送本部门审核的案件；编办人员与督查为{JURISDICTION}"
PEOPLE = f"单位经办人限本单位；编办人员与督查为{JURISDICTION}"
UNIT_FIGURES = f"单位经办人限本单位；联审部门限送本部门审核案件的单位（只读编制数）；编办人员与督查为{JURISDICTION}"
STATS = "单位经办人限本单位及下属单位；编办人员与督查为本编办及下级编办辖区"
DOCS = f"单位经办人限关联本单位的文件；编办人员与督查为{JURISDICTION}的文件"
DOC_EDITORS = documents.EDITORS  # the operations refuse anyone else too

MATRIX = {
    # public
    "static": PUBLIC, "vendor.asset": PUBLIC, "web.login": PUBLIC, "web.home": PUBLIC, "web.verify": PUBLIC,
    "web.favicon": PUBLIC,
    "api.openapi": PUBLIC, "api.create_token": PUBLIC,
    "public.units": PUBLIC, "public.unit": PUBLIC,  # 机构公示: approved figures only, no personal data
    # every signed-in user, on their own things
    "web.logout": Rule(ANY, "本人"), "api.me": Rule(ANY, "本人"), "api.list_offices": Rule(ANY, "本编办及下级编办（编办人员）；所属编办（其他）"),
    "api.revoke_token": Rule(ANY, "本人的令牌"),
    "api.list_processes": Rule(ANY, "本人可发起的流程（仅单位经办人有）"),
    "notifications.index": Rule(ANY, "本人的通知"), "notifications.email": Rule(ANY, "本人的邮箱"),
    "notifications.open_one": Rule(ANY, "本人的通知"), "notifications.read_all": Rule(ANY, "本人的通知"),
    "api_inbox.list_notifications": Rule(ANY, "本人的通知"), "api_inbox.read_notifications": Rule(ANY, "本人的通知"),
    "inbox.reminder_page": Rule(ANY, "按角色：本人的环节、本单位、本编办辖区"),
    # the one-stop window
    "web.window": Rule(CLERK, "本单位", "一站式服务窗口仅供单位经办人使用"),
    "web.start": Rule(CLERK, "本单位", "只有单位经办人可以发起申请"),
    "api.start_case": Rule(CLERK, "本单位", "只有单位经办人可以发起申请"),
    "web.withdraw": Rule(CLERK, "本单位、尚未审核的案件", "只有本单位经办人可以撤回申请"),
    "api.withdraw_case": Rule(CLERK, "本单位、尚未审核的案件", "只有本单位经办人可以撤回申请"),
    "api.add_attachments": Rule(CLERK, "本单位、在办案件", "只有本单位经办人可以上传附件"),
    # cases and what hangs off them
    "web.case_list": Rule(CASE_VIEWERS, OWN), "web.case_detail": Rule(CASE_VIEWERS, OWN),
    "web.attachment": Rule(CASE_VIEWERS, OWN), "web.notice_pdf": Rule(CASE_VIEWERS, OWN),
    "api.list_cases": Rule(CASE_VIEWERS, OWN), "api.get_case": Rule(CASE_VIEWERS, OWN),
    "api.case_notices": Rule(CASE_VIEWERS, OWN), "api.notice_pdf": Rule(CASE_VIEWERS, OWN),
    "design.case_diagram": Rule(CASE_VIEWERS, OWN),
    **{name: Rule(followup.COPIERS, OWN + "；抄送对象须能查看该案件", "只有编办工作人员或申请单位经办人可以抄送")
       for name in ("inbox.copy", "api_inbox.copy")},
    "inbox.copies": Rule(ANY, "抄送给本人的案件"), "inbox.open_copy": Rule(ANY, "抄送给本人的案件"),
    **{name: Rule(followup.URGERS, "本单位案件（经办人）；全部（领导）", "只有申请单位的经办人或分管领导可以催办")
       for name in ("inbox.urge", "api_inbox.urge")},
    # tasks
    "web.task": Rule(TASK_ACTORS, "所在泳道的任务；单位泳道限本单位；不办本人发起的案件"),
    "api.get_task": Rule(TASK_ACTORS, "同上"), "api.complete_task": Rule(TASK_ACTORS, "同上"),
    "api_inbox.list_tasks": Rule(TASK_ACTORS, "本人可办的任务"),
    # 待办 and 已办 are the pages of those who act on tasks, 我发起 of those who start cases (the
    # API's task list is the same): the navigation shows them to exactly these roles (can)
    "inbox.index": Rule(TASK_ACTORS, "本人可办的任务"),
    "inbox.done": Rule(TASK_ACTORS, "本人办过的任务"),
    "inbox.started": Rule(CLERK, "本人发起的案件"),
    "inbox.save_filter": Rule(TASK_ACTORS, "本人的筛选"), "inbox.delete_filter": Rule(TASK_ACTORS, "本人的筛选"),
    "inbox.claim": Rule(TASK_ACTORS, "可办的组任务"), "inbox.release": Rule(TASK_ACTORS, "本人认领的任务"),
    "inbox.transfer": Rule(TASK_ACTORS, "可办的任务，转给同角色同事"),
    "api_inbox.claim": Rule(TASK_ACTORS, "可办的组任务"), "api_inbox.release": Rule(TASK_ACTORS, "本人认领的任务"),
    "api_inbox.transfer": Rule(TASK_ACTORS, "可办的任务，转给同角色同事"),
    "inbox.delegations": Rule(ANY, "本人的委托；只有业务科室和分管领导可以设置"),
    "inbox.revoke_delegation": Rule(DELEGATORS, "本人的委托"),
    # the ledger
    "web.units": Rule(CASE_VIEWERS, UNIT_FIGURES), "web.unit": Rule(CASE_VIEWERS, UNIT_FIGURES),
    "api.establishment": Rule(CASE_VIEWERS, UNIT_FIGURES), "api.get_unit": Rule(CASE_VIEWERS, UNIT_FIGURES),
    "reports.unit_roster": Rule(CASE_READERS, STATS), "reports.district_roster": Rule(BUREAU, "本编办及下级编办辖区的人员"),
    "reports.queries": Rule(CASE_READERS, "单位经办人限本单位及下属单位；编办人员与督查为本编办及下级编办辖区"),
    # statistics and approval monitoring: read-only; exports audited
    "statistics.index": Rule(CASE_READERS, STATS), "statistics.changes": Rule(CASE_READERS, STATS),
    "statistics.ledger": Rule(CASE_READERS, STATS), "statistics.export": Rule(CASE_READERS, STATS),
    "statistics.monitoring_index": Rule(CASE_READERS, OWN), "statistics.monitoring_cases": Rule(CASE_READERS, OWN),
    "statistics.monitoring_export": Rule(CASE_READERS, OWN), "api_monitoring.figures": Rule(CASE_READERS, OWN),
    # 花名册导入: a bureau act over the whole district (业务科室 and administrators)
    "reports.import_page": Rule(IMPORTERS, "本编办单位的花名册导入"), "reports.upload_roster": Rule(IMPORTERS, "本编办单位的花名册导入"),
    "reports.import_detail": Rule(IMPORTERS, "本编办单位的花名册导入"), "reports.start_import": Rule(IMPORTERS, "本编办单位的花名册导入"),
    "reports.import_status": Rule(IMPORTERS, "本编办单位的花名册导入"),
    # process design
    **{f"design.{name}": Rule(DESIGN_READERS, "全部流程", "流程设计仅供流程管理员、系统管理员和督查使用")
       for name in ("index", "modeler", "versions", "draft", "validate")},
    "design.save_draft": Rule(frozenset({"process_owner"}), "草稿", "只有流程管理员可以保存草稿"),
    "design.upload": Rule(frozenset({"process_owner"}), "草稿", "只有流程管理员可以上传流程图"),
    "design.deploy": Rule(frozenset({"admin"}), "全部流程"), "design.rollback": Rule(frozenset({"admin"}), "全部流程"),
    "design.migrate": Rule(frozenset({"admin"}), "在办案件", "只有系统管理员可以迁移案件"),
    # supervision and data exchange
    **{f"audit.{name}": Rule(frozenset({"auditor", "admin"}), f"{JURISDICTION}用户的、及关于其单位与案件的审计记录",
                             "审计日志仅供督查人员和系统管理员查看")
       for name in ("search", "export")},
    "exchange.headcounts": Rule(frozenset({"finance", "admin", "auditor", "leader"}),
                                f"{JURISDICTION}人数统计（财政接口账号：所服务编办的辖区）", "无权读取人员编制统计数据"),
    "exchange.ledger_export": Rule(frozenset({"admin", "auditor"}), f"{JURISDICTION}台账",
                                   "只有系统管理员和督查人员可以导出台账"),
    # person records (人员信息): clerks edit their own unit's people; the bureau reads
    "records.person": Rule(CASE_READERS, PEOPLE), "records.photo": Rule(CASE_READERS, PEOPLE),
    "records.update_person": Rule(CLERK, "本单位在编人员的非关键字段", "只有本单位经办人可以修改人员信息"),
    "records.upload_photo": Rule(CLERK, "本单位在编人员", "只有本单位经办人可以上传人员照片"),
    "api_people.get_person": Rule(CASE_READERS, PEOPLE),
    "api_people.update_person": Rule(CLERK, "本单位在编人员的非关键字段", "只有本单位经办人可以修改人员信息"),
    "records.completeness": Rule(BUREAU, f"{JURISDICTION}各单位信息完整度"),
    # 年审: the bureau starts it for every unit and follows its progress
    "review.index": Rule(BUREAU, "本编办及下级编办辖区各单位年审进度"), "api_review.progress": Rule(BUREAU, "本编办及下级编办辖区各单位年审进度"),
    "review.start": Rule(frozenset(review.STARTERS), "本编办在用单位",
                         "只有业务科室、分管领导和系统管理员可以发起年审"),
    # 四清两对应
    "records.reconciliation": Rule(BUREAU, JURISDICTION), "records.reconciliation_export": Rule(BUREAU, JURISDICTION),
    "records.unit_reconciliation": Rule(CASE_READERS, PEOPLE),
    "api_reconcile.findings": Rule(BUREAU, JURISDICTION),
    "api_reconcile.paid_headcounts": Rule(frozenset({"finance", "admin"}), f"{JURISDICTION}单位的财供人数",
                                          "只有财政接口账号和系统管理员可以报送财供人数"),
    # 组合查询 and 数据质量: clerks over their unit and the units below it, the bureau over the district
    "queries.builder": Rule(CASE_READERS, QUERY_SCOPE), "queries.export": Rule(CASE_READERS, QUERY_SCOPE),
    "api_queries.run_query": Rule(CASE_READERS, QUERY_SCOPE), "api_queries.list_saved": Rule(CASE_READERS, "本人的与共享的查询"),
    "queries.save_query": Rule(QUERY_SAVERS, "本人的查询", "督查人员只读，不能保存查询"),
    "api_queries.save_query": Rule(QUERY_SAVERS, "本人的查询", "督查人员只读，不能保存查询"),
    "queries.manage_saved": Rule(QUERY_SAVERS, "本人的查询", "督查人员只读，不能修改查询"),
    "queries.quality_page": Rule(CASE_READERS, QUERY_SCOPE),
    "queries.quality_check": Rule(RULE_EDITORS, "本编办辖区数据质量"), "queries.create_rule": Rule(RULE_EDITORS, "数据质量规则"),
    "queries.manage_rule": Rule(RULE_EDITORS, "数据质量规则"),
    # 机构编制文件库: read by everyone who reads cases; uploaded and linked by 业务科室 and admins
    "documents.index": Rule(CASE_READERS, DOCS), "documents.detail": Rule(CASE_READERS, DOCS),
    "documents.pdf": Rule(CASE_READERS, DOCS + "；下载记入审计日志"),
    "documents.api_list": Rule(CASE_READERS, DOCS), "documents.api_get": Rule(CASE_READERS, DOCS),
    "documents.new": Rule(DOC_EDITORS, f"{JURISDICTION}单位", "只有业务科室或系统管理员可以登记文件"),
    "documents.create": Rule(DOC_EDITORS, f"{JURISDICTION}单位", "只有业务科室或系统管理员可以登记文件"),
    "documents.add_link": Rule(DOC_EDITORS, f"{JURISDICTION}单位", "只有业务科室或系统管理员可以修改文件关联"),
    # 机构编制管理 (units, establishment, posts, departments): 业务科室 and admins change, every
    # change with its approving document; leaders and supervisors read; clerks apply (编制调整)
    "registers.units": Rule(BUREAU, f"{JURISDICTION}单位"), "registers.unit": Rule(BUREAU, f"{JURISDICTION}单位"),
    **{f"registers.{name}": Rule(REGISTER_EDITORS, f"{JURISDICTION}单位", "只有业务科室或系统管理员可以调整机构编制")
       for name in ("create", "rename", "move", "merge", "abolish", "establishment", "transfer", "posts",
                    "departments")},
    "units_api.create_unit": Rule(REGISTER_EDITORS, f"{JURISDICTION}单位", "只有业务科室或系统管理员可以设立单位"),
    "units_api.adjust_establishment": Rule(REGISTER_EDITORS, f"{JURISDICTION}单位",
                                           "只有业务科室或系统管理员可以调整核定编制"),
    "units_api.transfer_establishment": Rule(REGISTER_EDITORS, f"{JURISDICTION}单位", "只有业务科室或系统管理员可以划转编制"),
    # 组织设置 (organisation/views.py): an admin over their office and the offices below it
    **{f"organisation.{name}": Rule(ORG_ADMINS, "本编办及下级编办", "组织设置仅供系统管理员使用")
       for name in ("offices", "create_office", "office", "create_section", "delete_section", "add_member",
                    "remove_member", "create_department", "delete_department", "place_user", "create_partner",
                    "units", "preview_units", "assign_units", "unheld", "assign_task")},
}


def rule_for(endpoint):
    return MATRIX.get(endpoint)


def allows(user, endpoint):
    """Whether `user` passes the role check of `endpoint` (check without raising); false for an
    endpoint missing from the matrix. Templates ask it as can(endpoint) before showing a link or
    a button, so what is shown cannot disagree with the page it leads to."""
    rule = MATRIX.get(endpoint)
    if rule is None:
        return False
    if rule.public:
        return True
    return bool(user.is_authenticated) and any(user.has_role(role) for role in rule.roles)


# Where "/" sends a signed-in user: the first of these pages they may use. A user who may use
# none (the finance system's service account) gets a page saying so (web.home).
LANDINGS = ("web.window", "inbox.index", "web.case_list", "design.index", "audit.search")


def landing(user):
    """The endpoint "/" sends `user` to, or None."""
    return next((endpoint for endpoint in LANDINGS if allows(user, endpoint)), None)


def check(user, endpoint=None):
    """Raise Forbidden unless `user` may use `endpoint` (default: this request's)."""
    endpoint = endpoint or request.endpoint
    rule = MATRIX.get(endpoint)
    if rule is None:
        raise RoleDenied("此功能未列入权限表，已拒绝")
    if not allows(user, endpoint):
        raise RoleDenied(rule.refusal())


# Routes whose operation makes the same scope check as its first step, on the rows it loads
# anyway (cases.complete_task: 404 unless the case is visible, before anything is written; the
# view gates a malformed body itself before its 422); the gate would read the task and its case
# a second time.
OWN_SCOPE_CHECK = {"api.complete_task"}


def check_objects(user):
    """The scope gate for routes that name a case or a task: 404 unless the user may see that
    case, before the view reads anything else of the request."""
    if request.endpoint in OWN_SCOPE_CHECK:
        return
    args = request.view_args or {}
    if "case_id" in args:
        cases.get_case(user, args["case_id"])
    if "task_id" in args:
        cases.require_task_visible(user, args["task_id"])


def configure(app):
    def can(endpoint):
        return allows(current_user, endpoint)

    app.add_template_global(can)  # {% if can('audit.search') %}
    app.add_template_test(can)  # links | selectattr(0, 'can')
    app.add_template_global(lambda: landing(current_user), "landing")

    @app.before_request
    def _gate():
        if request.endpoint is None or request.path.startswith("/api/"):
            return  # unknown routes 404; the API checks after resolving the token
        rule = MATRIX.get(request.endpoint)
        if rule is not None and rule.public:
            return
        if not current_user.is_authenticated:
            return  # login_required answers (redirect or 401)
        check(current_user)
        check_objects(current_user)
