"""The access matrix (bianzhi/access.py) is the source of truth: every route is in it, and every
route is walked with every role, anonymously, with a clerk of another unit, with the staff of a
second district (越城) and of the city office above both, and with a partner department (组织部).
A denied cell answers 401/403/404 (or the login redirect) and carries no data of the case it
reached for; whoever is outside clerk1's unit's reach (another unit, another district, a partner
department the case was never routed to) gets 403/404 for its objects and no trace of them in any
list; the city reads them (organisation.scope)."""
import io
import re

import pytest
from sqlalchemy import select

from bianzhi.access import MATRIX
from bianzhi.extensions import db
from bianzhi.notices.models import Notice
from tests.conftest import PASSWORD, Api, csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, approve_through, decide, only_task, start
from tests.fixtures.pages import tiny_pdf

IDENTITIES = ["anonymous", "clerk1", "clerk2", "reviewer1", "leader1", "owner1", "admin", "auditor1", "finance1",
              # the second district (越城), the city office above both districts, 柯桥's 组织部
              "clerk_b1", "reviewer_b1", "leader_b1", "city_reviewer1", "city_leader1", "city_admin1", "zzb1"]
ROLE_OF = {"clerk1": "unit_clerk", "clerk2": "unit_clerk", "reviewer1": "reviewer", "leader1": "leader",
           "owner1": "process_owner", "admin": "admin", "auditor1": "auditor", "finance1": "finance",
           "clerk_b1": "unit_clerk", "reviewer_b1": "reviewer", "leader_b1": "leader",
           "city_reviewer1": "reviewer", "city_leader1": "leader", "city_admin1": "admin", "zzb1": "partner"}
# params naming an object of clerk1's unit: clerk2 must never get at it
UNIT_OBJECTS = {"case_id", "task_id", "notice_id", "attachment_id", "code", "document_id"}
# who must never get at clerk1's unit's objects, nor find them in a list: another unit's clerk,
# the second district's staff, and 组织部 (no case of clerk1's unit is routed to it in the world)
OUTSIDERS = {"clerk2", "clerk_b1", "reviewer_b1", "leader_b1", "zzb1"}


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
            "numbers": [waiting["number"], approved["number"]], "unit_name": "疾病预防控制中心",
            "person_code": _first_person(app, CLERK1_UNIT)}


def _first_person(app, unit_code):
    from bianzhi.ledger.models import Person, Unit

    with app.app_context():
        return db.session.scalar(select(Person.code).join(Unit, Unit.id == Person.unit_id)
                                 .where(Unit.code == unit_code).order_by(Person.code).limit(1))


def _url(rule, world):
    url = rule.rule
    for name in rule.arguments:
        # a person's pages name a person by code, a unit's pages a unit
        value = world["person_code"] if name == "code" and "/people/" in url else world[name]
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), url)
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
            secrets = world["numbers"] + [world["person_code"]] + ([] if identity == "clerk1" else [world["unit_name"]])
            secrets = [secret for secret in secrets if secret not in url]  # a 404 may repeat what was asked
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
                if identity in OUTSIDERS and not entry.public:
                    if UNIT_OBJECTS & set(rule.arguments):
                        assert response.status_code in (403, 404), cell  # another unit's, district's object
                    assert not any(secret in body for secret in secrets), cell  # nor in any list
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


# --- offices: a district reads its own jurisdiction, the city both, a partner what is routed to it --

YUECHENG_LIBRARY = "12330602B01000000X"  # clerk_b1's unit: 绍兴市越城区图书馆, 事业编制 14 approved, 11 on roll
KEQIAO = ["clerk1", "clerk2", "reviewer1", "leader1", "admin", "auditor1", "finance1", "zzb1"]
CITY = ["city_reviewer1", "city_leader1", "city_admin1"]


def _get(app, username, url):
    """GET `url` as `username`: the API with a token, a page with a signed-in session."""
    if url.startswith("/api/"):
        return Api(app.test_client(), username).get(url)
    return login(app.test_client(), username).get(url)


