"""The shareable view state: which city, year and material a page shows.

Everything a link must restore lives in the URL's query parameters. ``resolve_selection`` reads
them, accepts valid values exactly as the app writes them, and falls back to the defaults with a
notice in plain words for anything it cannot use, never an exception. The defaults are constants:
a link that leaves a value out means the default, today and months from now.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from .formatting import escape_markdown

DEFAULT_CITY = "Helsinki"
DEFAULT_YEAR = 2025
DEFAULT_MATERIAL = "Co"


@dataclass(frozen=True)
class Selection:
    city: str
    year: int
    material: str


def _first(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else None
    return str(value)


def _pick(raw: str | None, choices: Sequence[str], default: str, what: str, notices: list[str]) -> str:
    fallback = default if default in choices else choices[0]
    if raw is None or raw == "":
        return fallback
    if raw not in choices:
        notices.append(
            f"The link asked for {what} '{escape_markdown(raw)}', which is not in the data; showing {escape_markdown(fallback)} instead."
        )
        return fallback
    return raw


def resolve_selection(params: Mapping[str, object], cities: Sequence[str], materials: Sequence[str],
                      years: tuple[int, int]) -> tuple[Selection, list[str]]:
    """Turn URL parameters into a valid Selection plus notices about anything that was replaced."""
    notices: list[str] = []
    city = _pick(_first(params.get("city")), cities, DEFAULT_CITY, "city", notices)
    material = _pick(_first(params.get("material")), materials, DEFAULT_MATERIAL, "material", notices)
    first_year, last_year = years
    default_year = min(max(DEFAULT_YEAR, first_year), last_year)
    raw_year = _first(params.get("year"))
    year = default_year
    if raw_year not in (None, ""):
        try:
            asked = int(raw_year.strip())
        except ValueError:
            notices.append(f"The link asked for year '{escape_markdown(raw_year)}', which is not a year; showing {default_year}.")
        else:
            if first_year <= asked <= last_year:
                year = asked
            else:
                notices.append(
                    f"The link asked for year {asked}, outside the modelled {first_year}-{last_year}; showing {default_year}."
                )
    return Selection(city=city, year=year, material=material), notices


VIEW_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8}$")
# The settings a saved view may hold: the shared pickers and the pages' widgets bound to the URL
# (plus each lever of the Policy page, named by its lever_id). Nothing else, in particular nothing
# about who is signed in: a view is restored into the visitor's session.
VIEW_KEYS = frozenset({
    "city", "year", "material",                                        # app.py
    "all_crms",                                                        # indicators, policy, exposure
    "objective", "preset", "rate", "budget", "compare", "product",     # policy
    "cut", "duration", "policy_scenario",                              # exposure
    "hub_all",                                                         # hub
})


def new_view_id() -> str:
    """A short, unguessable id for a saved view: 8 URL-safe characters."""
    return secrets.token_urlsafe(6)


def valid_view_id(raw: object) -> bool:
    return isinstance(raw, str) and bool(VIEW_ID_PATTERN.match(raw))


def clean_view_state(state: Mapping[str, object], lever_ids: Collection[str] = ()) -> dict:
    """Only the declared view settings of ``state`` (VIEW_KEYS and the given lever ids)."""
    allowed = VIEW_KEYS | set(lever_ids)
    return {k: v for k, v in state.items() if k in allowed}


def view_state(query_keys: Sequence[str], session: Mapping[str, object], lever_ids: Collection[str] = ()) -> dict:
    """What a view must restore: the typed values of the declared view settings that are in the URL (a
    value left out of the URL equals its constant default, so restoring it is not needed)."""
    return clean_view_state({k: session[k] for k in query_keys if k in session}, lever_ids)
