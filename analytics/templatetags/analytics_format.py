"""Formatting for the dashboard: the selectors hand over integers (points, cents) and fractions."""

from django import template

register = template.Library()


@register.filter
def number(value) -> str:
    """12345 → 12,345 (— for nothing)."""
    if value is None or value == "":
        return "—"
    return f"{value:,}"


@register.filter
def dollars(cents) -> str:
    """Integer cents → $1,234.56 (a minus sign before negative amounts, — for nothing)."""
    if cents is None:
        return "—"
    sign = "−" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


@register.filter
def percent(fraction) -> str:
    """0.1234 → 12.3% (— when there was nothing to divide by)."""
    if fraction is None:
        return "—"
    return f"{fraction * 100:.1f}%"


@register.filter
def trend(fraction) -> str:
    """A change from the previous period: +12%, 0%, or a minus sign and 5%; — when the previous period had none."""
    if fraction is None:
        return "—"
    rounded = round(fraction * 100)
    if rounded == 0:
        return "0%"
    return f"+{rounded:,}%" if rounded > 0 else f"−{abs(rounded):,}%"


@register.filter
def trend_class(fraction) -> str:
    if fraction is None or round(fraction * 100) == 0:
        return "flat"
    return "up" if fraction > 0 else "down"
