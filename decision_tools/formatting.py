"""Numbers for people: masses with a sensible unit, shares as percent (only on screen)."""

from __future__ import annotations

import math

_MASS_UNITS = ((1e6, "kt"), (1e3, "t"), (1.0, "kg"), (1e-3, "g"), (1e-6, "mg"))


def format_mass(kg: float, digits: int = 3) -> str:
    """A mass in kg written with a unit that keeps the number readable: 1234.5 -> '1.23 t'."""
    if kg is None or (isinstance(kg, float) and math.isnan(kg)):
        return "n/a"
    if kg == 0:
        return "0 kg"
    magnitude = abs(kg)
    for factor, unit in _MASS_UNITS:
        if magnitude >= factor:
            break
    value = kg / factor
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value))))) if value else 0
    return f"{value:,.{decimals}f} {unit}"


def format_share(share: float, decimals: int = 1) -> str:
    """A share 0..1 as percent text: 0.253 -> '25.3 %'."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "n/a"
    return f"{share * 100:.{decimals}f} %"


_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:")


def escape_markdown(text: object, max_length: int = 60) -> str:
    """User or URL text made inert for Markdown (no links, images, HTML or formatting), shortened."""
    value = str(text)
    if len(value) > max_length:
        value = value[: max_length - 1] + "…"
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in value)
