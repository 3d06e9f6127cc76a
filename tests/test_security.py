"""Login throttling and lockout, password policy, token revocation, headers, session timeout."""
from sqlalchemy import select

from bianzhi.accounts.models import User
from bianzhi.extensions import db
from tests.conftest import PASSWORD, csrf_token


def token_response(client, username, password, ip="10.0.0.1"):
    return client.post("/api/v1/tokens", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_account_locks_after_five_failures_and_admin_unlocks(app, client, ctx):
    for _ in range(5):
        assert token_response(client, "reviewer1", "wrong-pass1").status_code == 401
    response = token_response(client, "reviewer1", PASSWORD)  # locked: refused like a wrong password
    assert response.status_code == 401
    assert response.json["error"]["code"] == "bad_credentials" and response.json["error"]["message"] == "用户名或密码错误"
    assert db.session.scalar(select(User).where(User.username == "reviewer1")).locked_until is not None
    result = app.test_cli_runner().invoke(args=["unlock-user", "reviewer1"])
    assert result.exit_code == 0, result.output
    assert token_response(client, "reviewer1", PASSWORD).status_code == 201


def test_success_resets_the_failure_count(client, ctx):
    for _ in range(4):
        token_response(client, "leader1", "wrong-pass1")
    assert token_response(client, "leader1", PASSWORD).status_code == 201
    for _ in range(4):
        token_response(client, "leader1", "wrong-pass1")
    assert token_response(client, "leader1", PASSWORD).status_code == 201
    user = db.session.scalar(select(User).where(User.username == "leader1"))
    assert user.locked_until is None


def test_one_address_guessing_many_accounts_is_throttled(app, client):
    limit = app.config["LOGIN_MAX_PER_ADDRESS"]
    for i in range(limit):
        token_response(client, f"nobody{i}", "wrong-pass1", ip="10.9.9.9")
    response = token_response(client, "clerk1", PASSWORD, ip="10.9.9.9")
    assert response.status_code == 429 and response.json["error"]["code"] == "address_throttled"
    assert token_response(client, "clerk1", PASSWORD, ip="10.9.9.10").status_code == 201


def test_login_page_keeps_a_locked_account_out(client):
    for _ in range(5):
        client.post("/login", data={"username": "clerk2", "password": "bad-pass1",
                                    "csrf_token": csrf_token(client, "/login")})
    response = client.post("/login", data={"username": "clerk2", "password": PASSWORD,
                                           "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)


def test_revoked_token_no_longer_works(client):
    token = token_response(client, "clerk1", PASSWORD).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and "令牌无效" in response.json["error"]["message"]


def test_password_policy(app, ctx):
    runner = app.test_cli_runner()
    for password, message in [("short1", "密码至少 8 位"), ("onlyletters", "密码须同时包含字母和数字"),
                              ("clerk99x1", "密码不能与用户名相同")]:
        result = runner.invoke(args=["create-user", "clerk99x1", "--password", password, "--role", "reviewer"])
        assert result.exit_code == 1 and message in result.output, result.output


def test_security_headers_and_cookie_flags(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in \
        csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    from tests.conftest import login
    login(client, "clerk1")
    cookie = next(c for c in client._cookies.values() if c.key == "session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert cookie.expires is not None  # a permanent session: idle timeout, re-issued on each request


def test_no_page_uses_inline_script(client):
    from tests.conftest import login
    login(client, "clerk1")
    for path in ("/window", "/login", "/cases", "/units", "/verify"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>" not in body and "onclick=" not in body, path
