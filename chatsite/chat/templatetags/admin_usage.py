"""Filters of the admin's usage pages."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """An estimated cost in dollars: cents when it is over a dollar, else four decimals."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


@register.filter
def share(value, whole) -> str:
    """`value` as a percentage of `whole`, for an SVG attribute (never a locale's comma)."""
    return f"{100 * value / whole:.1f}" if whole else "0"


@register.filter
def num(value) -> str:
    """A count with thousands separators (1,234,567)."""
    return f"{value:,}" if isinstance(value, int) else str(value)
