"""The access matrix (bianzhi/access.py) is the source of truth: every route is in it, and every
route is walked with every role, anonymously, and with a clerk of another unit. A denied cell
answers 401/403/404 (or the login redirect) and carries no data of the case it reached for."""
import io
import re

import pytest
from sqlalchemy import select

from bianzhi.access import MATRIX
from bianzhi.extensions import db
from bianzhi.notices.models import Notice
from tests.conftest import PASSWORD, Api, csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, approve_through, only_task, start
from tests.fixtures.pages import tiny_pdf

IDENTITIES = ["anonymous", "clerk1", "clerk2", "reviewer1", "leader1", "owner1", "admin", "auditor1", "finance1"]
ROLE_OF = {"clerk1": "unit_clerk", "clerk2": "unit_clerk", "reviewer1": "reviewer", "leader1": "leader",
           "owner1": "process_owner", "admin": "admin", "auditor1": "auditor", "finance1": "finance"}
# params naming an object of clerk1's unit: clerk2 must never get at it
UNIT_OBJECTS = {"case_id", "task_id", "notice_id", "attachment_id", "code", "document_id"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule, _ in _routes(app)}
    assert endpoints - set(MATRIX) == set(), "routes missing from the access matrix"
    assert set(MATRIX) - endpoints == set(), "matrix entries for routes that no longer exist"


@pytest.fixture
def world(app, api):
    """A case of clerk1's unit at 分管领导审核 with a notice, and one at 业务科室初审 with an attachment."""
    clerk = api("clerk1")
    approved = approve_through(api("reviewer1"), api("leader1"), start(clerk, count=1))
    waiting = start(clerk, count=1)
    clerk.post(f"/api/v1/cases/{waiting['id']}/attachments", data={"file": (io.BytesIO(tiny_pdf()), "申请表.pdf")},
               content_type="multipart/form-data")
    attachment = clerk.get(f"/api/v1/cases/{waiting['id']}").json["attachments"][0]["id"]
    with app.app_context():
        notice = db.session.scalar(select(Notice.id).where(Notice.case_id == approved["id"]))
    return {"case_id": waiting["id"], "task_id": only_task(waiting), "notice_id": notice,
            "attachment_id": attachment, "code": CLERK1_UNIT, "key": "vacancy_use", "number": 1,
            "document_id": 1,  # the demo's first document: the 三定规定 of clerk1's unit
            "filter_id": 1, "copy_id": 1, "delegation_id": 1, "notification_id": 1,
            "filename": "app.css", "path": "bpmn-js/dist/assets/bpmn-js.css",
            "numbers": [waiting["number"], approved["number"]], "unit_name": "疾病预防控制中心"}


def _url(rule, world):
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(world[name]), url)
    return url


def _clients(app):
    clients = {"anonymous": (app.test_client(), None)}
    for username in IDENTITIES[1:]:
        client = login(app.test_client(), username)
        clients[username] = (client, Api(app.test_client(), username, PASSWORD).headers)
    return clients


def _call(client, headers, method, url, is_api):
    if is_api:
        kwargs = {"headers": headers or {}}
        if method in ("POST", "PUT"):
            kwargs["json"] = {}
        return client.open(url, method=method, **kwargs)
    token = csrf_token(client, "/login")
    if method == "GET":
        return client.get(url)
    if url.endswith(".json") or "/design/" in url and method in ("PUT", "POST") and not url.endswith("migrate"):
        return client.open(url, method=method, json={}, headers={"X-CSRFToken": token})
    return client.open(url, method=method, data={"csrf_token": token})


