"""Holes a hostile test run found: deeply nested JSON, sessions that outlive logout, user
enumeration on the login endpoints, open redirects through `next`."""
import re
import statistics
import time

import pytest
from sqlalchemy import select

from bianzhi.accounts import operations as accounts
from bianzhi.accounts.models import ApiToken, User
from bianzhi.extensions import db
from tests.conftest import PASSWORD, Api, csrf_token, login
from tests.fixtures.cases import only_task, start
from tests.fixtures.pages import text_of, user_client

DEEP = "[" * 1000 + "]" * 1000
DEEPER = "[" * 100_000 + "]" * 100_000


# --- 6. deeply nested JSON --------------------------------------------------------------

@pytest.mark.parametrize("body", [DEEP, DEEPER, '{"a":' * 500 + "1" + "}" * 500])
def test_deeply_nested_token_request_is_refused_in_chinese(client, body):
    response = client.post("/api/v1/tokens", data=body, content_type="application/json")
    assert response.status_code == 422, response.status_code
    error = response.json["error"]
    assert error["code"] == "json_too_deep" and "嵌套" in error["message"]


def test_deeply_nested_query_run_is_refused(api):
    reviewer = api("reviewer1")
    response = reviewer.post("/api/v1/queries/run", data=DEEP, content_type="application/json")
    assert response.status_code == 422 and "嵌套" in response.json["error"]["message"]
    inner = '{"target": "person", "definition": ' + DEEP + "}"
    response = reviewer.post("/api/v1/queries/run", data=inner, content_type="application/json")
    assert response.status_code == 422 and "嵌套" in response.json["error"]["message"]


def test_deeply_nested_definition_in_the_query_string_is_refused(app):
    client = user_client(app, "reviewer1")
    response = client.get("/queries/builder", query_string={"definition": DEEP})
    assert response.status_code == 422 and "嵌套" in text_of(response)
    token = csrf_token(client, "/queries/builder")
    response = client.post("/queries/saved", data={"csrf_token": token, "name": "深", "target": "person",
                                                   "definition": DEEP})
    assert response.status_code == 422 and "嵌套" in text_of(response)


def test_ordinary_nesting_still_parses(api):
    """A legitimate body a few levels deep is not caught by the limit."""
    reviewer = api("reviewer1")
    definition = {"op": "and", "items": [{"op": "or", "items": [{"field": "person.sex", "op": "eq", "value": "女"}]}]}
    response = reviewer.post("/api/v1/queries/run", json={"target": "person", "definition": definition})
    assert response.status_code == 200, response.json


# --- 7. sessions and tokens end with logout, password change and deactivation ---------

def _session_cookie(client):
    return next(c for c in client._cookies.values() if c.key == "session").value


def _replay(app, cookie):
    other = app.test_client()
    other.set_cookie("session", cookie, domain="localhost")
    return other


def test_a_copied_session_cookie_dies_with_logout(app):
    client = user_client(app, "clerk1")
    stolen = _session_cookie(client)
    assert _replay(app, stolen).get("/window").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/window")}).status_code == 302
    response = _replay(app, stolen).get("/window")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_ends_every_session_and_token_of_the_user(app):
    first, second = user_client(app, "clerk1"), user_client(app, "clerk1")
    token = Api(app.test_client(), "clerk1")
    bystander = user_client(app, "clerk2")
    first.post("/logout", data={"csrf_token": csrf_token(first, "/window")})
    assert second.get("/window").status_code == 302
    assert token.get("/api/v1/me").status_code == 401
    assert bystander.get("/window").status_code == 200  # another user's session is untouched
    assert user_client(app, "clerk1").get("/window").status_code == 200  # signing in again works


def test_password_change_ends_sessions_and_tokens(app):
    client, token = user_client(app, "clerk1"), Api(app.test_client(), "clerk1")
    result = app.test_cli_runner().invoke(args=["set-password", "clerk1", "--password", "newpass2026"])
    assert result.exit_code == 0, result.output
    assert client.get("/window").status_code == 302
    assert token.get("/api/v1/me").status_code == 401
    assert app.test_client().post("/api/v1/tokens", json={"username": "clerk1", "password": PASSWORD}).status_code == 401
    assert login(app.test_client(), "clerk1", "newpass2026").get("/window").status_code == 200
    refused = app.test_cli_runner().invoke(args=["set-password", "clerk1", "--password", "short"])
    assert refused.exit_code == 1 and "密码至少 8 位" in refused.output


