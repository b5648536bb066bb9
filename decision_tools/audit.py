"""The audit log: who did what and when. Every write a person makes is audited inside its own
transaction (``_audit`` with the write's cursor), so there is no change without its entry.
Only admins read it."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from . import accounts
from .accounts import Actor
from .database import MAX_LIST_ROWS, utc_now

SQL = """
CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL, username VARCHAR NOT NULL, action VARCHAR NOT NULL, detail JSON NOT NULL
);
"""


class AuditMixin:
    """The Store's audit log."""

    @staticmethod
    def _audit(cursor, username: str, action: str, detail: dict) -> None:
        cursor.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?)",
                       [utc_now(), username, action, json.dumps(detail, default=str)])

    def audit(self, username: str, action: str, detail: dict) -> None:
        with self._transaction(workspace=True) as cursor:
            self._audit(cursor, username, action, detail)

    def audit_log(self, actor: Actor | str, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        """The newest ``limit`` audit entries (admins only)."""
        accounts.authorize(actor, "read_audit_log")
        try:
            return self._workspace_frame("SELECT * FROM audit_log ORDER BY logged_at DESC LIMIT ?", [limit])
        except duckdb.CatalogException:
            return pd.DataFrame(columns=["logged_at", "username", "action", "detail"])
