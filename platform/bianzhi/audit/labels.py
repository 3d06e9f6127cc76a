"""How the audit log reads to a person: each action code's Chinese name and the detail's fields.

The codes themselves stay in the log (they are what is hashed and what the search matches by
prefix); these names are only shown beside them. Every code the platform writes is listed here
(tests/test_audit_page.py checks the calls of record() against it); a code not listed (an old
entry, a test's own) is shown as itself."""
import json

from ..cases.models import DECISION_LABELS

ACTIONS = {
    # accounts
    "login": "登录",
    "login.failed": "登录失败",
    "login.locked": "账号已锁定时尝试登录",
    "logout": "退出登录",
    "token.issue": "签发接口令牌",
    "token.revoke": "吊销接口令牌",
    "user.create": "新建用户",
    "user.lock": "锁定账号（多次登录失败）",
    "user.unlock": "解锁账号",
    "user.password": "重设密码",
    "user.deactivate": "停用账号",
    "delegation.create": "设置委托代办",
    "delegation.revoke": "撤销委托代办",
    # cases and tasks
    "case.start": "发起申请",
    "case.withdraw": "撤回申请",
    "case.attach": "上传附件",
    "case.urge": "催办",
    "case.cc": "抄送",
    "case.migrate": "案件迁移至新流程版本",
    "task.complete": "办理任务",
    "task.claim": "认领任务",
    "task.release": "退回任务（取消认领）",
    "task.transfer": "转办任务",
    "task.assign": "指派无人办理的任务",
    "task.escalate": "超期上报",
    "timer.fire": "定时器触发",
    "review.start": "启动机构编制年审",
    # downloads and views
    "attachment.download": "下载附件",
    "notice.download": "下载通知书",
    "document.download": "下载文件",
    "person.view": "查看人员信息",
    "unit.roster.view": "查看单位人员名册",
    # documents
    "document.register": "登记文件",
    "document.link": "文件关联单位",
    # the register (ledger.units.audited: "unit.<action>")
    "unit.create": "设立单位",
    "unit.rename": "单位更名",
    "unit.move": "调整隶属关系",
    "unit.merge": "单位合并",
    "unit.abolish": "撤销单位",
    "unit.establishment": "调整编制核定数",
    "unit.transfer": "编制划转",
    "unit.posts": "调整领导职数/中层职数",
    "unit.departments": "调整内设机构",
    # the organisation (organisation/operations.py)
    "office.create": "新建编办",
    "section.create": "新建科室",
    "section.delete": "删除科室",
    "section.member_add": "科室人员加入",
    "section.member_remove": "科室人员移出",
    "section.assign": "调整单位归口科室",
    "department.create": "新建联审部门",
    "department.delete": "删除联审部门",
    "user.office": "调整用户所属编办/部门",
    # processes
    "process.draft_save": "保存流程草稿",
    "process.deploy": "发布流程",
    "process.rollback": "回退流程版本",
    "process.migrate": "迁移流程实例",
    # queries and data quality
    "query.export": "导出查询结果",
    "query.share": "共享查询",
    "query.unshare": "取消共享查询",
    "quality.check": "数据质量检查",
    "quality.rule_create": "新增数据质量规则",
    "quality.rule_seed": "载入内置质量规则",
    "quality.rule_activate": "启用数据质量规则",
    "quality.rule_deactivate": "停用数据质量规则",
    # reports, exports and exchange
    "roster.export": "导出人员名册",
    "roster.import.preview": "预检名册导入",
    "roster.import": "导入人员名册",
    "reconciliation.export": "导出四清两对应核对表",
    "statistics.export": "导出统计表",
    "monitoring.read": "读取审批监测数据",
    "monitoring.export": "导出审批监测",
    "finance.headcounts": "财政读取实有人数",
    "finance.paid_headcounts": "导入财政供养人数",
    "ledger.export": "导出台账数据",
    "audit.export": "导出审计日志",
}

FIELDS = {
    "added": "新增", "as_of": "截至日期", "based_on": "基于版本", "comment": "说明", "count": "数量",
    "date": "日期", "deadline": "截止日期", "decision": "意见", "definition": "规则定义", "document": "批准文号",
    "due": "期限", "end": "结束日期", "file": "文件", "filename": "文件名", "files": "文件", "filters": "查询条件",
    "fixed": "已修正", "forms": "表单", "from": "起始日期", "from_version": "原版本", "imported": "导入条数",
    "include_left": "含出编人员", "into": "并入单位", "lines": "行数", "month": "月份", "moved": "迁移数",
    "name": "名称", "notice": "通知书", "number": "编号", "on_behalf_of": "代办对象", "opened": "新发现",
    "page": "页面", "pdf_sha256": "PDF 摘要", "people": "人数", "process": "流程", "refused": "未迁移",
    "roles": "角色", "rows": "条数", "rules": "规则数", "severity": "严重程度", "sha256": "文件摘要",
    "skipped": "跳过", "source": "来源", "start": "开始日期", "state": "状态", "stayed": "保留原版本",
    "step": "环节", "steps": "环节", "still_open": "仍未解决", "table": "统计表", "tables": "统计表",
    "target_kind": "对象类型", "timer": "定时器", "to": "至", "to_version": "新版本",
    "tokens_revoked": "吊销令牌数", "unit": "单位", "units": "单位数", "username": "用户名",
    "valid_only": "仅导入有效行", "version": "版本", "via": "途径", "year": "年度",
    "action": "操作", "target": "对象", "before": "更早于编号",
    "level": "层级", "parent": "上级编办", "section": "科室", "duty": "职责", "department": "联审部门",
    "office": "编办", "unit_codes": "单位代码",
}
_VALUES = {"decision": DECISION_LABELS}


def action_label(code):
    """The Chinese name of an action code; an unknown code is its own name."""
    return ACTIONS.get(code, code)


def _text(value):
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_text(v) for v in value) if value else "（无）"
    if isinstance(value, dict):
        return "；".join(f"{FIELDS.get(k, k)}={_text(v)}" for k, v in value.items()) if value else "（无）"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def detail_lines(detail):
    """[(label, text)]: one line per key of an entry's detail, keys translated where a label is
    known, values as plain text (Chinese as itself, lists joined, never a \\u escape)."""
    if not isinstance(detail, dict):
        return [("", _text(detail))] if detail not in (None, "") else []
    return [(FIELDS.get(k, k), _text(_VALUES.get(k, {}).get(v, v) if isinstance(v, str) else v))
            for k, v in detail.items()]
