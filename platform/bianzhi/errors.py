"""Domain errors. Business rules raise these; the web layer turns them into a
page message or a JSON body {"error": {"code", "message", "fields"}}."""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, fields=None, code=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def as_json(self):
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class DefinitionError(DomainError):
    """A BPMN or form file that cannot be deployed; fields map element ids to problems."""
    status = 422
    code = "invalid_definition"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class RateLimited(DomainError):
    """Too soon to do it again (e.g. urging the same step twice within the interval)."""
    status = 429
    code = "rate_limited"


class RoleDenied(Forbidden):
    """Refused by the access matrix (the role may not use this route at all)."""


class Unavailable(DomainError):
    """A helper process the request needs failed; trying again later may work."""
    status = 503
    code = "unavailable"
