"""机构编制文件库: registering (PDF checks, unique numbers), full-text search of Chinese on SQLite
and PostgreSQL, unit scope, audited downloads, links and the chronicle."""
import io
from datetime import date

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, update

from bianzhi.accounts.models import User
from bianzhi.audit.models import AuditEntry
from bianzhi.documents import operations as documents
from bianzhi.documents.models import Document, DocumentLink
from bianzhi.documents.search import search
from bianzhi.documents.text import Query, index_text
from bianzhi.errors import Conflict, ValidationFailed
from bianzhi.extensions import db
from bianzhi.ledger.models import ChronicleEntry, Unit
from tests.conftest import csrf_token, login
from tests.fixtures.pages import tiny_pdf

# the demo: 2 三定规定 (B01 疾控中心, A04 卫生健康局) and one 批复 per unit (11 units)
B01_SANDING, B01_PIFU, B02_PIFU = "柯编〔2019〕8号", "绍县编〔2001〕28号", "绍县编〔2001〕31号"


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


def unit(suffix):
    return db.session.scalar(select(Unit).where(Unit.code == f"12330621{suffix}000000X"))


def doc_of_unit(code):
    return db.session.scalar(select(Unit.approval_doc).where(Unit.code == code))


def numbers(username, **kw):
    return sorted(hit.document.number for hit in search(user(username), **kw).hits)


def doc(number):
    return documents.by_number(number)


def test_bigrams_index_chinese_and_queries_are_phrases():
    assert index_text("机构编制 柯编〔2024〕12号") == "机构 构编 编制 柯编 2024 12 号"
    query = Query("控制中心 2019")
    assert query.phrases == [["控制", "制中", "中心"]] and query.prefixes == ["2019"]
    assert query.fts5() == '"控制 制中 中心" AND "2019"*'
    assert query.tsquery() == "('控制' <-> '制中' <-> '中心') & '2019':*"


def test_the_demo_library_and_unit_scope(ctx):
    # the installation: 柯桥's 13 documents and the 批复 of 越城's 4 units
    assert db.session.scalar(select(func.count()).select_from(Document)) == 17
    assert numbers("reviewer1", per_page=50).__len__() == 13  # 柯桥's office reads 柯桥's library
    assert numbers("clerk1") == sorted([B01_SANDING, B01_PIFU])
    assert numbers("clerk2") == [B02_PIFU]
    assert numbers("owner1") == []  # not a reader of the ledger
    yuecheng = numbers("reviewer_b1", per_page=50)
    assert len(yuecheng) == 4 and all(n.startswith("越编〔2001〕") for n in yuecheng)
    assert numbers("auditor1", per_page=50) == numbers("reviewer1", per_page=50)
    assert len(numbers("city_reviewer1", per_page=50)) == 17  # the city reads both districts
    assert numbers("zzb1") == [] and numbers("clerk_b1") == [doc_of_unit("12330602B01000000X")]
    # the demo's starting ledger has no history: no chronicle entries for the documents
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)) == 0


@pytest.mark.parametrize("q, expected", [
    ("疾病", 3),  # B01 三定 (title, body), A04 三定 (body names the CDC), B01 批复 (title)
    ("控制中心", 3),
    ("疾病中心", 0),  # both words are there, never adjacent: a phrase, not a bag of characters
    ("病疾", 0),
    ("内设", 2),  # the two 三定规定 (内设机构)
    ("内设 卫生健康局", 1),  # two words: both must appear
    ("馆", 1),  # one character: a scan, only 档案馆's 批复 has it
    ("编制", 13),
])
def test_full_text_finds_two_character_words(ctx, q, expected):
    assert search(user("reviewer1"), q=q, per_page=50).total == expected