def test_every_cell_of_the_matrix(app, world):
    clients = _clients(app)
    checked = 0
    for rule, method in _routes(app):
        if rule.endpoint in ("web.logout", "api.revoke_token"):
            continue  # walked last: they end the session and the token
        entry = MATRIX[rule.endpoint]
        url, is_api = _url(rule, world), rule.rule.startswith("/api/")
        for identity in IDENTITIES:
            client, headers = clients[identity]
            response = _call(client, headers, method, url, is_api)
            binary = response.mimetype in ("application/pdf", "application/zip") or "officedocument" in response.mimetype
            body = "" if binary else response.get_data(as_text=True)
            response.close()
            cell = (identity, method, rule.rule, response.status_code)
            # clerk1's own header names the unit; nobody else may see it, nor the case numbers
            secrets = world["numbers"] + ([] if identity == "clerk1" else [world["unit_name"]])
            allowed = entry.public or (identity != "anonymous" and ROLE_OF[identity] in entry.roles)
            if not allowed:
                if identity == "anonymous":
                    assert response.status_code in (401, 302), cell
                    if response.status_code == 302:
                        assert "/login" in response.headers["Location"], cell
                else:
                    assert response.status_code == 403 and response.headers.get("X-Access-Rule") == "role-denied", cell
                assert not any(secret in body for secret in secrets), cell
            else:
                assert response.headers.get("X-Access-Rule") is None and response.status_code != 500, cell
                assert entry.public or response.status_code != 401, cell  # public: 401 = wrong password
                if identity == "clerk2" and not entry.public and UNIT_OBJECTS & set(rule.arguments):
                    assert response.status_code in (403, 404), cell  # another unit's object
                    assert not any(secret in body for secret in secrets), cell
            checked += 1
    for identity in IDENTITIES[1:]:
        client, headers = clients[identity]
        assert client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
        assert client.get("/api/v1/me", headers=headers).status_code == 401
        response = client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})
        assert response.status_code == 302
        assert client.get("/cases").status_code == 302  # signed out
    assert checked > 500
    print(f"access matrix: {len(MATRIX)} endpoints × {len(IDENTITIES)} identities, {checked} cells walked")


# --- landing pages and the navigation: what is shown is what the matrix allows -----------

USER_OF_ROLE = {"unit_clerk": "clerk1", "reviewer": "reviewer1", "leader": "leader1", "process_owner": "owner1",
                "admin": "admin", "auditor": "auditor1", "finance": "finance1"}


def _header_links(response):
    """The hrefs of the page's header (navigation, bell) that lead to a page (not the logout form)."""
    html = response.get_data(as_text=True)
    header = html[html.index('<header class="top">'):html.index("</header>")]
    return sorted(set(re.findall(r'<a [^>]*href="(/[^"#]*)"', header)))


def _endpoint_of(app, path):
    with app.test_request_context(path):
        from flask import request
        return request.url_rule.endpoint if request.url_rule else None


def test_every_role_lands_on_a_page_it_may_use_and_is_shown_only_links_it_may_follow(app):
    from bianzhi.accounts.models import ROLES
    assert set(USER_OF_ROLE) == set(ROLES)
    nav_endpoints = set()
    for role, username in USER_OF_ROLE.items():
        client = login(app.test_client(), username)
        landed = client.get("/", follow_redirects=True)
        assert landed.status_code == 200, (role, landed.request.path, landed.get_data(as_text=True)[:300])
        links = _header_links(landed)
        assert links, role
        for path in links:
            response = client.get(path)
            assert response.status_code not in (403, 404, 500), (role, path, response.status_code)
            endpoint = _endpoint_of(app, path)
            rule = MATRIX[endpoint]
            assert rule.public or role in rule.roles, (role, path)
            nav_endpoints.add((role, endpoint))
        if role == "finance":  # the API's service account: a page that says so
            assert landed.request.path == "/" and "请通过 API 使用" in landed.get_data(as_text=True)
    # what each role may open of the navigation is shown to it (no link hidden by a stale role list)
    assert ("process_owner", "design.index") in nav_endpoints and ("auditor", "design.index") in nav_endpoints
    assert ("process_owner", "web.case_list") not in nav_endpoints
    assert ("admin", "inbox.index") not in nav_endpoints and ("leader", "inbox.index") in nav_endpoints
    landing = {role: login(app.test_client(), user).get("/").headers.get("Location")
               for role, user in USER_OF_ROLE.items()}
    assert landing == {"unit_clerk": "/window", "reviewer": "/inbox", "leader": "/inbox",
                       "process_owner": "/design", "admin": "/cases", "auditor": "/cases", "finance": None}


def test_the_refusal_page_leads_back_to_a_page_the_user_may_use(app):
    for role, username in USER_OF_ROLE.items():
        client = login(app.test_client(), username)
        refused_path = next(path for path, endpoint in [("/cases", "web.case_list"), ("/design", "design.index"),
                                                        ("/window", "web.window")]
                            if role not in MATRIX[endpoint].roles)
        refused = client.get(refused_path)
        assert refused.status_code == 403, (role, refused_path)
        back = re.search(r'<a href="([^"]+)">返回首页</a>', refused.get_data(as_text=True)).group(1)
        followed = client.get(back, follow_redirects=True)
        assert followed.status_code == 200 and followed.request.path != refused_path, (role, back)
