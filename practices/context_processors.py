from .navigation import staff_sections
from .roles import staff_member_of
from .selectors import branding, current_practice_or_none


def practice(request) -> dict:
    """The current practice, its branding and the staff navigation (nothing on the platform host)."""
    current = current_practice_or_none()
    if current is None:
        return {"practice": None}
    member = staff_member_of(request.user) if hasattr(request, "user") else None
    return {
        "practice": current,
        "brand": branding(current),
        "staff_member": member,
        "staff_nav": staff_sections(member, request.path) if member else [],
    }