def test_search_by_number_and_by_unit(ctx):
    assert numbers("reviewer1", q="柯编〔2019〕8号") == [B01_SANDING]
    assert numbers("reviewer1", q="绍县编〔2001〕31号") == [B02_PIFU]
    assert numbers("reviewer1", q="绍县编[2001]31号") == [B02_PIFU]
    assert numbers("reviewer1", unit_id=unit("B01").id) == sorted([B01_SANDING, B01_PIFU])
    assert numbers("reviewer1", unit_id=unit("A04").id, q="内设") == ["柯委办发〔2019〕31号"]
    # linked unit names are indexed too: a title that does not name the unit is found by it
    documents.register(user("reviewer1"), "柯编〔2026〕3号", "关于调整内设机构的批复", date(2026, 3, 1),
                       unit_ids=[unit("B02").id], body_text="同意撤销业务二科。")
    db.session.commit()
    assert numbers("reviewer1", q="档案馆 内设") == ["柯编〔2026〕3号"]
    assert numbers("clerk2", q="内设") == ["柯编〔2026〕3号"]
    assert numbers("clerk1", q="内设") == [B01_SANDING]  # the A04 三定 is not clerk1's
    results = search(user("reviewer1"), per_page=5, page=3)
    assert (results.total, results.pages, results.page, len(results.hits)) == (14, 3, 3, 4)


def test_register_is_idempotent_by_number_and_chronicled(ctx):
    reviewer, b02, b03 = user("reviewer1"), unit("B02"), unit("B03")
    first = documents.register(reviewer, " 柯编[2026] 5号 ", "关于核定编制的批复", "2026-02-03",
                               unit_ids=[b02.id], body_text="核定事业编制12名")
    again = documents.register(reviewer, "柯编〔2026〕5号", "别的标题", date(2026, 1, 1), unit_ids=[b02.id, b03.id])
    db.session.commit()
    assert again.id == first.id and first.number == "柯编〔2026〕5号" and first.title == "关于核定编制的批复"
    assert sorted(link.unit_id for link in first.links) == sorted([b02.id, b03.id])
    entries = db.session.scalars(select(ChronicleEntry).order_by(ChronicleEntry.id)).all()
    assert [(e.action, e.unit_id, e.user_id) for e in entries] == [
        ("register", b02.id, reviewer.id), ("link_unit", b02.id, reviewer.id), ("link_unit", b03.id, reviewer.id)]
    assert all(e.entity == "document" and e.entity_id == first.id and e.delta is None for e in entries)
    entry = entries[0]
    assert documents.link(first, chronicle_entry=entry) is documents.link(first, chronicle_entry=entry)
    assert db.session.scalar(select(func.count()).select_from(DocumentLink)
                             .where(DocumentLink.document_id == first.id)) == 3


@pytest.mark.parametrize("number, title, issued_on, field", [
    ("", "标题", "2026-01-01", "number"), ("号" * 65, "标题", "2026-01-01", "number"),
    ("柯编〔2026〕9号", " ", "2026-01-01", "title"), ("柯编〔2026〕9号", "标题", "2026-13-01", "issued_on"),
])
def test_register_refuses_bad_input_in_chinese(ctx, number, title, issued_on, field):
    with pytest.raises(ValidationFailed) as caught:
        documents.register(user("reviewer1"), number, title, issued_on)
    assert field in caught.value.fields and caught.value.message.startswith("文件登记信息有误")


def _upload(client, pdf=None, **fields):
    data = {"csrf_token": csrf_token(client, "/documents/new"), "number": "柯编〔2026〕20号",
            "title": "关于同意区档案馆增加事业编制的批复", "issued_on": "2026-04-01", "kind": "批复",
            "issuer": "中共绍兴市柯桥区委机构编制委员会办公室", "body_text": "", **fields}
    if pdf is not None:
        data["pdf"] = (io.BytesIO(pdf), "批复.pdf")
    return client.post("/documents", data=data, content_type="multipart/form-data")


