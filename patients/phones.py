import phonenumbers
from django.db import connection

from .errors import InvalidPhone


def default_region() -> str:
    practice = getattr(connection, "tenant", None)
    return getattr(practice, "country", None) or "US"


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """The number in E.164 (+15551234567), read in the practice's country unless it starts with +.

    Raises InvalidPhone with a message for the patient.
    """
    raw = (raw or "").strip()
    if not raw:
        raise InvalidPhone("Enter your mobile number.", field="phone")
    try:
        number = phonenumbers.parse(raw, region or default_region())
    except phonenumbers.NumberParseException:
        raise InvalidPhone("That doesn't look like a phone number. Check it and try again.", field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("That phone number isn't valid. Check the digits and the area code.", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """A number written the way the practice's patients read it."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == default_region():
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
