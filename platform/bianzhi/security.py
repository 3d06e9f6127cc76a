"""Response headers every page and API answer carries, the idle session timeout, JSON from
users parsed with a depth limit, and where a `next` parameter may send the browser."""
import json
from datetime import timedelta

from flask import session
from flask.json.provider import DefaultJSONProvider

from .errors import ValidationFailed

MAX_JSON_DEPTH = 64  # the deepest legitimate body (a draft's forms) nests about 10 levels

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def loads_json(text, **kwargs):
    """JSON a user sent (a request body, a definition in a query string): ValueError when it is
    not JSON, ValidationFailed (422, json_too_deep) when it nests deeper than MAX_JSON_DEPTH,
    where code walking it could run out of stack."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        value, deep = None, True
    else:
        deep = _deeper_than(value, MAX_JSON_DEPTH)
    if deep:
        raise ValidationFailed(f"JSON 嵌套层数过多（最多 {MAX_JSON_DEPTH} 层）", code="json_too_deep")
    return value


def _deeper_than(value, limit):
    """Whether lists and objects nest more than `limit` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def safe_next(target, default):
    """`target` when it is a path on this site, else `default`. Only "/" followed by anything but
    a second "/"; no backslash (browsers read it as "/"), whitespace or control character
    (browsers drop tabs and newlines, so "/\t/evil.example" would become "//evil.example", and
    CR/LF cannot go in a Location header)."""
    if (not isinstance(target, str) or not target.startswith("/") or target.startswith("//")
            or any(c == "\\" or c.isspace() or not c.isprintable() for c in target)):
        return default
    return target


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with loads() depth-limited: request.get_json() everywhere goes through it."""

    def loads(self, s, **kwargs):
        return loads_json(s, **kwargs)


def configure(app):
    app.json = JSONProvider(app)
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(minutes=30))

    @app.before_request
    def _idle_timeout():
        # a permanent session is re-issued on every request, so 30 minutes means 30 idle minutes
        session.permanent = True

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if response.mimetype == "text/html" or response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
