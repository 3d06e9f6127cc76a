"""The OpenAPI 3.1 description served at /api/v1/openapi.json."""

ERROR = {"$ref": "#/components/schemas/Error"}



def _errors(*codes):
    text = {400: "请求格式错误", 401: "未登录或令牌无效", 403: "无权操作", 404: "不存在或无权查看",
            409: "冲突（已办理、空编不足、被他人修改）", 422: "字段校验失败", 429: "登录失败过多，已限制"}
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
                    "created_at": {"type": "string"}}},
                "History": {"type": "object", "required": ["step", "by", "decision", "opinion", "at"], "properties": {
                    "step": {"type": "string"}, "by": {"type": "string"}, "username": {"type": "string"},
                    "decision": {"type": "string", "enum": ["submit", "approve", "return", "reject", "withdraw"]},
                    "opinion": {"type": ["string", "null"]}, "at": {"type": "string"}}},
                "Case": {"type": "object", "required": ["id", "number", "state", "tasks", "history"], "properties": {
                    "id": {"type": "integer"}, "number": {"type": "string"}, "process": {"type": "string"},
                    "version": {"type": "integer"},
                    "state": {"type": "string", "enum": ["running", "approved", "rejected", "withdrawn", "completed"]},
                    "state_label": {"type": "string"}, "unit": {"type": "string"}, "unit_name": {"type": "string"},
                    "title": {"type": "string"}, "data": {"type": "object"},
                    "tasks": {"type": "array", "items": ref("Task")},
                    "history": {"type": "array", "items": ref("History")},
                    "attachments": {"type": "array", "items": {"type": "object"}}}},
                "Notice": {"type": "object", "required": ["id", "title", "issued_at", "url"], "properties": {
                    "id": {"type": "integer"}, "title": {"type": "string"}, "issued_at": {"type": "string"},
                    "verify_code": {"type": "string"}, "url": {"type": "string"}}},
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
                                                     "unit": {"type": ["string", "null"]}}}), 401)},
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
            "/api/v1/tasks": {"get": _op("我的待办", 200, _json({"type": "array", "items": ref("Task")}), 401)},
            "/api/v1/tasks/{task_id}": {"get": _op("待办详情", 200, _json(ref("Task")), 401, 403, 404, 409,
                                                   params=_path_param("task_id"))},
            "/api/v1/tasks/{task_id}/complete": {"post": _op(
                "办理任务", 200, _json(ref("Case")), 401, 403, 404, 409, 422, params=_path_param("task_id"),
                body={"type": "object", "required": ["data"], "properties": {"data": {
                    "type": "object", "description": "审核：decision (approve|return|reject)、opinion（退回、不予通过时必填）；"
                                                     "落编登记：people [{name, id_number, entry_date, ...}]"}}})},
            "/api/v1/units/{code}/establishment": {"get": _op("单位编制情况", 200, _json({
                "type": "array", "items": ref("Figure")}), 401, 403, 404, params=_path_param("code"))},
        },
    }
