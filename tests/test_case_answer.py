"""The case answer (GET /cases/<id>, and what a completion returns) builds its history and
attachments from plain columns; it must say exactly what the documented schemas say."""
import io

from bianzhi.api.schemas import AttachmentSchema, HistorySchema
from bianzhi.api.views import case_history
from bianzhi.cases.models import Attachment, Case
from bianzhi.extensions import db
from tests.fixtures.cases import decide, only_task, start
from tests.fixtures.inbox import at, beijing
from tests.fixtures.pages import user_client
from tests.conftest import csrf_token


def tiny_pdf():
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_history_and_attachments_read_as_columns_match_the_schemas(app, api):
    leader = user_client(app, "leader1")
    with at(beijing(2024, 10, 8)):
        token = csrf_token(leader, "/delegations")
        assert leader.post("/delegations", data={"csrf_token": token, "to": "reviewer2", "start_date": "2024-10-08",
                                                 "end_date": "2024-10-10"}).status_code == 302
        clerk = api("clerk1")
        case = start(clerk)
        for name in ("申请表.pdf", "说明.pdf"):
            assert clerk.post(f"/api/v1/cases/{case['id']}/attachments", data={"file": (io.BytesIO(tiny_pdf()), name)},
                              content_type="multipart/form-data").status_code == 201
        leader_task = only_task(decide(api("reviewer1"), only_task(case), opinion=None).json)
        done = decide(api("reviewer2"), leader_task, opinion="同意（代签）")  # on leader1's behalf
    assert done.status_code == 200, done.json
    answer = api("clerk1").get(f"/api/v1/cases/{case['id']}").json
    with app.app_context():
        row = db.session.get(Case, case["id"])
        expected_history = HistorySchema(many=True).dump(row.steps)
        expected_files = AttachmentSchema(many=True).dump(
            db.session.scalars(db.select(Attachment).where(Attachment.case_id == row.id).order_by(Attachment.id)))
        assert case_history(row.id) == expected_history
    assert answer["history"] == done.json["history"] == expected_history
    assert answer["attachments"] == done.json["attachments"] == expected_files
    assert [h["on_behalf_of"] for h in expected_history] == [None, None, "leader1"]
    assert expected_history[1]["opinion"] is None and len(expected_files) == 2
