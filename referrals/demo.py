"""Demo referrals for `seed_demo`: partners, milestones, codes for everyone, and about one patient in six
referred at sign-up by another patient, a staff member or a partner. It runs before the year of
purchases, which then qualifies and rewards those referrals as it goes (seed_demo runs tasks inline)."""

import random
from datetime import timedelta

import time_machine
from django.utils import timezone

from patients.models import Patient
from practices import audit
from practices.models import Practice, StaffMember

from . import services
from .codes import code_for_partner, code_for_patient, code_for_staff
from .models import Milestone, Partner, Referral, RewardKind, Visit

PARTNERS = [
    # name, kind, contact, their own new-patient reward in points (None = program default)
    ("Bella Beauty Blog", Partner.Kind.INFLUENCER, "Bella Stone", 500),
    ("Downtown Yoga Studio", Partner.Kind.COMMUNITY, "Priya Shah", None),
]
MILESTONES = [(3, 1_000), (5, 2_000), (10, 5_000)]
DEMO = audit.System("manage.py seed_demo")


def seed_referrals(practice: Practice) -> None:
    if Referral.objects.exists():
        return
    rng = random.Random(6006)
    for count, points in MILESTONES:
        Milestone.objects.get_or_create(count=count, defaults={"points": points})
    partners = []
    for name, kind, contact, points in PARTNERS:
        partner = Partner.objects.filter(name=name).first() or Partner(name=name, kind=kind, contact_name=contact)
        if points is not None:
            partner.referee_reward_kind, partner.referee_points = RewardKind.POINTS, points
        partners.append(code_for_partner(services.save_partner(partner=partner, actor=DEMO)))
    staff = [code_for_staff(member) for member in StaffMember.objects.select_related("user")]

    patients = list(Patient.objects.filter(status=Patient.Status.ACTIVE).select_related("user").order_by("joined_at"))
    for patient in patients:
        code_for_patient(patient)
    # A few enthusiastic patients bring most friends, as in real practices.
    champions = [code_for_patient(p) for p in patients[: max(3, len(patients) // 6)] if rng.random() < 0.35]
    champions = champions or [code_for_patient(p) for p in patients[:1]]
    for friend in patients[len(patients) // 6 :]:
        if rng.random() > 0.17 or friend.joined_at is None:
            continue
        owner = rng.choices(["patient", "staff", "partner"], weights=[6, 2, 2])[0]
        pool = {"patient": champions, "staff": staff, "partner": partners}[owner] or champions
        if not pool:
            continue
        code = rng.choice(pool)
        if code.patient_id and code.patient.joined_at and code.patient.joined_at >= friend.joined_at:
            continue  # a friend can only be referred by someone already a member
        source = rng.choices([Visit.Source.LINK, Visit.Source.QR, Visit.Source.SMS, Visit.Source.CODE], [4, 3, 2, 1])[0]
        with time_machine.travel(friend.joined_at, tick=False):
            if source != Visit.Source.CODE:
                for _ in range(rng.randint(1, 4)):
                    services.count_visit(code=code, source=source)
            Patient.objects.filter(pk=friend.pk).update(source=Patient.Source.REFERRAL, signup_code=code.code)
            services.record_signup(patient=friend, code=code.code, source=source)
    # Share links that were opened but not (yet) used to join.
    for code in [*champions, *staff, *partners]:
        for _ in range(rng.randint(2, 12)):
            with time_machine.travel(timezone.now() - timedelta(days=rng.uniform(0, 300)), tick=False):
                services.count_visit(code=code, source=rng.choice(Visit.Source.values[:3]))
