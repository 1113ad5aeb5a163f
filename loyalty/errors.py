from practices.errors import DomainError
from practices.formatting import format_number


class LoyaltyError(DomainError):
    code = "loyalty_error"


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"
    status = 409

    def __init__(self, *, needed: int, available: int, field: str | None = None):
        self.needed = needed
        self.available = available
        super().__init__(
            f"Not enough points: {format_number(needed)} needed, {format_number(available)} available "
            f"({format_number(needed - available)} more needed).",
            field=field,
        )


class ActionLimitReached(LoyaltyError):
    code = "action_limit_reached"
    status = 409


class ActionNotAvailable(LoyaltyError):
    code = "action_not_available"


class InvalidPurchase(LoyaltyError):
    code = "invalid_purchase"


class InvalidRefund(LoyaltyError):
    code = "invalid_refund"


class DuplicateRefund(LoyaltyError):
    """A refund without an id, identical to one recorded moments ago: most likely the same request sent again."""

    code = "duplicate_refund"
    status = 409


class PatientNotFound(LoyaltyError):
    code = "patient_not_found"
    status = 404


class PurchaseNotFound(LoyaltyError):
    code = "not_found"
    status = 404


class AmbiguousMemberCode(LoyaltyError):
    code = "ambiguous_member_code"
    status = 409


class IdempotencyConflict(LoyaltyError):
    """An id the POS already used (for a purchase or refund) sent again for something else."""

    code = "idempotency_conflict"
    status = 409
