"""Faults: the database unreachable gives a clear 503; hostile uploads are refused."""
import io
import zipfile

from bianzhi import create_app
from bianzhi.extensions import db
from tests.conftest import csrf_token
from tests.fixtures.cases import start


def test_database_unreachable_gives_503_in_chinese():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/nowhere",
                      "TESTING": True})
    client = app.test_client()
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 503
    assert response.json["error"]["message"] == "服务暂不可用，请稍后重试"
    token = csrf_token(client, "/login")
    page = client.post("/login", data={"username": "clerk1", "password": "x", "csrf_token": token})
    assert page.status_code == 503 and "服务暂不可用" in page.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def _zip(entries, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_office_uploads_are_opened_and_zip_bombs_refused(api):
    clerk = api("clerk1")
    case = start(clerk)
    url = f"/api/v1/cases/{case['id']}/attachments"

    def upload(name, content):
        return clerk.post(url, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")

    bomb = _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "0" * (30 * 1024 * 1024)})
    response = upload("计划.docx", bomb)
    assert response.status_code == 422 and "疑似压缩炸弹" in response.json["error"]["message"]
    response = upload("名册.xlsx", _zip({"hello.txt": "not office"}))
    assert response.status_code == 422 and "不是有效的 Office 文件" in response.json["error"]["message"]
    response = upload("名册.xlsx", b"PK\x03\x04 truncated")
    assert response.status_code == 422 and "已损坏或不是 Office 文件" in response.json["error"]["fields"]["attachments"][0]
    response = upload("../../etc/申请表.docx", _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}))
    assert response.status_code == 201
    assert [a["filename"] for a in response.json] == ["申请表.docx"]  # the path is dropped


def test_script_in_a_form_field_is_shown_escaped(app, api):
    from tests.conftest import login
    from tests.fixtures.cases import application
    clerk = api("clerk1")
    case = clerk.post("/api/v1/cases", json={"process": "vacancy_use", "data": application(
        reason='<script>alert("x")</script><img src=x onerror=alert(1)>')}).json
    page = login(app.test_client(), "reviewer1").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_a_failing_write_during_upload_leaves_nothing(api, ctx, monkeypatch):
    """The disk filling up mid-request surfaces as a database error at write time: the whole
    transaction (case, steps, attachment) is rolled back and the user gets a 503."""
    from sqlalchemy import event, func, select
    from sqlalchemy.exc import OperationalError

    from bianzhi.cases.models import Attachment, Case
    from tests.conftest import csrf_token, login
    from tests.fixtures.cases import CLERK1_UNIT
    from tests.fixtures.pages import tiny_pdf
    clerk = api("clerk1")
    before = db.session.scalar(select(func.count()).select_from(Case))

    def disk_full(session, flush_context, instances):
        if any(isinstance(o, Attachment) for o in session.new):
            raise OperationalError("INSERT INTO attachments", {}, Exception("database or disk is full"))

    event.listen(db.session, "before_flush", disk_full)
    try:
        page_client = login(api("clerk1").client, "clerk1")
        form = {"csrf_token": csrf_token(page_client, "/window/start/vacancy_use"), "category": "事业编制",
                "count": "1", "channel": "调任", "reason": "测试", "unit": CLERK1_UNIT,
                "attachments": (io.BytesIO(tiny_pdf()), "申请表.pdf")}
        response = page_client.post("/window/start/vacancy_use", data=form, content_type="multipart/form-data")
        assert response.status_code == 503 and "服务暂不可用" in response.get_data(as_text=True)
    finally:
        event.remove(db.session, "before_flush", disk_full)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Case)) == before
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert clerk.get("/api/v1/cases").json == []
