"""Confidence labels (reference METHODS.md, section 4) and how they combine.

Every input row carries one label; a computed figure carries the weakest label of the rows it was
computed from, and the union of their sources.
"""

from __future__ import annotations

from collections.abc import Iterable

# Ordered from strongest to weakest. "low" and "derived" share a rank for combining labels.
CONFIDENCE_LABELS: tuple[str, ...] = ("high", "medium", "low", "derived", "illustrative")
_RANK = {"high": 0, "medium": 1, "low": 2, "derived": 2, "illustrative": 3}

# The Monte Carlo's spread per label: a multiplicative factor F such that the input's 5-95 % range is
# value / F to value x F (a lognormal factor with median 1, so the central run keeps the input's value).
# Multiplicative, not +-, because these inputs are positive and their errors are relative: an
# order-of-magnitude guess is as likely to be 3 times too high as 3 times too low, and a +-50 % normal
# cannot say that. The factors are the project's choice, in the spirit of the lognormal "basic
# uncertainty" of LCA databases (ecoinvent's pedigree approach, Weidema et al. 2013) and of data-quality
# scores in MFA (Laner et al. 2016, J. Ind. Ecol. 20(5)); no published table maps these labels to factors:
#   high         1.1   an official or peer-reviewed figure: about 10 % left for transcription, year and scope
#   medium       1.25  the same with known gaps (another year, the EU instead of the country): about 25 %
#   derived      1.5   computed exactly (stoichiometry, a ratio) from inputs that are mostly medium, plus a
#                      blending assumption (say 75 % NMC / 25 % LFP): wider than medium, narrower than low
#   low          2     a weak or secondary source: could be half or double
#   illustrative 3     an order of magnitude: about half a decade each way (sqrt(10) = 3.2), rounded to 3
CONFIDENCE_FACTOR: dict[str, float] = {
    "high": 1.1,
    "medium": 1.25,
    "derived": 1.5,
    "low": 2.0,
    "illustrative": 3.0,
}

# Population and household counts are national statistics, exact for this purpose: the Monte Carlo
# draws them only when their label says they are a weak guess.
SAMPLED_CITY_LABELS: frozenset[str] = frozenset({"low", "illustrative"})


def factor_range_text(label: str) -> str:
    """The label's 5-95 % range in words, e.g. 'x/÷ 3 (5 %: 0.33 x, 95 %: 3 x)'."""
    factor = CONFIDENCE_FACTOR[label]
    return f"×/÷ {factor:g} (5 %: {1 / factor:.2g} ×, 95 %: {factor:g} ×)"


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