def _text(response):
    binary = response.mimetype in ("application/pdf", "application/zip") or "officedocument" in response.mimetype
    return "" if binary else response.get_data(as_text=True)


def _yuecheng_world(app, api):
    """A 越城 case approved through 越城's own reviewer and leader (its notice issued), and the
    objects of 越城's library that 柯桥 must not reach."""
    from bianzhi.documents.models import Document
    from bianzhi.ledger.models import Unit

    case = approve_through(api("reviewer_b1"), api("leader_b1"),
                           start(api("clerk_b1"), unit=YUECHENG_LIBRARY, count=1, reason="图书馆古籍修复岗位空缺"))
    with app.app_context():
        notice = db.session.scalar(select(Notice.id).where(Notice.case_id == case["id"]))
        document = db.session.scalar(select(Document).where(Document.number == select(Unit.approval_doc).where(
            Unit.code == YUECHENG_LIBRARY).scalar_subquery()))
        document_id, number = document.id, document.number
    person = _first_person(app, YUECHENG_LIBRARY)
    objects = [f"/cases/{case['id']}", f"/api/v1/cases/{case['id']}", f"/api/v1/cases/{case['id']}/notices",
               f"/notices/{notice}.pdf", f"/api/v1/notices/{notice}.pdf", f"/units/{YUECHENG_LIBRARY}",
               f"/api/v1/units/{YUECHENG_LIBRARY}", f"/api/v1/units/{YUECHENG_LIBRARY}/establishment",
               f"/people/{person}", f"/api/v1/people/{person}", f"/documents/{document_id}",
               f"/api/v1/documents/{document_id}",
               f"/reconciliation/{YUECHENG_LIBRARY}", f"/registers/units/{YUECHENG_LIBRARY}"]
    lists = ["/cases", "/api/v1/cases", "/units", "/registers/units", "/documents", "/api/v1/documents",
             "/reconciliation", "/reconciliation.xlsx", "/api/v1/reconciliation", "/records/completeness",
             "/inbox", "/api/v1/tasks", "/audit", "/audit/export.csv", f"/audit?target=case:{case['id']}",
             "/api/v1/finance/headcounts", "/api/v1/ledger/export"]
    secrets = [case["number"], "越城区图书馆", person, number]
    return case, objects, lists, secrets


def test_a_district_never_reads_another_and_the_city_reads_both(app, api):
    case, objects, lists, secrets = _yuecheng_world(app, api)
    for username in KEQIAO:  # 柯桥's staff, clerks, finance account and 组织部: 越城's ledger stays unseen
        for url in objects:
            response = _get(app, username, url)
            assert response.status_code in (403, 404), (username, url, response.status_code)
            assert not any(secret in _text(response) for secret in secrets if secret not in url), (username, url)
        for url in lists:
            response = _get(app, username, url)
            assert response.status_code in (200, 302, 403), (username, url, response.status_code)  # 302: a clerk to their unit
            assert not any(secret in _text(response) for secret in secrets), (username, url)
    # 越城's own staff, and the city above both districts, read it
    for username in ["clerk_b1", "reviewer_b1", "leader_b1"] + CITY:
        for url in objects:
            response = _get(app, username, url)
            allowed = response.status_code == 200 or response.headers.get("X-Access-Rule") == "role-denied"
            assert allowed, (username, url, response.status_code)
    # the city's lists and figures hold both districts
    keqiao_case = start(api("clerk1"), count=1)
    for username in CITY:
        units = _get(app, username, "/units").get_data(as_text=True)
        assert "绍兴市越城区图书馆" in units and "绍兴市柯桥区疾病预防控制中心" in units, username
        for code in (YUECHENG_LIBRARY, CLERK1_UNIT):
            assert _get(app, username, f"/api/v1/units/{code}/establishment").status_code == 200, (username, code)
    listed = {c["number"] for c in api("city_reviewer1").get("/api/v1/cases").json}
    assert {case["number"], keqiao_case["number"]} <= listed
    assert api("city_leader1").get(f"/api/v1/units/{YUECHENG_LIBRARY}/establishment").json == [
        {"category": "事业编制", "approved": 14, "on_roll": 11, "reserved": 1, "vacancy": 2, "warning": "green"}]
    city_export = api("city_admin1").get("/api/v1/ledger/export").get_data(as_text=True)
    assert "绍兴市越城区图书馆" in city_export and "绍兴市柯桥区疾病预防控制中心" in city_export
    # and 越城 reads nothing of 柯桥's
    for username in ("clerk_b1", "reviewer_b1", "leader_b1"):
        assert keqiao_case["number"] not in _get(app, username, "/cases").get_data(as_text=True)
        assert _get(app, username, f"/cases/{keqiao_case['id']}").status_code == 404
        assert _get(app, username, f"/api/v1/units/{CLERK1_UNIT}/establishment").status_code in (403, 404)
    assert "疾病预防控制中心" not in _get(app, "reviewer_b1", "/units").get_data(as_text=True)


