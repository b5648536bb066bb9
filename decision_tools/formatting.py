"""Numbers for people: masses with a sensible unit, shares as percent (only on screen)."""

from __future__ import annotations

import math
import re

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


_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:&=")
# Bare addresses (http://host, www.host, a@host.org) become links after the escapes are resolved, and
# Streamlit turns ":material/name:" into an icon before parsing, so a word joiner (U+2060, invisible) goes
# inside them: the text reads the same and links nowhere.
_WORD_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(?<=:)(?=//|material/)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def escape_markdown(text: object, max_length: int = 60) -> str:
    """User, uploaded or URL text made inert for Markdown, shortened to ``max_length`` characters: one
    line, no links (bracketed, <angled> or bare), images, HTML, entities or formatting. Use it for every
    piece of such text that reaches st.markdown, a caption, a title, a notice or any widget label or help
    (Streamlit renders those as Markdown, images included); st.text, st.code and tables show text as is."""
    value = _LINE_BREAKS.sub(" ", str(text))
    if len(value) > max_length:
        value = value[: max_length - 1] + "…"
    value = _AUTOLINKS.sub(_WORD_JOINER, value)
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in value)
