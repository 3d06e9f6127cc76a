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