def test_a_partner_sees_only_the_cases_routed_to_its_department_and_their_units_figures(app, api):
    from tests.test_routing import deploy

    zzb = api("zzb1")
    plain = start(api("clerk1"), count=1)  # routed to 柯桥's 机关编制科, not to 组织部
    assert zzb.get("/api/v1/cases").json == []
    assert zzb.get(f"/api/v1/cases/{plain['id']}").status_code == 404
    for url in (f"/units/{CLERK1_UNIT}", f"/api/v1/units/{CLERK1_UNIT}", f"/api/v1/units/{CLERK1_UNIT}/establishment"):
        assert _get(app, "zzb1", url).status_code == 404, url
    assert "疾病预防控制中心" not in _get(app, "zzb1", "/units").get_data(as_text=True)

    with app.app_context():
        deploy("department:zzb", "组织部")  # 空编使用 goes to 组织部 for its 审核
        db.session.remove()
    routed = start(api("clerk1"), count=1)
    assert [c["number"] for c in zzb.get("/api/v1/cases").json] == [routed["number"]]
    assert zzb.get(f"/api/v1/cases/{routed['id']}").status_code == 200
    case_page = _get(app, "zzb1", f"/cases/{routed['id']}")
    assert case_page.status_code == 200 and routed["number"] in case_page.get_data(as_text=True)
    assert zzb.get(f"/api/v1/cases/{plain['id']}").status_code == 404  # still not the other one
    assert zzb.get(f"/api/v1/units/{CLERK1_UNIT}/establishment").json[0]["approved"] == 40
    page = _get(app, "zzb1", f"/units/{CLERK1_UNIT}").get_data(as_text=True)
    person = _first_person(app, CLERK1_UNIT)
    assert "核定" in page and person not in page  # the unit's figures, not its people
    for url, refused in [(f"/api/v1/units/{CLERK2_UNIT}/establishment", 404), (f"/units/{YUECHENG_LIBRARY}", 404),
                         (f"/people/{person}", 403), ("/documents", 403), ("/registers/units", 403),
                         ("/reconciliation", 403)]:
        assert _get(app, "zzb1", url).status_code == refused, url
    assert api("rsj1").get(f"/api/v1/cases/{routed['id']}").status_code == 404  # 人社局: not routed to it
    done = decide(zzb, only_task(routed))
    assert done.status_code == 200, done.json
    assert zzb.get(f"/api/v1/cases/{routed['id']}").status_code == 200  # a case it acted on stays readable


# --- landing pages and the navigation: what is shown is what the matrix allows -----------

USER_OF_ROLE = {"unit_clerk": "clerk1", "reviewer": "reviewer1", "leader": "leader1", "process_owner": "owner1",
                "admin": "admin", "auditor": "auditor1", "finance": "finance1", "partner": "zzb1"}


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
                       "process_owner": "/design", "admin": "/cases", "auditor": "/cases", "finance": None,
                       "partner": "/inbox"}


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
