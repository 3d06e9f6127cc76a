"""JSON shapes of the API (dump only; requests are validated by the form schemas)."""
from marshmallow import Schema, fields

from ..util import utc_iso


class UtcDateTime(fields.DateTime):
    """Stored timestamps are naive UTC; the API says so (ISO 8601 with +00:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return utc_iso(value)


class HistorySchema(Schema):
    step = fields.String(attribute="name")
    by = fields.Function(lambda s: s.user.display_name)
    username = fields.Function(lambda s: s.user.username)
    on_behalf_of = fields.Function(lambda s: s.on_behalf_of.username if s.on_behalf_of_id else None)
    decision = fields.String()
    opinion = fields.String(allow_none=True)
    at = UtcDateTime()


class TaskSchema(Schema):
    id = fields.String()
    case_id = fields.Integer()
    case_number = fields.Function(lambda t: t.case.number)
    name = fields.String()
    lane = fields.String()
    role = fields.String()
    form = fields.String(attribute="form_key")
    due = fields.Date(attribute="due_date", allow_none=True)
    created_at = UtcDateTime()
    due_state = fields.String(allow_none=True)  # ok / soon / overdue, None without a limit
    escalated = fields.Function(lambda t: t.escalated_at is not None)
    assignee = fields.Function(lambda t: t.assignee.username if t.assignee_id else None)
    case_title = fields.Function(lambda t: t.case.title)
    unit = fields.Function(lambda t: t.case.unit.code)
    unit_name = fields.Function(lambda t: t.case.unit.name)


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    link = fields.String(allow_none=True)
    created_at = UtcDateTime()
    read = fields.Function(lambda n: n.read_at is not None)


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_at = UtcDateTime()


class CaseSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    process = fields.String(attribute="process_key")
    version = fields.Function(lambda c: c.version.version)
    state = fields.String()
    state_label = fields.String()
    unit = fields.Function(lambda c: c.unit.code)
    unit_name = fields.Function(lambda c: c.unit.name)
    title = fields.String()
    data = fields.Dict()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)
    overdue = fields.Boolean()  # an open step is past its limit
    tasks = fields.List(fields.Nested(TaskSchema(exclude=("case_number",))), attribute="open_tasks")
    history = fields.List(fields.Nested(HistorySchema()), attribute="steps")


class NoticeSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    issued_at = UtcDateTime()
    verify_code = fields.String()
    url = fields.Function(lambda n: f"/api/v1/notices/{n.id}.pdf")
