"""Saved views: a page with its view settings and a pinned dataset version, under a short id, so a
link reopens the same numbers. Which settings a view may hold, and the ids' form, are the rules of
decision_tools.views; this module keeps them."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from . import accounts
from .accounts import Actor
from .database import MAX_LIST_ROWS, MAX_NAME_LENGTH

SQL = """
CREATE TABLE IF NOT EXISTS saved_views (
    view_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, page VARCHAR NOT NULL, state JSON NOT NULL,
    dataset_version INTEGER NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
);
"""


class SavedViewsMixin:
    """The Store's saved views."""

    def _lever_ids(self, version_id: int) -> set[str]:
        try:
            return set(self.table("levers", int(version_id))["lever_id"])
        except (duckdb.Error, ValueError):
            return set()

    def save_view(self, title: str, page: str, state: dict, dataset_version: int, actor: Actor | str) -> str:
        """Save a view (page, the declared view settings of ``state``, pinned dataset version); return
        its short id. Anything else in ``state`` (who is signed in, say) is dropped."""
        from .views import clean_view_state, new_view_id

        actor = accounts.authorize(actor, "save_view")
        title = " ".join(title.split())[:MAX_NAME_LENGTH] or "Untitled view"
        state = clean_view_state(state, self._lever_ids(dataset_version))
        view_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO saved_views VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [view_id, title, page, json.dumps(state, sort_keys=True, default=str), dataset_version,
                            actor.username, self._clock()])
            self._audit(cursor, actor.username, "save_view", {"view_id": view_id, "title": title, "page": page})
        return view_id

    def saved_views(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM saved_views ORDER BY created_at DESC LIMIT ?", [limit])

    def get_view(self, view_id: str) -> dict | None:
        """A saved view, or None for an unknown or malformed id (bound parameter, never interpolated).
        Its state holds only declared view settings: views saved before that rule are cleaned here."""
        from .views import clean_view_state, valid_view_id

        if not valid_view_id(view_id):
            return None
        try:
            frame = self._workspace_frame("SELECT * FROM saved_views WHERE view_id = ?", [view_id])
        except duckdb.CatalogException:
            return None
        if frame.empty:
            return None
        row = frame.iloc[0].to_dict()
        row["state"] = clean_view_state(json.loads(row["state"]), self._lever_ids(row["dataset_version"]))
        return row
