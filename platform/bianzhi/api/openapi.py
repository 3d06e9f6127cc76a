"""The OpenAPI 3.1 description served at /api/v1/openapi.json."""

ERROR = {"$ref": "#/components/schemas/Error"}



def _errors(*codes):
    text = {400: "请求格式错误", 401: "未登录或令牌无效", 403: "无权操作", 404: "不存在或无权查看",
            409: "冲突（已办理、空编不足、被他人修改）", 422: "字段校验失败", 429: "过于频繁（登录失败过多，或催办间隔未到）"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _op(summary, ok_status, ok, *errors, body=None, params=None, secure=True):
    op = {"summary": summary, "responses": {str(ok_status): ok, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if not secure:
        op["security"] = []
    return op


def _path_param(name, schema_type="string"):
    return [{"name": name, "in": "path", "required": True, "schema": {"type": schema_type}}]


def _query(name, description, schema_type="string", enum=None):
    schema = {"type": schema_type}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _json(schema):
    return {"description": "成功", "content": {"application/json": {"schema": schema}}}


def spec():
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {"title": "编制业务审批平台 API", "version": "1.0.0",
                 "description": "错误统一为 {\"error\": {\"code\", \"message\", \"fields\"}}，message 为中文。"},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message", "fields"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "fields": {"type": "object"}}}}},
                "Task": {"type": "object", "required": ["id", "case_id", "name", "lane", "due"], "properties": {
                    "id": {"type": "string"}, "case_id": {"type": "integer"}, "case_number": {"type": "string"},
                    "name": {"type": "string"}, "lane": {"type": ["string", "null"]}, "role": {"type": "string"},
                    "form": {"type": ["string", "null"]}, "due": {"type": ["string", "null"], "format": "date"},
                    "created_at": {"type": "string"},
                    "due_state": {"type": ["string", "null"], "enum": ["ok", "soon", "overdue", None],
                                  "description": "期限内 / 即将到期 / 已超期；无时限为 null"},
                    "escalated": {"type": "boolean", "description": "已超期督办（已报告分管领导）"},
                    "assignee": {"type": ["string", "null"], "description": "认领人或转办对象的用户名"},
                    "case_title": {"type": "string"}, "unit": {"type": "string"},
                    "unit_name": {"type": "string", "description": "申请单位名称"}}},
                "Notification": {"type": "object", "required": ["id", "kind", "title", "read", "created_at"],
                                 "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["urge", "remind", "escalate", "transfer", "cc", "case", "timer",
                                                        "delegation"]},
                    "title": {"type": "string"}, "body": {"type": ["string", "null"]},
                    "case_id": {"type": ["integer", "null"]}, "link": {"type": ["string", "null"]},
                    "created_at": {"type": "string"}, "read": {"type": "boolean"}}},
                "History": {"type": "object", "required": ["step", "by", "decision", "opinion", "at"], "properties": {
                    "step": {"type": "string"}, "by": {"type": "string"}, "username": {"type": "string"},
                    "on_behalf_of": {"type": ["string", "null"], "description": "委托办理时，委托人的用户名"},
                    "decision": {"type": "string", "enum": ["submit", "approve", "return", "reject", "withdraw",
                                                            "timeout"]},
                    "opinion": {"type": ["string", "null"]}, "at": {"type": "string"}}},
                "Case": {"type": "object", "required": ["id", "number", "state", "tasks", "history"], "properties": {
                    "id": {"type": "integer"}, "number": {"type": "string"}, "process": {"type": "string"},
                    "version": {"type": "integer"},
                    "state": {"type": "string", "enum": ["running", "approved", "rejected", "withdrawn", "completed"]},
                    "state_label": {"type": "string"}, "unit": {"type": "string"}, "unit_name": {"type": "string"},
                    "title": {"type": "string"}, "data": {"type": "object"},
                    "overdue": {"type": "boolean", "description": "有在办环节已超过办理期限"},
                    "tasks": {"type": "array", "items": ref("Task")},
                    "history": {"type": "array", "items": ref("History")},
                    "attachments": {"type": "array", "items": {"type": "object"}}}},
                "Notice": {"type": "object", "required": ["id", "title", "issued_at", "url"], "properties": {
                    "id": {"type": "integer"}, "title": {"type": "string"}, "issued_at": {"type": "string"},
                    "verify_code": {"type": "string"}, "url": {"type": "string"}}},
                "Unit": {"type": "object", "required": ["code", "name", "parent", "kind", "level", "funding", "system",
                                                        "founded", "document"], "properties": {
                    "code": {"type": "string", "description": "统一社会信用代码"}, "name": {"type": "string"},
                    "parent": {"type": ["string", "null"], "description": "主管部门的统一社会信用代码"},
                    "parent_name": {"type": ["string", "null"]},
                    "kind": {"type": "string", "description": "机构类别：党政机关 / 事业单位"},
                    "level": {"type": ["string", "null"], "description": "机构级别"},
                    "nature": {"type": ["string", "null"], "description": "机构性质"},
                    "funding": {"type": ["string", "null"], "enum": ["全额", "差额", "自收自支", None],
                                "description": "经费形式"},
                    "system": {"type": ["string", "null"], "description": "系统类别"},
                    "founded": {"type": ["string", "null"], "format": "date", "description": "成立时间"},
                    "document": {"type": ["string", "null"], "description": "批准文号"},
                    "departments": {"type": "array", "items": {"type": "string"}, "description": "内设机构"}}},
                "Figure": {"type": "object", "required": ["category", "approved", "on_roll", "reserved", "vacancy",
                                                          "warning"], "properties": {
                    "category": {"type": "string"}, "approved": {"type": "integer"}, "on_roll": {"type": "integer"},
                    "reserved": {"type": "integer"}, "vacancy": {"type": "integer"},
                    "warning": {"type": "string", "enum": ["green", "yellow", "red"]}}},
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/tokens": {"post": _op(
                "用用户名和密码换取访问令牌", 201, _json({"type": "object", "required": ["token"],
                                                         "properties": {"token": {"type": "string"}}}),
                401, 422, 429, secure=False, body={"type": "object", "required": ["username", "password"], "properties": {
                    "username": {"type": "string"}, "password": {"type": "string"}}})},
            "/api/v1/tokens/current": {"delete": {"summary": "吊销当前令牌", "responses": {
                "204": {"description": "已吊销"}, **_errors(401)}}},
            "/api/v1/me": {"get": _op("当前用户", 200, _json({"type": "object", "required": ["username", "roles", "unit"],
                                      "properties": {"username": {"type": "string"}, "name": {"type": "string"},
                                                     "roles": {"type": "array", "items": {"type": "string"}},
                                                     "unit": {"type": ["string", "null"]},
                                                     "office": {"type": ["object", "null"], "description": "所属编办",
                                                                "properties": {"code": {"type": "string"},
                                                                               "name": {"type": "string"},
                                                                               "level": {"type": "string",
                                                                                         "enum": ["province", "city", "county"]}}},
                                                     "sections": {"type": "array", "items": {"type": "string"},
                                                                  "description": "所在科室代码"},
                                                     "department": {"type": ["string", "null"],
                                                                    "description": "联审部门代码"}}}), 401)},
            "/api/v1/offices": {"get": _op("可见的编办（树）", 200, _json({"type": "array", "items": {
                "type": "object", "required": ["code", "name", "level", "children"], "properties": {
                    "code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"},
                    "children": {"type": "array", "items": {"type": "object"}}}}}), 401)},
            "/api/v1/processes": {"get": _op("可发起的业务流程", 200, _json({"type": "array", "items": {
                "type": "object", "required": ["key", "name", "version"], "properties": {
                    "key": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "integer"}}}}), 401)},
            "/api/v1/cases": {
                "get": _op("可见的案件（最近 200 件）", 200, _json({"type": "array", "items": ref("Case")}), 401),
                "post": _op("发起案件", 201, _json(ref("Case")), 401, 403, 404, 409, 422, body={
                    "type": "object", "required": ["process", "data"], "properties": {
                        "process": {"type": "string", "examples": ["vacancy_use"]},
                        "data": {"type": "object", "description": "首个表单的数据，如空编使用：unit, category, count, channel, reason"}}})},
            "/api/v1/cases/{case_id}": {"get": _op("案件详情", 200, _json(ref("Case")), 401, 404,
                                                   params=_path_param("case_id", "integer"))},
            "/api/v1/cases/{case_id}/attachments": {"post": {
                "summary": "上传附件（multipart，字段 file，可多个）", "parameters": _path_param("case_id", "integer"),
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "properties": {"file": {"type": "array", "items": {
                        "type": "string", "format": "binary"}}}}}}},
                "responses": {"201": {"description": "成功"}, **_errors(401, 403, 404, 409, 422)}}},
            "/api/v1/cases/{case_id}/withdraw": {"post": _op(
                "撤回本单位尚未被审核的申请", 200, _json(ref("Case")), 401, 403, 404, 409,
                params=_path_param("case_id", "integer"))},
            "/api/v1/cases/{case_id}/notices": {"get": _op("案件的通知书", 200, _json({
                "type": "array", "items": ref("Notice")}), 401, 404, params=_path_param("case_id", "integer"))},
            "/api/v1/notices/{notice_id}.pdf": {"get": {
                "summary": "下载通知书 PDF", "parameters": _path_param("notice_id", "integer"),
                "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}},
                              **_errors(401, 404)}}},
            "/api/v1/tasks": {"get": _op(
                "我的待办：超期的在前，其次按到期先后；下一页的游标在响应头 X-Next-Cursor（及 Link rel=next）",
                200, _json({"type": "array", "items": ref("Task")}), 401, 422, params=[
                    _query("process", "业务流程，如 vacancy_use"), _query("unit", "单位统一社会信用代码"),
                    _query("due", "期限", enum=["overdue", "today", "soon", "none"]),
                    _query("q", "检索：案件编号、事项、单位、环节"),
                    _query("scope", "mine（可办理，默认）、claimed（我认领的）、group（本组全部，含他人认领）",
                           enum=["mine", "claimed", "group"]),
                    _query("limit", "每页条数，1–500，默认 500", "integer"),
                    _query("after", "上一页响应头 X-Next-Cursor 的值")])},
            "/api/v1/tasks/{task_id}/claim": {"post": _op(
                "认领任务：同组同事看到已由我办理，其他人不能办理", 200, _json(ref("Task")), 401, 403, 404, 409,
                params=_path_param("task_id"))},
            "/api/v1/tasks/{task_id}/release": {"post": _op(
                "释放认领（或转办给我的任务），回到本组待办", 200, _json(ref("Task")), 401, 403, 404, 409,
                params=_path_param("task_id"))},
            "/api/v1/tasks/{task_id}/transfer": {"post": _op(
                "转办给同一角色的同事；任务离开我的待办", 200, _json(ref("Task")), 401, 403, 404, 409, 422,
                params=_path_param("task_id"), body={"type": "object", "required": ["to"], "properties": {
                    "to": {"type": "string", "description": "同事的用户名"}, "note": {"type": "string"}}})},
            "/api/v1/cases/{case_id}/urge": {"post": _op(
                "催办在办环节（申请单位经办人或分管领导）；通知办理人；同一环节每人 24 小时一次", 201, _json({
                    "type": "array", "items": {"type": "object", "required": ["task_id", "step", "at"], "properties": {
                        "task_id": {"type": "string"}, "step": {"type": "string"}, "at": {"type": "string"}}}}),
                401, 403, 404, 409, 429, params=_path_param("case_id", "integer"), body={
                    "type": "object", "properties": {"task_id": {"type": "string", "description": "只催办此环节"},
                                                     "note": {"type": "string"}}})},
            "/api/v1/cases/{case_id}/cc": {"post": _op(
                "抄送案件供知悉（对方须有权查看此案件）", 201, _json({"type": "array", "items": {
                    "type": "object", "required": ["to", "at"], "properties": {
                        "to": {"type": "string"}, "at": {"type": "string"}}}}),
                401, 403, 404, 409, 422, params=_path_param("case_id", "integer"), body={
                    "type": "object", "required": ["to"], "properties": {
                        "to": {"type": "array", "items": {"type": "string"}, "description": "用户名"},
                        "note": {"type": "string"}}})},
            "/api/v1/notifications": {"get": _op(
                "我的通知，最新在前；未读数在响应头 X-Unread-Count", 200,
                _json({"type": "array", "items": ref("Notification")}), 401, 422, params=[
                    _query("unread", "1：只看未读"), _query("before", "上一页最后一条的 id", "integer"),
                    _query("limit", "每页条数，1–200，默认 50", "integer")])},
            "/api/v1/notifications/read": {"post": _op(
                "标为已读：{\"id\": N}，不给 id 则全部", 200, _json({"type": "object", "required": ["marked"],
                                                                  "properties": {"marked": {"type": "integer"}}}),
                401, 404, 422, body={"type": "object", "properties": {"id": {"type": "integer"}}})},
            "/api/v1/tasks/{task_id}": {"get": _op("待办详情", 200, _json(ref("Task")), 401, 403, 404, 409,
                                                   params=_path_param("task_id"))},
            "/api/v1/tasks/{task_id}/complete": {"post": _op(
                "办理任务", 200, _json(ref("Case")), 401, 403, 404, 409, 422, params=_path_param("task_id"),
                body={"type": "object", "required": ["data"], "properties": {"data": {
                    "type": "object", "description": "审核：decision (approve|return|reject)、opinion（退回、不予通过时必填）；"
                                                     "落编登记：people [{name, id_number, entry_date, ...}]"}}})},
            "/api/v1/units/{code}": {"get": _op(
                "单位基本信息（单位经办人限本单位；联审部门限送本部门审核案件的单位；编办人员限本编办及下级编办辖区）", 200, _json(ref("Unit")), 401, 403, 404, params=_path_param("code"))},
            "/api/v1/units/{code}/establishment": {
                "get": _op("单位编制情况（范围同单位基本信息）", 200, _json({"type": "array", "items": ref("Figure")}), 401, 403, 404,
                           params=_path_param("code")),
                "post": _op("调整单位某类编制的核定数（业务科室、系统管理员），须附批准文件；超编须选择消化期限", 200,
                            _json(OBJECT), 401, 403, 404, 409, 422, params=_path_param("code"), body={
                                "type": "object", "required": ["category", "approved", "document"], "properties": {
                                    "category": {"type": "string"}, "approved": {"type": "integer"},
                                    "absorb_until": {"type": "string", "format": "date",
                                                     "description": "超编消化期限"},
                                    "document": DOCUMENT}})},
            **ledger_paths(),
        },
    }


