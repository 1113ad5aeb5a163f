def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """The one JSON shape of every API error: {"error": {"code", "message", "fields"}}."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


class DomainError(Exception):
    """A request the clinic's rules refuse. Every app's errors derive from it.

    `message` is written for the person who asked; `field` names the input at fault, if one;
    the API answers with `status` and the shared error body.
    """

    code = "refused"
    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class PracticeError(DomainError):
    code = "practice_error"


class InvalidSlug(PracticeError):
    code = "invalid_slug"


class SlugTaken(PracticeError):
    code = "slug_taken"
    status = 409


class InvalidOwner(PracticeError):
    code = "invalid_owner"


class PlatformDomainRefused(PracticeError):
    code = "platform_domain_refused"
