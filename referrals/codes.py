"""System-assigned referral codes: a few letters of the owner's name and three random characters,
e.g. JANE4K7. No 0/O or 1/I/L anywhere, so a code read aloud or off a poster is typed right."""

import secrets
import unicodedata

from django.db import IntegrityError, transaction

from patients.models import Patient
from practices.models import CODE_ALPHABET, CodeDirectory, StaffMember
from practices.selectors import current_practice

from .models import Partner, ReferralCode

NAME_LETTERS = 4
RANDOM_CHARACTERS = 3


def name_part(name: str) -> str:
    """Up to four unambiguous capital letters of a name ("Zoë" → "ZE", "Olivia" → "VA")."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().upper()
    letters = [ch for ch in ascii_name if ch.isalpha() and ch in CODE_ALPHABET]
    return "".join(letters[:NAME_LETTERS]) or "REF"


def new_code(name: str) -> str:
    return name_part(name) + "".join(secrets.choice(CODE_ALPHABET) for _ in range(RANDOM_CHARACTERS))


def _create(*, name: str, **owner) -> ReferralCode:
    practice = current_practice()
    for _ in range(20):
        try:
            with transaction.atomic():
                code = new_code(name)
                # The platform-wide directory makes the code unique across practices too.
                CodeDirectory.objects.create(code=code, practice=practice)
                return ReferralCode.objects.create(code=code, **owner)
        except IntegrityError:
            # Another code with these characters, or the owner got one meanwhile.
            existing = ReferralCode.objects.filter(**{k: v for k, v in owner.items() if k != "owner_kind"}).first()
            if existing:
                return existing
    raise RuntimeError("Could not find a free referral code.")


def code_for_patient(patient: Patient) -> ReferralCode:
    existing = ReferralCode.objects.filter(patient=patient).first()
    return existing or _create(name=patient.user.first_name, owner_kind=ReferralCode.OwnerKind.PATIENT, patient=patient)


def code_for_staff(member: StaffMember) -> ReferralCode:
    existing = ReferralCode.objects.filter(staff=member).first()
    return existing or _create(name=member.user.first_name, owner_kind=ReferralCode.OwnerKind.STAFF, staff=member)


def code_for_partner(partner: Partner) -> ReferralCode:
    existing = ReferralCode.objects.filter(partner=partner).first()
    return existing or _create(name=partner.name, owner_kind=ReferralCode.OwnerKind.PARTNER, partner=partner)
