"""Turning errors into pages or JSON; the transaction is rolled back either way (a view that
returns is committed or rolled back by web/transaction.finish)."""
from flask import flash, jsonify, redirect, render_template, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError, RoleDenied, ValidationFailed
from ..extensions import db

HTTP_MESSAGES = {400: "请求格式不正确", 401: "请先登录", 403: "无权访问", 404: "页面或数据不存在",
                 405: "不支持此请求方法", 413: "上传内容过大", 429: "请求过于频繁",
                 500: "服务器内部错误，请稍后重试", 503: "服务暂不可用，请稍后重试"}


# endpoints outside /api/ that answer JSON, errors included (the browser modeler's fetches);
# blueprints add theirs. Any path ending in .json answers JSON too.
JSON_ENDPOINTS = set()


def wants_json():
    return (request.path.startswith("/api/") or request.path.endswith(".json")
            or request.endpoint in JSON_ENDPOINTS)


def register_error_handlers(app):
    @app.errorhandler(DomainError)
    def domain_error(exc):
        db.session.rollback()
        if wants_json():
            response = jsonify(exc.as_json())
        else:
            response = app.make_response(render_template("error.html", status=exc.status, message=exc.message,
                                                         fields=exc.fields))
        if isinstance(exc, RoleDenied):
            response.headers["X-Access-Rule"] = "role-denied"  # refused by the access matrix
        return response, exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc):
        db.session.rollback()
        message = HTTP_MESSAGES.get(exc.code, exc.name)
        if exc.code == 400 and "CSRF" in (exc.description or ""):
            message = "页面已过期或表单校验失败（CSRF），请刷新后重试"
        if wants_json():
            return jsonify({"error": {"code": exc.name.lower().replace(" ", "_"), "message": message,
                                      "fields": {}}}), exc.code
        if exc.code == 401:
            flash("请先登录", "warning")
            return redirect("/login")
        return render_template("error.html", status=exc.code, message=message, fields={}), exc.code

    @app.before_request
    def _refuse_nul():
        """NUL characters are never text (and PostgreSQL cannot store them): refuse them early."""
        values = list(request.args.values()) + list(request.form.values())
        if request.is_json:
            values.append(request.get_data(as_text=True))
        if any("\x00" in v or "\\u0000" in v for v in values):
            raise ValidationFailed("提交的内容含有非法字符（NUL）", code="bad_characters")

    @app.errorhandler(DataError)
    def data_error(exc):
        db.session.rollback()
        message = "提交的数据无法保存：格式或长度不符合要求"
        if wants_json():
            return jsonify({"error": {"code": "bad_data", "message": message, "fields": {}}}), 422
        return render_template("error.html", status=422, message=message, fields={}), 422

    @app.errorhandler(OperationalError)
    def db_down(exc):
        db.session.rollback()
        if wants_json():
            return jsonify({"error": {"code": "unavailable", "message": HTTP_MESSAGES[503], "fields": {}}}), 503
        return render_template("error.html", status=503, message=HTTP_MESSAGES[503], fields={}), 503
