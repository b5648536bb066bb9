"""Saved scenarios: a partner's lever settings for a city under a name, pinned to the dataset version
they were made on. A name belongs to whoever saved it first; the pages' own column names are reserved.
(Running a scenario is decision_tools.scenarios.)"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from . import accounts
from .accounts import Actor, PermissionDenied
from .database import MAX_LIST_ROWS, MAX_NAME_LENGTH

SQL = """
CREATE TABLE IF NOT EXISTS saved_scenarios (
    name VARCHAR PRIMARY KEY, city VARCHAR NOT NULL, settings JSON NOT NULL, note VARCHAR,
    created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL, dataset_version INTEGER NOT NULL
);
"""
RESERVED_SCENARIO_NAMES = frozenset({"baseline", "(none)", "none", "latest", "scenario"})


class SavedScenariosMixin:
    """The Store's saved scenarios."""

    def save_scenario(self, name: str, city: str, settings: dict[str, float], version_id: int, actor: Actor | str,
                      note: str = "") -> None:
        """Save (or replace one's own) scenario under ``name``, with its audit entry, in one transaction.
        A name belongs to whoever saved it first; reserved names (the pages' own columns such as
        "baseline") are refused. Errors are sentences (ValueError, PermissionDenied)."""
        actor = accounts.authorize(actor, "save_scenario")
        name = " ".join(name.split())
        if not name:
            raise ValueError("Give the scenario a name.")
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"A scenario name has at most {MAX_NAME_LENGTH} characters; this one has {len(name)}.")
        if name.lower() in RESERVED_SCENARIO_NAMES:
            raise ValueError(f"“{name}” is a reserved name (the pages use it for their own columns); choose another.")
        with self._transaction(workspace=True) as cursor:
            owner = cursor.execute("SELECT created_by FROM saved_scenarios WHERE lower(name) = lower(?)", [name]).fetchall()
            if owner and owner[0][0] != actor.username:
                raise PermissionDenied(f"The scenario name “{name}” belongs to {owner[0][0]}; choose another name.")
            cursor.execute("DELETE FROM saved_scenarios WHERE lower(name) = lower(?)", [name])
            cursor.execute("INSERT INTO saved_scenarios VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [name, city, json.dumps(settings, sort_keys=True), note.strip()[:300], self._clock(),
                            actor.username, version_id])
            self._audit(cursor, actor.username, "save_scenario", {"name": name, "city": city, "settings": settings})

    def saved_scenarios(self) -> pd.DataFrame:
        """Saved scenarios, newest first, with their settings as dicts. Rows saved under a name that is
        now reserved are kept in the database but not listed (they would replace a page's own column)."""
        try:
            frame = self._workspace_frame("SELECT * FROM saved_scenarios WHERE NOT list_contains($reserved, lower(name)) "
                                          "ORDER BY created_at DESC, name LIMIT $limit",
                                          {"reserved": sorted(RESERVED_SCENARIO_NAMES), "limit": MAX_LIST_ROWS})
        except duckdb.CatalogException:  # a read-only database built before saved scenarios existed
            return pd.DataFrame(columns=["name", "city", "settings", "note", "created_at", "created_by", "dataset_version"])
        frame["settings"] = [json.loads(v) for v in frame["settings"]]
        return frame