def test_deactivation_ends_sessions_and_tokens(app):
    client, token = user_client(app, "clerk1"), Api(app.test_client(), "clerk1")
    result = app.test_cli_runner().invoke(args=["deactivate-user", "clerk1"])
    assert result.exit_code == 0, result.output
    assert client.get("/window").status_code == 302
    assert token.get("/api/v1/me").status_code == 401
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "clerk1"))
        assert not user.active
        open_tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                                ApiToken.revoked_at.is_(None))).all()
        assert open_tokens == []  # revoked, not merely refused while the account is off


# --- 8. user enumeration ---------------------------------------------------------------

def _token(client, username, password, ip="10.0.0.1"):
    return client.post("/api/v1/tokens", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def _lock(client, username):
    for _ in range(5):
        assert _token(client, username, "wrong-pass1", ip="10.0.0.2").status_code == 401


def test_unknown_wrong_and_locked_answer_alike(client, ctx):
    _lock(client, "reviewer1")
    answers = [_token(client, "nobody_here", "wrong-pass1"), _token(client, "leader1", "wrong-pass1"),
               _token(client, "reviewer1", "wrong-pass1"), _token(client, "reviewer1", PASSWORD)]
    assert [a.status_code for a in answers] == [401] * 4
    assert all(a.json == answers[0].json for a in answers), [a.json for a in answers]
    user = db.session.scalar(select(User).where(User.username == "reviewer1"))
    assert user.locked_until is not None  # the lockout still holds: the right password was refused


def test_login_page_answers_alike(client):
    def attempt(username, password):
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_token(client, "/login")})
        message = re.search(r'role="alert">([^<]*)<', response.get_data(as_text=True))
        return response.status_code, message and message.group(1)

    for _ in range(5):
        attempt("clerk2", "bad-pass1")
    answers = [attempt("nobody_here", "bad-pass1"), attempt("clerk3", "bad-pass1"), attempt("clerk2", PASSWORD)]
    assert answers == [(401, "用户名或密码错误")] * 3


def test_every_failure_verifies_a_password_hash(app, client, monkeypatch):
    """Unknown, locked and deactivated accounts cost one hash check, as a wrong password does."""
    calls = []
    real = accounts.check_password_hash

    def spy(pwhash, password):
        calls.append(pwhash.split("$")[0])
        return real(pwhash, password)

    _lock(client, "reviewer1")
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "auditor1")).active = False
        db.session.commit()
    monkeypatch.setattr(accounts, "check_password_hash", spy)
    for username in ("nobody_here", "leader1", "reviewer1", "auditor1"):
        calls.clear()
        assert _token(client, username, "wrong-pass1").status_code == 401
        assert calls == [app.config["PASSWORD_HASH_METHOD"]], (username, calls)


def test_unknown_user_takes_as_long_as_a_wrong_password(app, client, monkeypatch):
    slow = "pbkdf2:sha256:60000"  # ~20-50 ms a check: far above the request's own cost
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", slow)
    with app.app_context():
        accounts.create_user("slowhash", "slowpass1", "慢", ["reviewer"])
        db.session.commit()

    def median(username):
        times = []
        for i in range(5):
            t0 = time.perf_counter()
            assert _token(client, username, "wrong-pass1", ip=f"10.1.0.{i}").status_code == 401
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    median("nobodyhere")  # warm up (the dummy hash is made once per method)
    known, unknown = median("slowhash"), median("nobodyhere")
    assert unknown > 0.5 * known, (unknown, known)


# --- 9. redirects through `next` -------------------------------------------------------

UNSAFE = ["/\t/evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\r\nSet-Cookie: x=1",
          "/ok\n", "https://evil.example/", "javascript:alert(1)", " /tasks", "/\u3000/evil.example",
          "/\x7f/evil.example", "/tasks/\x0b", ""]


def test_unsafe_next_goes_to_the_default(app, api):
    task = only_task(start(api("clerk1")))
    client = user_client(app, "reviewer1")
    token = csrf_token(client, "/inbox")
    for target in UNSAFE:  # the first claim succeeds, the others are refused: each goes back
        response = client.post(f"/tasks/{task}/claim", data={"csrf_token": token, "next": target})
        assert response.status_code == 302, (target, response.status_code)
        assert response.headers["Location"] == "/inbox", (target, response.headers["Location"])
    response = client.post(f"/tasks/{task}/claim", data={"csrf_token": token, "next": "/inbox?scope=group&q=%E5%BC%A0"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox?scope=group&q=%E5%BC%A0"
