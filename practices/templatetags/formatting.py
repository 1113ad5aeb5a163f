"""The formatting filters every page uses: `{% load formatting %}`.

    {{ account.balance|number }}        12,345
    {{ account.balance|points }}        12,345 points
    {{ entry.delta|signed }}            +1,234 or -50 (a minus sign)
    {{ purchase.total_cents|money }}    $1,234.50 (the practice's currency)
    {{ minimum_cents|money_whole }}     $50
    {{ patient.phone|phone }}           (628) 555-0107
    {{ rate|percent }}                  12.3%

Never write a number, an amount or a phone number on a page without one of these (tests/practices/
test_formatting.py scans the templates for it).
"""

from django import template

from practices import formatting

register = template.Library()


@register.filter
def number(value) -> str:
    """12345 → 12,345 (— for nothing)."""
    return formatting.format_number(value)


@register.filter
def points(value) -> str:
    """12345 → 12,345 points; 1 → 1 point (— for nothing)."""
    if value is None or value == "":
        return formatting.NOTHING
    return formatting.format_points(value)


@register.filter
def signed(value) -> str:
    """A change of points: +1,234, -50 (a minus sign), 0 (— for nothing)."""
    if value is None or value == "":
        return formatting.NOTHING
    return formatting.format_signed(value)


@register.filter
def money(cents) -> str:
    """Integer cents → $1,234.56 in the practice's currency (— for nothing)."""
    return formatting.format_money(cents)


@register.filter
def money_whole(cents) -> str:
    """Integer cents → $50 for a round amount, $49.50 otherwise."""
    return formatting.format_money(cents, whole=True)


@register.filter
def amount(cents) -> str:
    """Integer cents → 1234.56, as typed into a form field."""
    return formatting.format_amount(cents)


@register.simple_tag
def currency_symbol() -> str:
    return formatting.currency_symbol()


@register.filter
def phone(e164) -> str:
    """+16285550107 → (628) 555-0107 (a foreign number in international format)."""
    return formatting.format_phone(e164)


@register.filter
def percent(fraction) -> str:
    """0.1234 → 12.3% (— when there was nothing to divide by)."""
    if fraction is None:
        return formatting.NOTHING
    return f"{fraction * 100:,.1f}%"


@register.filter
def trend(fraction) -> str:
    """A change from the previous period: +12%, 0%, or a minus sign and 5%; — when the previous period had none."""
    if fraction is None:
        return formatting.NOTHING
    rounded = round(fraction * 100)
    if rounded == 0:
        return "0%"
    return f"+{rounded:,}%" if rounded > 0 else f"{formatting.MINUS}{abs(rounded):,}%"


@register.filter
def trend_class(fraction) -> str:
    if fraction is None or round(fraction * 100) == 0:
        return "flat"
    return "up" if fraction > 0 else "down"
