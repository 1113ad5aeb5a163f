"""Demo patients for `seed_demo`: a few hundred believable patients who joined over the past year."""

import random
from datetime import date, timedelta

from django.utils import timezone

from practices.demo import OPTIONS
from practices.models import Practice

from .models import Activity, Patient
from .services import create_patient, record_activity

FIRST_NAMES = [
    "Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn", "Abigail", "Emily",
    "Ella", "Elizabeth", "Camila", "Luna", "Sofia", "Avery", "Mila", "Aria", "Scarlett", "Penelope", "Layla",
    "Chloe", "Victoria", "Madison", "Eleanor", "Grace", "Nora", "Riley", "Zoey", "Hannah", "Hazel", "Lily",
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry", "Theodore", "Jack",
    "Daniel", "Michael", "Mateo", "Sebastian", "David", "Joseph", "Samuel", "Carter", "Owen", "Wyatt",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kim", "Patel", "Chen", "Cohen",
]  # fmt: skip
# 555-0100 to 555-0199 are reserved for fiction in North America; several area codes give enough numbers.
AREA_CODES = ["415", "628", "650", "510", "925"]
CONSENT_TEXT = "Yes, text me offers and news from the practice. Reply STOP to opt out, HELP for help."


def demo_phone(index: int) -> str:
    return f"+1{AREA_CODES[index // 100]}555{100 + index % 100:04d}"


def seed_patients(practice: Practice) -> None:
    """Create the demo patients once; a second run leaves existing ones alone."""
    rng = random.Random(20261123)
    now = timezone.now()
    existing = set(Patient.objects.values_list("user__phone", flat=True))
    for index in range(min(OPTIONS["patients"], len(AREA_CODES) * 100)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        days_ago = int(rng.triangular(0, 365, 40))
        joined_at = now - timedelta(days=days_ago, minutes=rng.randint(0, 600))
        birthday = date(rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28))
        consent = rng.random() < 0.7
        source = rng.choices(
            [Patient.Source.QR, Patient.Source.INVITE_CODE, Patient.Source.DESK, Patient.Source.IMPORT],
            weights=[5, 3, 2, 1],
        )[0]
        phone = demo_phone(index)
        if phone in existing:
            continue
        patient = create_patient(
            phone=phone,
            first_name=first,
            last_name=last,
            email=f"{first}.{last}{index}@example.com".lower() if rng.random() < 0.6 else "",
            birthday=birthday,
            source=source,
            signup_code=practice.invite_code if source == Patient.Source.INVITE_CODE else "",
        )
        Patient.objects.filter(pk=patient.pk).update(
            created_at=joined_at,
            joined_at=joined_at,
            terms_accepted_at=joined_at,
            sms_consent=consent,
            sms_consent_at=joined_at if consent else None,
            sms_consent_text=CONSENT_TEXT if consent else "",
        )
        activity = record_activity(patient=patient, kind=Activity.Kind.JOINED, summary="Joined the rewards program")
        Activity.objects.filter(pk=activity.pk).update(created_at=joined_at)