def test_upload_refuses_a_non_pdf_and_a_too_large_pdf(app, client):
    login(client, "reviewer1")
    response = _upload(client, pdf=b"PK\x03\x04 not a pdf at all")
    assert response.status_code == 422 and "不是 PDF" in response.get_data(as_text=True)
    app.config["DOCUMENT_PDF_MAX_BYTES"] = 1024
    try:
        response = _upload(client, pdf=tiny_pdf() + b" " * 1024)
        assert response.status_code == 422 and "超过大小上限" in response.get_data(as_text=True)
    finally:
        del app.config["DOCUMENT_PDF_MAX_BYTES"]
    with app.app_context():
        assert documents.by_number("柯编〔2026〕20号") is None


def test_upload_extracts_pdf_text_then_download_is_verified_and_audited(app, client):
    from weasyprint import HTML
    pdf = HTML(string="<p>经研究，同意区档案馆增加事业编制2名，用于数字档案工作。</p>").write_pdf()
    login(client, "reviewer1")
    with app.app_context():
        b02 = unit("B02").id
    response = _upload(client, pdf=pdf, unit_ids=[str(b02)])
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    with app.app_context():
        document = doc("柯编〔2026〕20号")
        document_id = document.id
        assert "数字档案" in document.body_text and document.pdf_size == len(pdf)
        assert numbers("clerk2", q="数字") == ["柯编〔2026〕20号"]  # found by a word only the PDF has
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.target == f"document:{document_id}")) \
            == "document.register"
    again = _upload(client, pdf=tiny_pdf())
    assert again.status_code == 409 and "已登记" in again.get_data(as_text=True)

    clerk = login(client.application.test_client(), "clerk2")
    response = clerk.get(f"/documents/{document_id}/pdf")
    assert response.status_code == 200 and response.data == pdf
    assert response.headers["Content-Disposition"].startswith("attachment;")
    with app.app_context():
        downloads = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "document.download")).all()
        assert [(a.target, a.user_id) for a in downloads] == [(f"document:{document_id}", user("clerk2").id)]
        db.session.execute(update(Document).where(Document.id == document_id).values(pdf=pdf[:-1] + b"x"))
        db.session.commit()
    assert clerk.get(f"/documents/{document_id}/pdf").status_code == 409  # tampered: refused
    other = login(client.application.test_client(), "clerk1")
    assert other.get(f"/documents/{document_id}/pdf").status_code == 404  # not clerk1's unit


def test_pages_scope_highlight_and_unit_page(app, client):
    login(client, "clerk1")
    page = client.get("/documents?q=疾病").get_data(as_text=True)
    assert "<mark>疾病</mark>" in page and B01_SANDING in page and "柯委办发" not in page
    with app.app_context():
        b02_pifu, b01_sanding = doc(B02_PIFU).id, doc(B01_SANDING).id
        code = unit("B01").code
    assert client.get(f"/documents/{b02_pifu}").status_code == 404
    assert "主要职责" in client.get(f"/documents/{b01_sanding}").get_data(as_text=True)
    assert B01_SANDING in client.get(f"/units/{code}").get_data(as_text=True)
    assert client.get("/documents/new").status_code == 403


def test_adding_a_unit_link_is_chronicled_audited_and_widens_scope(app, client):
    login(client, "reviewer1")
    with app.app_context():
        document_id, b02 = doc(B01_SANDING).id, unit("B02").id
    token = csrf_token(client, f"/documents/{document_id}")
    assert client.post(f"/documents/{document_id}/links", data={"csrf_token": token, "unit_id": b02}).status_code == 302
    assert client.post(f"/documents/{document_id}/links", data={"csrf_token": token, "unit_id": b02}).status_code == 409
    with app.app_context():
        entry = db.session.scalar(select(ChronicleEntry))
        assert (entry.entity, entry.entity_id, entry.action, entry.unit_id) == ("document", document_id, "link_unit", b02)
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.target == f"document:{document_id}")) \
            == "document.link"
        assert B01_SANDING in numbers("clerk2")


