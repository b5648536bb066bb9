"""Dataset versions: the versioned tables, writing a complete version, publishing and rolling back.

Every dataset table carries ``version_id``; ``dataset_versions`` lists the versions (id, time, note,
row counts, checksum of the inputs, status). A version is immutable once published, so a shared link
can pin it; a roll back withdraws later versions (kept, never deleted). Publishing is the single
writer's job: a replica refuses it, and in the replica layout every change exports a new snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import duckdb
import pandas as pd

from . import accounts, ingestion, results, snapshots
from .accounts import Actor
from .database import DatabaseCorruptError, StoreError, insert_frame, utc_now

PUBLISH_PAUSE_ENV_VAR = "URBAN_SYMBIOSIS_TEST_PUBLISH_PAUSE"  # seconds to wait inside the publish transaction

VERSIONS_SQL = """
CREATE TABLE dataset_versions (
    version_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    name VARCHAR NOT NULL,
    note VARCHAR,
    created_by VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL,           -- sha256 of the input tables
    row_counts JSON NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('published', 'withdrawn'))
);"""
INPUT_TABLES = tuple(ingestion.TABLES)
# The input tables' DDL comes from their declared layout (ingestion.TABLES), so the CSV rules and the
# database schema cannot drift apart; print it with `python -m decision_tools schema`.
SCHEMA_SQL = (VERSIONS_SQL + results.SCHEMA_SQL
              + "\n".join(ingestion.table_ddl(spec) for spec in ingestion.TABLES.values()))


class PublishError(StoreError):
    """A publish that did not happen; the current version is unchanged."""


class AlreadyPublished(PublishError):
    """The data are the current version already (a second click on Publish, say)."""

    def __init__(self, message: str, version_id: int):
        super().__init__(message)
        self.version_id = version_id


def _disk_full(exc: BaseException) -> bool:
    return "no space left" in str(exc).lower() or getattr(exc, "errno", None) == 28


def table_checksum(tables: dict[str, pd.DataFrame]) -> str:
    """sha256 over the input tables' contents (sorted by key), so equal data gives an equal checksum."""
    digest = hashlib.sha256()
    for name in INPUT_TABLES:
        frame = tables[name].sort_values(list(ingestion.TABLES[name].key)).reset_index(drop=True)
        digest.update(name.encode())
        digest.update(frame.to_csv(index=False).encode("utf-8"))
    return digest.hexdigest()


def write_version(con, version_id: int, tables: dict[str, pd.DataFrame], name: str, note: str, created_by: str) -> None:
    """Insert a complete version (inputs, model results, its dataset_versions row); the caller holds
    the transaction, so a failure anywhere leaves nothing behind."""
    from . import model  # imported here: reading the store never needs the model's libraries

    result = model.run_city_model(tables)
    row_counts = {}
    for table_name in INPUT_TABLES:
        insert_frame(con, table_name, tables[table_name], version_id)
        row_counts[table_name] = len(tables[table_name])
    for table_name in results.MODEL_TABLES:
        frame = getattr(result, table_name)
        insert_frame(con, table_name, frame, version_id, order_by=results.RESULT_ORDER[table_name])
        row_counts[table_name] = len(frame)
    totals = results.metric_totals(con, version_id)
    insert_frame(con, "metric_totals", totals, version_id, order_by=results.RESULT_ORDER["metric_totals"])
    row_counts["metric_totals"] = len(totals)
    con.execute(
        "INSERT INTO dataset_versions VALUES (?, ?, ?, ?, ?, ?, ?, 'published')",
        [version_id, utc_now(), name, note, created_by, table_checksum(tables), json.dumps(row_counts)],
    )


def latest_published(versions: pd.DataFrame) -> int:
    """The version the dashboards show: the newest published one of ``Store.versions()`` (a page reads both
    with one query)."""
    published = versions.loc[versions["status"] == "published", "version_id"]
    if published.empty:
        raise DatabaseCorruptError("The database has no published dataset version.")
    return int(published.max())


