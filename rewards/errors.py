from practices.errors import DomainError


class RewardError(DomainError):
    code = "reward_refused"
    status = 409


class RewardUnavailable(RewardError):
    code = "reward_unavailable"


class OutOfStock(RewardError):
    code = "out_of_stock"


class TierRequired(RewardError):
    code = "tier_required"
    status = 403


class RedemptionLimitReached(RewardError):
    code = "limit_reached"


class VoucherNotFound(RewardError):
    code = "voucher_not_found"
    status = 404


class VoucherNotUsable(RewardError):
    """Cancelled or expired: it can't be used (a used voucher is reported by use_voucher, not raised)."""

    code = "voucher_not_usable"


class VoucherNotCancellable(RewardError):
    code = "voucher_not_cancellable"


class IdempotencyConflict(RewardError):
    """An Idempotency-Key sent again for another reward than the one it redeemed."""

    code = "idempotency_conflict"
