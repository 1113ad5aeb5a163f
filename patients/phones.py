import phonenumbers

from practices.formatting import default_region, format_phone

from .errors import InvalidPhone

__all__ = ["default_region", "display_phone", "normalize_phone"]


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
    """A number written the way the practice's patients read it (practices.formatting.format_phone)."""
    return format_phone(e164)