def test_json_api_is_scoped(api):
    reviewer, clerk = api("reviewer1"), api("clerk1")
    assert reviewer.get("/api/v1/documents?q=内设").json["total"] == 2
    body = clerk.get("/api/v1/documents?q=内设").json
    assert [item["number"] for item in body["items"]] == [B01_SANDING]
    detail = clerk.get(f"/api/v1/documents/{body['items'][0]['id']}").json
    assert detail["kind"] == "三定规定" and "事业编制40名" in detail["body_text"]
    other = reviewer.get("/api/v1/documents?q=柯委办发").json["items"][0]["id"]
    assert clerk.get(f"/api/v1/documents/{other}").status_code == 404


def test_the_full_text_revision_follows_the_regenerated_initial_one(app):
    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    script = ScriptDirectory.from_config(config)
    mine = script.get_revision("d0c5f7a91b21")
    assert script.get_revision(mine.down_revision).doc.startswith("initial schema")
    assert "d0c5f7a91b21" in {r.revision for r in script.walk_revisions()}


def test_register_refuses_a_taken_number_only_on_the_upload_path(ctx):
    with pytest.raises(Conflict):
        documents.upload(user("admin"), B01_SANDING, "x", "2026-01-01", "批复", None, [], "", None)


def test_a_renamed_unit_is_found_by_its_new_name(app):
    with app.app_context():
        unit("B02").name = "绍兴市柯桥区档案局"
        db.session.commit()
        assert numbers("reviewer1", q="档案局") == [B02_PIFU]  # the rename rewrote the search text
        db.session.execute(update(Document).values(search_text=""))  # e.g. a tokenizer change
        db.session.commit()
        assert numbers("reviewer1", q="档案局") == []
    result = app.test_cli_runner().invoke(args=["documents", "reindex"])
    assert result.exit_code == 0 and "已重建 17 件" in result.output, result.output  # the installation's
    with app.app_context():
        assert numbers("reviewer1", q="档案局") == [B02_PIFU]


def test_cli_registers_a_pdf_with_its_units(app, tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(tiny_pdf("quota 2026"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["documents", "add", str(path), "--number", "柯编〔2026〕30号", "--title",
                                 "关于融媒体中心编制的批复", "--date", "2026-05-06", "--unit", "12330621B05000000X"])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"GIF89a")
    result = runner.invoke(args=["documents", "add", str(bad), "--number", "柯编〔2026〕31号", "--title", "x",
                                 "--date", "2026-05-06"])
    assert result.exit_code == 1 and "不是 PDF" in result.output
    with app.app_context():
        assert numbers("clerk3", q="quota") == ["柯编〔2026〕30号"]  # the PDF's own text, in clerk3's unit
        assert documents.by_number("柯编〔2026〕31号") is None


def test_detail_shows_what_the_document_grounded_within_scope(app, client):
    from bianzhi.ledger.operations import chronicle
    with app.app_context():
        reviewer, b01, b02 = user("reviewer1"), unit("B01"), unit("B02")
        document = documents.register(reviewer, "柯编〔2026〕40号", "关于两单位内设机构调整的批复", date(2026, 6, 1),
                                      unit_ids=[b01.id, b02.id])
        for target, text in ((b01, "疾控中心撤销业务二科"), (b02, "档案馆增设数字档案科")):
            entry = chronicle(reviewer, None, target, "department", target.id, "change", text)
            documents.link(document, unit=target, chronicle_entry=entry, user=reviewer)
        db.session.commit()
        document_id = document.id
    page = login(client, "clerk1").get(f"/documents/{document_id}").get_data(as_text=True)
    assert "疾控中心撤销业务二科" in page and "档案馆增设数字档案科" not in page and "区档案馆" not in page
    page = login(client.application.test_client(), "auditor1").get(f"/documents/{document_id}").get_data(as_text=True)
    assert "疾控中心撤销业务二科" in page and "档案馆增设数字档案科" in page


def test_numbers_beyond_any_key_find_nothing_instead_of_failing(client):
    login(client, "reviewer1")
    page = client.get("/documents?unit=99999999999999999999&page=99999999999999999999")
    assert page.status_code == 200
