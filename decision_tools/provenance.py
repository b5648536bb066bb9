"""Confidence labels (reference METHODS.md, section 4) and how they combine.

Every input row carries one label; a computed figure carries the weakest label of the rows it was
computed from, and the union of their sources.
"""

from __future__ import annotations

from collections.abc import Iterable

# Ordered from strongest to weakest. "low" and "derived" share a rank: both get a +-30 % spread.
CONFIDENCE_LABELS: tuple[str, ...] = ("high", "medium", "low", "derived", "illustrative")
_RANK = {"high": 0, "medium": 1, "low": 2, "derived": 2, "illustrative": 3}

# Relative spread (share of the value, 0..1) used for uncertainty ranges.
CONFIDENCE_SPREAD: dict[str, float] = {
    "high": 0.05,
    "medium": 0.15,
    "low": 0.30,
    "derived": 0.30,
    "illustrative": 0.50,
}

CONFIDENCE_MEANING: dict[str, str] = {
    "high": "official or peer-reviewed figure",
    "medium": "official or peer-reviewed figure, transcribed or with known gaps",
    "low": "weak or secondary source",
    "derived": "computed from stoichiometry or other figures (the basis says how)",
    "illustrative": "an order of magnitude or an assumption: good for exploring, not for decisions",
}


def weakest(labels: Iterable[str]) -> str:
    """The weakest of the given confidence labels ('derived' wins a tie with 'low')."""
    worst = None
    for label in labels:
        if label not in _RANK:
            raise ValueError(f"Unknown confidence label {label!r}; use one of {', '.join(CONFIDENCE_LABELS)}.")
        if worst is None or _RANK[label] > _RANK[worst] or (
            _RANK[label] == _RANK[worst] and label == "derived"
        ):
            worst = label
    if worst is None:
        raise ValueError("No confidence labels given.")
    return worst


def split_sources(source_ids: str) -> list[str]:
    """Source ids are stored as one ';'-separated string per row."""
    return [s.strip() for s in str(source_ids).split(";") if s.strip()]


def join_sources(groups: Iterable[str]) -> str:
    """Union of several ';'-separated source lists, sorted, as one string."""
    ids: set[str] = set()
    for group in groups:
        ids.update(split_sources(group))
    return ";".join(sorted(ids))