class DatasetsMixin:
    """The Store's dataset versions: listing them, their input tables, publishing and rolling back."""

    def versions(self) -> pd.DataFrame:
        return self._frame("SELECT * FROM dataset_versions ORDER BY version_id")

    def current_version(self) -> int:
        return latest_published(self.versions())

    def table(self, name: str, version_id: int) -> pd.DataFrame:
        """One input table of a version (name from the fixed list of input tables)."""
        if name not in INPUT_TABLES:
            raise ValueError(f"Unknown table {name!r}; choose one of {', '.join(INPUT_TABLES)}.")
        order = ", ".join(ingestion.TABLES[name].key)
        return self._frame(f"SELECT * EXCLUDE (version_id) FROM {name} WHERE version_id = ? ORDER BY {order}", [version_id])

    def input_tables(self, version_id: int) -> dict[str, pd.DataFrame]:
        """Every input table of a version, as the model takes them."""
        return {name: self.table(name, version_id) for name in INPUT_TABLES}

    def cities(self, version_id: int) -> pd.DataFrame:
        return self.table("cities", version_id)

    def materials(self, version_id: int) -> pd.DataFrame:
        return self.table("materials", version_id)

    def publish(self, tables: dict[str, pd.DataFrame], name: str, note: str, actor: Actor | str,
                detail: dict | None = None, *, action: str = "upload", base_version: int | None = None) -> int:
        """Publish ``tables`` (every input table) as a new immutable version in one transaction: the
        inputs, the model's results for every city, the version row and an audit entry.

        ``base_version`` is the version the tables were checked against: if another version was
        published since, nothing is written (PublishError), so a publish never reverts later changes.
        The same data as the current version are not published twice (AlreadyPublished). A failure at
        any point, a full disk included, rolls everything back and says so in a sentence; the
        previous version stays current and readable."""
        actor = accounts.authorize(actor, action)
        self._refuse_on_replica()
        checksum = table_checksum(tables)
        current = self.current_version()
        try:
            with self._transaction() as cursor:
                latest, latest_checksum = cursor.execute(
                    "SELECT version_id, checksum FROM dataset_versions WHERE status = 'published' "
                    "ORDER BY version_id DESC LIMIT 1").fetchall()[0]
                current = int(latest)
                if latest_checksum == checksum:
                    raise AlreadyPublished(f"These data are already dataset version {latest}; nothing new was published.",
                                           int(latest))
                if base_version is not None and int(latest) != int(base_version):
                    raise PublishError(f"Dataset version {latest} was published after these data were checked against version "
                                       f"{base_version}; nothing was written. Check the data again, so that nothing published "
                                       "since is lost.")
                version_id = int(cursor.execute("SELECT coalesce(max(version_id), 0) + 1 FROM dataset_versions").fetchall()[0][0])
                write_version(cursor, version_id, tables, name, note, actor.username)
                if os.environ.get(PUBLISH_PAUSE_ENV_VAR):  # fault injection for the kill-mid-publish test
                    print(f"publish: inside the transaction of version {version_id}", flush=True)
                    time.sleep(float(os.environ[PUBLISH_PAUSE_ENV_VAR]))
                self._audit_versions(cursor, actor.username, "publish", {"version_id": version_id, "name": name, **(detail or {})})
        except (duckdb.Error, OSError) as exc:
            reason = ("the server's disk is full; free some space on it, then publish again" if _disk_full(exc)
                      else f"the database refused the write ({str(exc).strip().splitlines()[0][:160]})")
            raise PublishError(f"Publishing failed: {reason}. Nothing was written; dataset version {current} is unchanged "
                               "and still shown.") from exc
        self._after_versions_changed(actor.username, "publish", {"version_id": version_id, "name": name, **(detail or {})})
        return version_id

    def rollback_to(self, version_id: int, actor: Actor | str) -> None:
        """Make ``version_id`` the current version again: later versions are withdrawn (kept, still
        openable read-only, never deleted)."""
        actor = accounts.authorize(actor, "rollback")
        self._refuse_on_replica()
        with self._transaction() as cursor:
            exists = cursor.execute("SELECT count(*) FROM dataset_versions WHERE version_id = ?", [version_id]).fetchall()[0][0]
            if not exists:
                raise ValueError(f"There is no dataset version {version_id}.")
            cursor.execute("UPDATE dataset_versions SET status = 'withdrawn' WHERE version_id > ?", [version_id])
            cursor.execute("UPDATE dataset_versions SET status = 'published' WHERE version_id = ?", [version_id])
            self._audit_versions(cursor, actor.username, "rollback", {"to_version": version_id})
        self._after_versions_changed(actor.username, "rollback", {"to_version": version_id})

    def _audit_versions(self, cursor, username: str, action: str, detail: dict) -> None:
        """Audit a version change inside its transaction when the audit log is in this database."""
        if self._workspace is None:
            self._audit(cursor, username, action, detail)

    def _after_versions_changed(self, username: str, action: str, detail: dict) -> None:
        """Replica layout: the audit entry goes to the shared workspace (after the commit, as it is
        another file) and a new snapshot is exported for the replicas."""
        if self._workspace is not None:
            self.audit(username, action, detail)
        if self._snapshot_dir is not None:
            self.export_snapshot()

    def export_snapshot(self):
        """Write the dataset tables (every version), with the schema changes applied to them, as a new
        immutable snapshot for the replicas."""
        if self._snapshot_dir is None:
            raise StoreError(f"Set ${snapshots.SNAPSHOTS_ENV_VAR} to a directory, and open the database read-write, to export snapshots.")
        orders = {"dataset_versions": "version_id",
                  **{t: f"version_id, {results.RESULT_ORDER[t]}" for t in results.RESULT_TABLES},
                  **{t: "" for t in INPUT_TABLES}, "schema_migrations": "number"}
        return snapshots.export(self._con, self._snapshot_dir, orders)
