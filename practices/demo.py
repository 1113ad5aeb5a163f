"""Demo data for `manage.py seed_demo`. Idempotent: every step looks before it creates.

Later features add a step to DEMO_STEPS (a function taking the demo practice, run inside its
schema) to seed their own data: patients, purchases, rewards, referrals.
"""

from dataclasses import dataclass

from accounts.models import User

from .models import Practice, StaffMember
from .services import add_staff_member, create_practice


@dataclass(frozen=True)
class DemoLogin:
    role: str
    name: str
    email: str
    password: str


DEMO_SLUG = "demo"
DEMO_NAME = "Glow Aesthetics (demo)"
DEMO_STAFF = [
    DemoLogin("owner", "Olivia Owens", "owner@demo.example", "demo-owner-pass"),
    DemoLogin("manager", "Marcus Meyer", "manager@demo.example", "demo-manager-pass"),
    DemoLogin("front_desk", "Fiona Diaz", "desk@demo.example", "demo-desk-pass"),
]


def ensure_demo_practice() -> Practice:
    practice = Practice.objects.filter(slug=DEMO_SLUG).first()
    if practice is None:
        owner = DEMO_STAFF[0]
        first, last = owner.name.split(" ", 1)
        practice = create_practice(
            name=DEMO_NAME,
            slug=DEMO_SLUG,
            owner_email=owner.email,
            owner_first_name=first,
            owner_last_name=last,
            owner_password=owner.password,
        ).practice
    return practice


def seed_staff(practice: Practice) -> None:
    for login in DEMO_STAFF:
        first, last = login.name.split(" ", 1)
        user = User.objects.filter(email__iexact=login.email).first()
        if user is None:
            add_staff_member(
                email=login.email, role=login.role, password=login.password, first_name=first, last_name=last
            )
            continue
        # Keep the printed demo passwords true even if someone changed them while exploring.
        user.set_password(login.password)
        user.save(update_fields=["password"])
        StaffMember.objects.update_or_create(
            user=user, defaults={"role": login.role, "is_active": True, "must_change_password": False}
        )


# How much demo data the steps create; `seed_demo --patients N` changes it (tests use a few).
OPTIONS = {"patients": 300}

DEMO_STEPS = [seed_staff]


def register_demo_step(step, *, before=None) -> None:
    """Higher apps add their demo data (called from their AppConfig.ready); steps run in order.

    `before` puts the step ahead of another one (e.g. referrals made at sign-up, before the year of
    purchases that qualifies them)."""
    if step in DEMO_STEPS:
        return
    if before is not None and before in DEMO_STEPS:
        DEMO_STEPS.insert(DEMO_STEPS.index(before), step)
    else:
        DEMO_STEPS.append(step)
