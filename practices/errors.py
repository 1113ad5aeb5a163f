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


class TeamError(PracticeError):
    """The owner's change to the team is refused (practices.team)."""

    code = "team_error"


class LastOwner(TeamError):
    code = "last_owner"
    status = 409


class InviteLinkUnusable(TeamError):
    """An invitation link that cannot be used: `reason` is one of the REASONS below."""

    code = "invite_link_unusable"
    status = 410
    UNKNOWN, REPLACED, EXPIRED, ACCEPTED, REVOKED = "unknown", "replaced", "expired", "accepted", "revoked"

    def __init__(self, message: str, *, reason: str, invite=None):
        super().__init__(message)
        self.reason = reason
        self.invite = invite
        if reason == self.UNKNOWN:
            self.status = 404