OBJECT = {"type": "object"}
DOCUMENT = {"type": "object", "description": "批准文件", "required": ["number", "date"], "properties": {
    "number": {"type": "string", "description": "批准文号"}, "date": {"type": "string", "format": "date"},
    "title": {"type": "string"}}}


def ledger_paths():
    """The registers, records, queries, monitoring and reconciliation operations (issues 6 and 9)."""
    code = _path_param("code")
    return {
        "/api/v1/units": {"post": _op(
            "设立单位（业务科室、系统管理员），须附批准文件", 201, _json(OBJECT), 401, 403, 409, 422, body={
                "type": "object", "required": ["code", "name", "kind", "document"], "properties": {
                    "code": {"type": "string", "description": "统一社会信用代码"}, "name": {"type": "string"},
                    "kind": {"type": "string"}, "parent": {"type": "string"}, "level": {"type": "string"},
                    "nature": {"type": "string"}, "funding": {"type": "string"}, "system": {"type": "string"},
                    "functions": {"type": "string", "description": "主要职责"}, "document": DOCUMENT}})},
        "/api/v1/units/{code}/transfer": {"post": _op(
            "编制划转：从本单位划出若干名到另一单位，全区总数不变", 200, _json(OBJECT), 401, 403, 404, 409, 422,
            params=code, body={"type": "object", "required": ["category", "count", "target", "document"],
                               "properties": {"category": {"type": "string"}, "count": {"type": "integer"},
                                              "target": {"type": "string", "description": "划入单位的统一社会信用代码"},
                                              "absorb_until": {"type": "string", "format": "date"},
                                              "document": DOCUMENT}})},
        "/api/v1/people/{code}": {
            "get": _op("人员信息（身份证号按角色脱敏）", 200, _json(OBJECT), 401, 403, 404, params=code),
            "patch": _op("单位经办人维护本单位人员的非关键信息；关键字段只能通过业务流程变更", 200, _json(OBJECT),
                         401, 403, 404, 422, params=code, body={"type": "object", "properties": {
                             "fields": {"type": "object", "description": "字段名 → 新值"},
                             "reason": {"type": "string"}}})},
        "/api/v1/queries": {
            "get": _op("本人可用的已保存查询（含本编办共享的）", 200, _json({"type": "array", "items": OBJECT}), 401),
            "post": _op("保存查询", 201, _json(OBJECT), 401, 403, 422, body={
                "type": "object", "required": ["name", "definition"], "properties": {
                    "name": {"type": "string"}, "target": {"type": "string", "enum": ["person", "unit"]},
                    "definition": OBJECT, "shared": {"type": "boolean"}}})},
        "/api/v1/queries/run": {"post": _op(
            "运行组合查询：{target, definition}（AND/OR 条件树）或 {saved}；每页 50 条", 200, _json(OBJECT),
            401, 403, 404, 422, body={"type": "object", "properties": {
                "target": {"type": "string", "enum": ["person", "unit"]}, "definition": OBJECT,
                "saved": {"type": "integer"}, "page": {"type": "integer"}, "sort": {"type": "string"},
                "order": {"type": "string", "enum": ["asc", "desc"]}}})},
        "/api/v1/monitoring": {"get": _op(
            "审批监测（调用者编办辖区的案件；scope 为辖区名称）：办件数、办理时长中位数与 P90（工作日）、超期率、退回率、"
            "一次通过率", 200, _json(OBJECT),
            401, 403, 404, 422, params=[_query("from", "起始日期 YYYY-MM-DD"), _query("to", "截止日期 YYYY-MM-DD"),
                                        _query("office", "下级编办代码（上级编办选看一个下级编办）"),
                                   _query("process", "业务流程"), _query("unit", "单位统一社会信用代码"),
                                   _query("step", "环节"), _query("month", "月份 YYYY-MM")])},
        "/api/v1/reviews": {"get": _op("年审进度（调用者编办辖区的单位）：各状态单位数、各单位状态、逾期单位", 200, _json(OBJECT),
                                       401, 403, 404, 422, params=[_query("year", "年度", "integer")])},
        "/api/v1/reconciliation": {"get": _op("四清两对应核对结果（本编办及下级编办辖区）：每一处不一致及其原因", 200, _json(OBJECT),
                                              401, 403)},
        "/api/v1/exchange/paid-headcounts": {"put": _op(
            "财政报送财供人数（限所服务编办辖区的单位；同一日期重报则替换）", 200, _json({"type": "object", "required": ["saved"], "properties": {
                "saved": {"type": "integer"}}}), 401, 403, 422, body={
                "type": "object", "required": ["as_of", "source", "lines"], "properties": {
                    "as_of": {"type": "string", "format": "date"}, "source": {"type": "string"},
                    "lines": {"type": "array", "items": {"type": "object", "required": ["unit", "category", "paid"],
                                                         "properties": {"unit": {"type": "string"},
                                                                        "category": {"type": "string"},
                                                                        "paid": {"type": "integer"}}}}}})},
        "/api/v1/documents": {"get": _op(
            "机构编制文件检索（全文、单位、类别）", 200, _json(OBJECT), 401, 403, 422, params=[
                _query("q", "检索词：文号、标题、正文"), _query("unit", "单位编号", "integer"), _query("kind", "文件类别"),
                _query("page", "页码", "integer")])},
        "/api/v1/documents/{document_id}": {"get": _op("文件详情及其依据的变更", 200, _json(OBJECT), 401, 403, 404,
                                                       params=_path_param("document_id", "integer"))},
        "/api/v1/finance/headcounts": {"get": _op(
            "财政：某日本辖区各单位各类编制的核定数与在编数", 200, _json(OBJECT), 401, 403, 422,
            params=[_query("date", "日期 YYYY-MM-DD")])},
    }
