"""The store: one ``Store`` class composed of the concept modules, and the build of a fresh database.

Each concept owns its tables, vocabulary, ids and rules in its own module; ``Store`` puts them
together, so callers keep one object (``storage.Store.open(...)``, ``store.saved_views()``):

- database: the file, opening it, transactions and cursors, the replica layout's plumbing;
- migrations: the schema's numbered changes, applied in place when a file is opened read-write;
- datasets: dataset versions (publish, roll back, checksum); results: model results read back;
- saved_views, discussions, hub_records, saved_scenarios: what people make in the app;
- audit, signin_records: the audit log and what is kept of signing in.

This module also re-exports the names pages, the CLI and tests use (errors, paths, Figure ...).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from . import ingestion, migrations
from .audit import AuditMixin
from .database import (COPY_ATTEMPTS, DATA_DIR, DB_ENV_VAR, DEFAULT_DB_PATH, MAX_COMMENT_LENGTH,  # noqa: F401
                       MAX_LIST_ROWS, MAX_NAME_LENGTH, PACKAGE_DIR, PROJECT_DIR, REPLICA_NOTE, Database,
                       DatabaseBusyError, DatabaseCorruptError, DatabaseMissingError, DatabaseOutdatedError,
                       MigrationError, StoreError, connect, connect_copy, default_db_path, guard_damaged_database,
                       refuse_if_busy, utc_now)
from .datasets import (INPUT_TABLES, PUBLISH_PAUSE_ENV_VAR, AlreadyPublished, DatasetsMixin,  # noqa: F401
                       PublishError, latest_published, table_checksum)
from .datasets import SCHEMA_SQL as _DATASET_SCHEMA_SQL
from .datasets import write_version as _write_version
from .discussions import MAX_COMMENTS_PER_MINUTE, DiscussionsMixin  # noqa: F401
from .hub_records import DEMO_EVENTS_SQL, AlreadyRegistered, HubRecordsMixin  # noqa: F401
from .migrations import REFERENCE_TABLES_ADDED_LATER, WORKSPACE_SQL, WORKSPACE_TABLES  # noqa: F401
from .results import MODEL_TABLES, RESULT_ORDER, RESULT_TABLES, Figure, ResultsMixin  # noqa: F401
from .saved_scenarios import RESERVED_SCENARIO_NAMES, SavedScenariosMixin  # noqa: F401
from .saved_views import SavedViewsMixin
from .signin_records import SignInRecordsMixin

# Every table of a fresh file besides the workspace: the dataset tables and the record of schema changes.
SCHEMA_SQL = _DATASET_SCHEMA_SQL + migrations.SCHEMA_MIGRATIONS_SQL


def _now() -> datetime:
    """The time written with people's records (a test sets it here: ``monkeypatch.setattr(storage, "_now", ...)``)."""
    return utc_now()


class Store(DatasetsMixin, ResultsMixin, SavedViewsMixin, DiscussionsMixin, HubRecordsMixin, SavedScenariosMixin,
            SignInRecordsMixin, AuditMixin, Database):
    """Read queries and the single writer's changes over one database connection (see the modules above)."""

    @staticmethod
    def _clock() -> datetime:
        return _now()  # looked up at each call, so a test's clock applies


def build_database(db_path: Path | None = None, data_dir: Path = DATA_DIR, *, note: str = "",
                   created_by: str = "build") -> int:
    """Build the database from the project CSVs into ``db_path``; return the new version id. The file
    gets every table of the current layout and is recorded at the latest schema migration.

    The file is written beside the target and renamed into place at the end: a failure at any
    point leaves the previous file exactly as it was.
    """
    db_path = Path(db_path or default_db_path())
    tables = ingestion.read_project_tables(data_dir)  # raises DataValidationError listing every problem
    refuse_if_busy(db_path)
    guard_damaged_database(db_path)  # a damaged file may still hold uploads: refused, never replaced
    db_path.parent.mkdir(parents=True, exist_ok=True)
    partial = db_path.with_name(db_path.name + ".building")
    partial.unlink(missing_ok=True)
    version_id = 1
    try:
        con = duckdb.connect(str(partial))
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(SCHEMA_SQL)
            con.execute(WORKSPACE_SQL)
            con.execute(DEMO_EVENTS_SQL)
            migrations.stamp(con)
            _write_version(con, version_id, tables, "Project demo data", note or "built from the CSV files under data/",
                           created_by)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        stale_wal = db_path.with_name(db_path.name + ".wal")
        if stale_wal.exists():  # DuckDB would replay the old file's log onto the new one: keep it aside instead
            os.rename(stale_wal, stale_wal.with_name(f"{stale_wal.name}.replaced-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"))
        os.replace(partial, db_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return version_id
