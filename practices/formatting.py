"""One way to write numbers, money and phone numbers on pages, texts and emails.

Every page goes through the template filters in practices/templatetags/formatting.py, and Python code that
builds a sentence shown to a person (a message after a form, a text, a timeline summary) calls these
functions, so a number reads the same everywhere: `12,345 points`, `$1,234.50`, `(628) 555-0107`.
Money is always integer cents in the practice's currency (Practice.currency).
"""

from decimal import Decimal

import phonenumbers

# The currencies a practice may keep its prices in: each has cents (two decimals), so integer cents hold
# every amount. The symbol is the one the practice's own patients read ("$" in Canada means dollars).
CURRENCIES: dict[str, tuple[str, str]] = {
    "USD": ("$", "US dollar ($)"),
    "CAD": ("$", "Canadian dollar ($)"),
    "AUD": ("$", "Australian dollar ($)"),
    "NZD": ("$", "New Zealand dollar ($)"),
    "MXN": ("$", "Mexican peso ($)"),
    "GBP": ("£", "Pound sterling (£)"),
    "EUR": ("€", "Euro (€)"),
    "CHF": ("CHF\u00a0", "Swiss franc (CHF)"),
}
DEFAULT_CURRENCY = "USD"
CURRENCY_CHOICES = [(code, label) for code, (_, label) in CURRENCIES.items()]
MINUS = "\u2212"  # a real minus sign: "−$12.00", not a hyphen
NOTHING = "—"


def _practice_setting(name: str, default: str) -> str:
    """A setting of the practice the connection is in (the default on the platform's own schema)."""
    from .selectors import current_practice_or_none  # the models import this module

    practice = current_practice_or_none()
    return getattr(practice, name, None) or default


def current_currency() -> str:
    """The currency of the practice the connection is in (USD on the platform host)."""
    return _practice_setting("currency", DEFAULT_CURRENCY)


def currency_symbol(currency: str | None = None) -> str:
    return CURRENCIES.get(currency or current_currency(), CURRENCIES[DEFAULT_CURRENCY])[0]


def format_number(value: int | None) -> str:
    """12345 → "12,345" (— for nothing)."""
    if value is None or value == "":
        return NOTHING
    return f"{int(value):,}"


def format_points(value: int) -> str:
    """1 → "1 point", 262197 → "262,197 points"."""
    return f"{int(value):,} point" if abs(int(value)) == 1 else f"{int(value):,} points"


def format_signed(value: int) -> str:
    """A change of points: 1234 → "+1,234", -50 → "-50" (with a minus sign), 0 → "0"."""
    value = int(value)
    return f"+{value:,}" if value > 0 else f"{MINUS}{abs(value):,}" if value < 0 else "0"


def format_money(cents: int | None, *, currency: str | None = None, whole: bool = False) -> str:
    """Integer cents → "$1,234.56" in the practice's currency; a minus sign before a negative amount, — for
    nothing. `whole` drops ".00" from a round amount ("$50", but still "$49.50")."""
    if cents is None or cents == "":
        return NOTHING
    cents = int(cents)
    amount = Decimal(abs(cents)) / 100
    digits = f"{amount:,.0f}" if whole and cents % 100 == 0 else f"{amount:,.2f}"
    return f"{MINUS if cents < 0 else ''}{currency_symbol(currency)}{digits}"


def format_amount(cents: int | None) -> str:
    """Integer cents → "1234.56": an amount as typed into a form field or written to a CSV file."""
    return "" if cents is None or cents == "" else f"{Decimal(int(cents)) / 100:.2f}"


def default_region() -> str:
    """The practice's country: numbers are read and written as its patients do."""
    return _practice_setting("country", "US")


def format_phone(e164: str | None) -> str:
    """A stored number (E.164) written the way the practice's patients read it: national format for a number
    of the practice's country ("(628) 555-0107"), international for any other ("+44 20 7946 0018")."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(str(e164), None)
    except phonenumbers.NumberParseException:
        return str(e164)
    if phonenumbers.region_code_for_number(number) == default_region():
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
