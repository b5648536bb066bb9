"""The DuckDB store: schema, building it from the project CSVs, dataset versions, and read queries.

Layout: every table carries ``version_id``; ``dataset_versions`` lists the versions (id, time, note,
row counts, checksum). A version is immutable once published, so a shared link can pin it. Building
writes a complete new file next to the target and renames it into place only when everything
succeeded, so a failed build never leaves a half-written database. Readers hold one connection per
process and take a cursor per query, with bound parameters only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from . import accounts, ingestion, snapshots, system
from .accounts import Actor, PermissionDenied
from .provenance import join_sources, weakest

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DATA_DIR = PROJECT_DIR / "data"
DEFAULT_DB_PATH = DATA_DIR / "urban_symbiosis.duckdb"
DB_ENV_VAR = "URBAN_SYMBIOSIS_DB"
PUBLISH_PAUSE_ENV_VAR = "URBAN_SYMBIOSIS_TEST_PUBLISH_PAUSE"  # seconds to wait inside the publish transaction

_MODEL_PROVENANCE_DDL = "confidence VARCHAR NOT NULL, source_ids VARCHAR NOT NULL, downscaled BOOLEAN NOT NULL"

SCHEMA_SQL = f"""
CREATE TABLE dataset_versions (
    version_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    name VARCHAR NOT NULL,
    note VARCHAR,
    created_by VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL,           -- sha256 of the input tables
    row_counts JSON NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('published', 'withdrawn'))
);
-- Model results. district is NULL where the city is modelled as a whole.
CREATE TABLE flows (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, district VARCHAR, year INTEGER NOT NULL,
    product VARCHAR NOT NULL, material VARCHAR NOT NULL, from_process VARCHAR NOT NULL,
    to_process VARCHAR NOT NULL, kg DOUBLE NOT NULL, {_MODEL_PROVENANCE_DDL}
);
CREATE TABLE stocks (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, district VARCHAR, year INTEGER NOT NULL,
    product VARCHAR NOT NULL, material VARCHAR NOT NULL, process VARCHAR NOT NULL, kg DOUBLE NOT NULL,
    {_MODEL_PROVENANCE_DDL}
);
CREATE TABLE unit_stocks (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, district VARCHAR, year INTEGER NOT NULL,
    product VARCHAR NOT NULL, process VARCHAR NOT NULL, units DOUBLE NOT NULL
);
-- The headline quantities (METRICS) per city, year and material, summed over products and districts
-- when a version is written, so the pages' most frequent queries read a tenth of the rows.
CREATE TABLE metric_totals (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, year INTEGER NOT NULL, material VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, route VARCHAR, kg DOUBLE NOT NULL, confidence VARCHAR NOT NULL,
    source_ids VARCHAR NOT NULL, downscaled BOOLEAN NOT NULL
);
"""

# What people make in the app (not part of a dataset version): created on first read-write open.
WORKSPACE_SQL = """
CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL, username VARCHAR NOT NULL, action VARCHAR NOT NULL, detail JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS saved_views (
    view_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, page VARCHAR NOT NULL, state JSON NOT NULL,
    dataset_version INTEGER NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS discussion_sessions (
    session_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS session_items (
    session_id VARCHAR NOT NULL, position INTEGER NOT NULL, view_id VARCHAR NOT NULL, note VARCHAR,
    PRIMARY KEY (session_id, position)
);
-- The step a presenter shows now: participants who follow the session move to it.
CREATE TABLE IF NOT EXISTS session_presenters (
    session_id VARCHAR PRIMARY KEY, position INTEGER NOT NULL, presenter VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS session_comments (
    session_id VARCHAR NOT NULL, position INTEGER NOT NULL, username VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    text VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS symbiosis_matches (
    offer_id VARCHAR NOT NULL, need_id VARCHAR NOT NULL, status VARCHAR NOT NULL, kg_per_year DOUBLE NOT NULL,
    updated_by VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (offer_id, need_id)
);
CREATE TABLE IF NOT EXISTS challenges (
    challenge_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, description VARCHAR NOT NULL, organisation VARCHAR NOT NULL,
    disciplines VARCHAR NOT NULL, kind VARCHAR NOT NULL, material VARCHAR, view_id VARCHAR, deadline DATE,
    status VARCHAR NOT NULL, outcome VARCHAR, posted_by VARCHAR NOT NULL, posted_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS challenge_interest (
    challenge_id VARCHAR NOT NULL, username VARCHAR NOT NULL, registered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (challenge_id, username)
);
-- New interest in a challenge, for the account that posted it (the recipient) until it marks it seen.
CREATE TABLE IF NOT EXISTS interest_notices (
    challenge_id VARCHAR NOT NULL, username VARCHAR NOT NULL, recipient VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    seen_at TIMESTAMP, PRIMARY KEY (challenge_id, username)
);
CREATE TABLE IF NOT EXISTS hub_events (
    event_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, kind VARCHAR NOT NULL, event_date DATE NOT NULL,
    place VARCHAR, challenge_id VARCHAR, session_id VARCHAR
);
-- Sign-in: every attempt (for back-off and locks) and the server side of the browser's sign-in
-- cookie (only a hash of its token), so signing out or removing the account ends it.
CREATE TABLE IF NOT EXISTS sign_in_attempts (
    username VARCHAR NOT NULL, client VARCHAR NOT NULL, attempted_at TIMESTAMP NOT NULL, succeeded BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS sign_in_sessions (
    token_sha256 VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, client VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL, ended_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS saved_scenarios (
    name VARCHAR PRIMARY KEY, city VARCHAR NOT NULL, settings JSON NOT NULL, note VARCHAR,
    created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL, dataset_version INTEGER NOT NULL
);
"""
DEMO_EVENTS_SQL = """
INSERT INTO hub_events VALUES
 ('ev_seminar', 'Fictitious demo: Industrial Symbiosis Hub seminar', 'seminar', DATE '2027-02-10', 'Lappeenranta', NULL, NULL),
 ('ev_market', 'Fictitious demo: assignment market', 'assignment market', DATE '2027-03-12', 'Delft', NULL, NULL),
 ('ev_feedback', 'Fictitious demo: feedback session on student projects', 'feedback session', DATE '2027-05-20', 'Ghent', NULL, NULL);
"""
WORKSPACE_TABLES = tuple(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", WORKSPACE_SQL))
REPLICA_NOTE = ("This app process is a read-only replica: new dataset versions are published on the writer, "
                "and every replica moves to them by itself.")
MAX_NAME_LENGTH = 80
MAX_COMMENT_LENGTH = 2000
# Flooding: comments one person may send per minute, and the most rows any list query returns.
MAX_COMMENTS_PER_MINUTE = 5
MAX_LIST_ROWS = 500
RESERVED_SCENARIO_NAMES = frozenset({"baseline", "(none)", "none", "latest", "scenario"})

INPUT_TABLES = tuple(ingestion.TABLES)
# The input tables' DDL comes from their declared layout (ingestion.TABLES), so the CSV rules and the
# database schema cannot drift apart; print it with `python -m decision_tools schema`.
SCHEMA_SQL += "\n".join(ingestion.table_ddl(spec) for spec in ingestion.TABLES.values())
MODEL_TABLES = ("flows", "stocks", "unit_stocks")
RESULT_TABLES = (*MODEL_TABLES, "metric_totals")
# Results are stored in this order, so DuckDB's per-row-group min/max lets a query for one material
# and year (or one material over time) skip most of a large table.
RESULT_ORDER = {"flows": "material, year, city", "stocks": "material, year, city", "unit_stocks": "year, city",
                "metric_totals": "material, year, city"}

# Headline quantities: what each one adds up. Stocks are kg at year end, flows kg per year.
METRICS: dict[str, tuple[str, str]] = {
    "in_use_stock": ("In-use stock", "kg in products in use at the end of the year"),
    "hibernating_stock": ("Hibernating at home", "kg in retired devices kept unused at home"),
    "new_products": ("In new products", "kg per year entering use in new products (the city's demand)"),
    "end_of_life": ("Reaching end of life", "kg per year discarded, directly or from drawers"),
    "separately_collected": ("Separately collected", "kg per year collected for recycling"),
    "secondary_supply": ("Recovered (secondary supply)", "kg per year recovered as secondary raw material"),
    "lost": ("Lost", "kg per year to residual waste, export or reuse abroad, and recycling losses"),
}

_METRIC_ROWS_SQL = """
    SELECT CASE process WHEN 'use' THEN 'in_use_stock' ELSE 'hibernating_stock' END AS metric,
           NULL AS route, city, year, product, district, material, kg, confidence, source_ids, downscaled
    FROM stocks WHERE version_id = $version AND ($city IS NULL OR city = $city)
      AND list_contains($materials, material) {year_filter}
      AND year >= {first_year}  -- the opening stock of the year before is kept only for balance checks
    UNION ALL
    SELECT CASE
             WHEN from_process = 'market' THEN 'new_products'
             WHEN to_process = 'end_of_life' THEN 'end_of_life'
             WHEN to_process = 'separate_collection' THEN 'separately_collected'
             WHEN to_process = 'secondary_supply' THEN 'secondary_supply'
             ELSE 'lost' END AS metric,
           CASE WHEN to_process IN ('residual_waste', 'export_reuse_abroad', 'recycling_loss')
                THEN to_process END AS route,
           city, year, product, district, material, kg, confidence, source_ids, downscaled
    FROM flows WHERE version_id = $version AND ($city IS NULL OR city = $city)
      AND list_contains($materials, material) {year_filter}
      AND (from_process = 'market' OR to_process IN ('end_of_life', 'separate_collection',
           'secondary_supply', 'residual_waste', 'export_reuse_abroad', 'recycling_loss'))
"""
_GROUPABLE = ("city", "year", "product", "district", "route")
_TOTALS_GROUPABLE = {"city", "year", "route"}  # what metric_totals keeps; product and district need the rows
_PROVENANCE_AGGREGATES = ("list(DISTINCT confidence) AS confidences, list(DISTINCT source_ids) AS source_lists, "
                          "bool_or(downscaled) AS downscaled")


class StoreError(RuntimeError):
    """A problem with the database file, said in a sentence for a person."""


class DatabaseMissingError(StoreError):
    pass


class DatabaseBusyError(StoreError):
    pass


class DatabaseCorruptError(StoreError):
    pass


class DatabaseOutdatedError(StoreError):
    """Built by an older version of the code: tables are missing."""


class PublishError(StoreError):
    """A publish that did not happen; the current version is unchanged."""


class AlreadyRegistered(ValueError):
    """Interest registered a second time in the same item: refused, said in a sentence."""


class AlreadyPublished(PublishError):
    """The data are the current version already (a second click on Publish, say)."""

    def __init__(self, message: str, version_id: int):
        super().__init__(message)
        self.version_id = version_id


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _disk_full(exc: BaseException) -> bool:
    return "no space left" in str(exc).lower() or getattr(exc, "errno", None) == 28


def _as_list(materials: str | Sequence[str]) -> list[str]:
    return [materials] if isinstance(materials, str) else list(materials)


def _once_per_distinct(lists: Sequence, combine) -> list:
    """``combine`` applied to each list, computed once per distinct list: a table of thousands of rows
    carries only a handful of distinct provenance sets."""
    results: dict[tuple, object] = {}
    combined = []
    for values in lists:
        key = tuple(sorted(values))
        if key not in results:
            results[key] = combine(key)
        combined.append(results[key])
    return combined


def default_db_path() -> Path:
    return Path(os.environ.get(DB_ENV_VAR, DEFAULT_DB_PATH))


def table_checksum(tables: dict[str, pd.DataFrame]) -> str:
    """sha256 over the input tables' contents (sorted by key), so equal data gives an equal checksum."""
    digest = hashlib.sha256()
    for name in INPUT_TABLES:
        frame = tables[name].sort_values(list(ingestion.TABLES[name].key)).reset_index(drop=True)
        digest.update(name.encode())
        digest.update(frame.to_csv(index=False).encode("utf-8"))
    return digest.hexdigest()


def _write_version(con, version_id: int, tables: dict[str, pd.DataFrame], name: str, note: str, created_by: str) -> None:
    """Insert a complete version (inputs, model results, its dataset_versions row); the caller holds
    the transaction, so a failure anywhere leaves nothing behind."""
    from . import model  # imported here: reading the store never needs the model's libraries

    result = model.run_city_model(tables)
    row_counts = {}
    for table_name in INPUT_TABLES:
        _insert(con, table_name, tables[table_name], version_id)
        row_counts[table_name] = len(tables[table_name])
    for table_name in MODEL_TABLES:
        frame = getattr(result, table_name)
        _insert(con, table_name, frame, version_id, order_by=RESULT_ORDER[table_name])
        row_counts[table_name] = len(frame)
    totals = _metric_totals(con, version_id)
    _insert(con, "metric_totals", totals, version_id, order_by=RESULT_ORDER["metric_totals"])
    row_counts["metric_totals"] = len(totals)
    con.execute(
        "INSERT INTO dataset_versions VALUES (?, ?, ?, ?, ?, ?, ?, 'published')",
        [version_id, datetime.now(timezone.utc).replace(tzinfo=None), name, note, created_by,
         table_checksum(tables), json.dumps(row_counts)],
    )


def _metric_totals(con, version_id: int) -> pd.DataFrame:
    """The headline quantities of a version per city, year, material, metric and route, with their
    provenance combined (weakest confidence, union of sources) as metric_table does."""
    rows_sql = _METRIC_ROWS_SQL.format(year_filter="", first_year=system.REPORT_START)
    materials = [row[0] for row in con.execute("SELECT DISTINCT material FROM flows WHERE version_id = ?", [version_id]).fetchall()]
    frame = con.execute(f"SELECT city, year, material, metric, route, sum(kg) AS kg, {_PROVENANCE_AGGREGATES} "
                        f"FROM ({rows_sql}) GROUP BY ALL",
                        {"version": version_id, "city": None, "materials": materials}).df()
    return _combine_provenance(frame)


def _combine_provenance(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn the confidences and source_lists columns into one confidence and one source_ids each."""
    frame["confidence"] = _once_per_distinct(frame["confidences"], weakest)
    frame["source_ids"] = _once_per_distinct(frame["source_lists"], join_sources)
    return frame.drop(columns=["confidences", "source_lists"])


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, version_id: int, order_by: str = "") -> None:
    columns = list(frame.columns)
    con.register("incoming", frame)
    try:
        column_list = ", ".join(f'"{c}"' for c in columns)  # names come from our own schema, not users
        order = f" ORDER BY {order_by}" if order_by else ""
        con.execute(f"INSERT INTO {table} (version_id, {column_list}) SELECT ?, {column_list} FROM incoming{order}", [version_id])
    finally:
        try:
            con.unregister("incoming")
        except duckdb.Error:
            pass  # the insert failed and aborted the transaction: keep its error, not this one


def _refuse_if_busy(db_path: Path) -> None:
    if not db_path.exists():
        return
    try:
        duckdb.connect(str(db_path), read_only=False).close()
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseBusyError(
                f"The database {db_path} is in use by another process (probably the running dashboard); "
                "stop it first, or build into another file with --db."
            ) from exc
    except duckdb.Error:
        pass  # a corrupt file is fine to replace


def build_database(db_path: Path | None = None, data_dir: Path = DATA_DIR, *, note: str = "",
                   created_by: str = "build") -> int:
    """Build the database from the project CSVs into ``db_path``; return the new version id.

    The file is written beside the target and renamed into place at the end: a failure at any
    point leaves the previous file exactly as it was.
    """
    db_path = Path(db_path or default_db_path())
    tables = ingestion.read_project_tables(data_dir)  # raises DataValidationError listing every problem
    _refuse_if_busy(db_path)
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


def guard_damaged_database(db_path: Path | None = None, *, move_aside: bool = False) -> Path | None:
    """Never lose a damaged database: besides the dataset versions it holds the uploads, saved views,
    sessions, comments and the audit log, which may still be recoverable from it.

    The file is damaged when it does not open as a complete build or when any block of any table fails
    to read back (DuckDB checks every block's checksum). A damaged file raises DatabaseCorruptError in a
    sentence; with ``move_aside`` it is renamed instead, with its write-ahead log, to
    ``NAME.damaged-YYYYMMDDTHHMMSSZ`` (and ``.wal``) beside it, and that path is returned. Returns None
    when the file is missing, sound, busy or outdated (opening it says those). Nothing is ever deleted.
    """
    db_path = Path(db_path or default_db_path())
    if not db_path.exists():
        return None
    try:
        con = connect(db_path, read_only=True)
    except DatabaseCorruptError as exc:
        cause = exc.__cause__ or exc
    except (DatabaseBusyError, DatabaseOutdatedError):
        return None
    else:
        try:
            tables = [row[0] for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]
            for table in tables:  # names from the file's own catalogue, quoted
                con.execute('SELECT bit_xor(hash(COLUMNS(*))) FROM "{}"'.format(table.replace('"', '""'))).fetchall()
            return None
        except duckdb.Error as exc:
            cause = exc
        finally:
            con.close()
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
    if not move_aside:
        raise DatabaseCorruptError(
            f"The database {db_path} is damaged: it cannot be read ({detail}). It is not replaced, as it may still hold "
            "uploaded dataset versions, saved views, sessions, comments and the audit log. Move it aside (it is renamed, "
            "never deleted) and build a fresh demo database with: "
            f"python -m decision_tools build --move-aside-damaged --db {db_path}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target, n = db_path.with_name(f"{db_path.name}.damaged-{stamp}"), 1
    while target.exists() or target.with_name(target.name + ".wal").exists():  # os.rename would overwrite
        n += 1
        target = db_path.with_name(f"{db_path.name}.damaged-{stamp}-{n}")
    wal = db_path.with_name(db_path.name + ".wal")
    os.rename(db_path, target)
    if wal.exists():
        os.rename(wal, target.with_name(target.name + ".wal"))  # duckdb replays NAME.wal when NAME is opened
    return target


def connect(db_path: Path | None = None, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the database, turning DuckDB's errors into sentences (missing, busy, corrupt)."""
    db_path = Path(db_path or default_db_path())
    rebuild = f"Build it with: python -m decision_tools build --db {db_path}"
    if not db_path.exists():
        raise DatabaseMissingError(f"There is no database at {db_path}. {rebuild}")
    rebuild = ("It may still hold uploads and the workspace: move it aside (renamed, never deleted) and build a fresh one "
               f"with: python -m decision_tools build --move-aside-damaged --db {db_path}")
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            if read_only:
                raise DatabaseBusyError(
                    f"The database {db_path} is held by another process (probably the running dashboard); "
                    "stop it or point --db at another file."
                ) from exc
            raise DatabaseBusyError(
                f"The database {db_path} is held by another process (probably the running dashboard). DuckDB lets one "
                "process write to a database at a time, so nothing can be written to it from here while that process "
                "runs: publish on the app's Data page, or stop the app and run this again. Reading commands and "
                "ingest --dry-run work beside the app (on a copy of the database)."
            ) from exc
        raise DatabaseCorruptError(f"The database {db_path} cannot be opened ({exc}). {rebuild}") from exc
    except duckdb.Error as exc:
        raise DatabaseCorruptError(f"The database {db_path} cannot be read ({exc}). {rebuild}") from exc
    try:
        con.execute("SELECT count(*) FROM dataset_versions").fetchone()
        present = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    except duckdb.Error as exc:
        con.close()
        raise DatabaseCorruptError(f"The database {db_path} has no dataset versions; it is not a complete build. {rebuild}") from exc
    missing = [t for t in (*INPUT_TABLES, *RESULT_TABLES) if t not in present]
    if missing and set(missing) <= set(REFERENCE_TABLES_ADDED_LATER) and not read_only:
        _add_reference_tables(con, missing)
        missing = []
    if missing:
        con.close()
        raise DatabaseOutdatedError(
            f"The database {db_path} was built by an older version of UrbanSymbiosis (it lacks {', '.join(missing)}). "
            f"Rebuild it with `make db` or: python -m decision_tools build --db {db_path}"
        )
    _add_columns_added_later(con, db_path, read_only)
    return con


# Reference tables shipped with the code after databases already existed: an older database gets them (with
# the project's rows, for every version) when it is opened read-write, instead of having to be rebuilt.
REFERENCE_TABLES_ADDED_LATER = ("external_figures",)


def _add_reference_tables(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    tables = ingestion.read_project_tables(DATA_DIR, tuple(names))
    versions = [v for v, in con.execute("SELECT version_id FROM dataset_versions").fetchall()]
    for name in names:
        con.execute(ingestion.table_ddl(ingestion.TABLES[name]))
        for version_id in versions:
            _insert(con, name, tables[name], version_id)


def _add_columns_added_later(con: duckdb.DuckDBPyConnection, db_path: Path, read_only: bool) -> None:
    """Give the input tables of a database built before a column was added that column, with its
    declared default, so its versions, uploads and workspace are kept (no rebuild)."""
    present = {(t, c) for t, c in con.execute("SELECT table_name, column_name FROM duckdb_columns()").fetchall()}
    missing = [(spec, column) for spec in ingestion.TABLES.values() for column in spec.columns
               if (spec.name, column.name) not in present]
    if not missing:
        return
    names = ", ".join(f"{spec.name}.{column.name}" for spec, column in missing)
    if read_only or any(column.default is None for _, column in missing):
        con.close()
        raise DatabaseOutdatedError(
            f"The database {db_path} was built by an older version of UrbanSymbiosis (it lacks the column(s) {names}). "
            + ("Open it once with the dashboard or the CLI (not read-only) to add them; nothing is lost."
               if all(column.default is not None for _, column in missing) else
               f"Rebuild it with `make db` or: python -m decision_tools build --db {db_path}"))
    for spec, column in missing:
        sql_type = ingestion.SQL_TYPES[column.kind]
        con.execute(f'ALTER TABLE {spec.name} ADD COLUMN "{column.name}" {sql_type}')
        con.execute(f'UPDATE {spec.name} SET "{column.name}" = CAST(? AS {sql_type})', [column.default])


COPY_ATTEMPTS = 5


def _file_state(*paths: Path) -> tuple:
    """Size and modification time of each file (None when absent): equal before and after a copy means
    nothing was written to them meanwhile."""
    state = []
    for path in paths:
        try:
            stat = path.stat()
            state.append((stat.st_size, stat.st_mtime_ns))
        except FileNotFoundError:
            state.append(None)
    return tuple(state)


def connect_copy(db_path: Path | None = None) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """Open a private read-only copy of a database another process holds read-write (DuckDB lets no
    other process open it meanwhile, not even to read). The file and its write-ahead log are copied into
    a new temporary folder; a copy taken while the writer was writing (a publish's checkpoint) is taken
    again. Returns the connection and the folder, which the caller removes after closing. The copy
    holds the committed data as of the moment it was taken."""
    db_path = Path(db_path or default_db_path())
    wal = db_path.with_name(db_path.name + ".wal")
    folder = Path(tempfile.mkdtemp(prefix="urban_symbiosis_copy_"))
    copy = folder / db_path.name
    copy_wal = copy.with_name(copy.name + ".wal")
    reason = "it kept changing while it was being copied"
    try:
        for attempt in range(COPY_ATTEMPTS):
            before = _file_state(db_path, wal)
            copy_wal.unlink(missing_ok=True)
            try:
                shutil.copyfile(db_path, copy)
                if before[1] is not None:
                    shutil.copyfile(wal, copy_wal)
            except FileNotFoundError:  # the log was folded into the file meanwhile: take the copy again
                if not db_path.exists():
                    raise
                continue
            if _file_state(db_path, wal) == before:
                try:
                    return connect(copy, read_only=True), folder
                except DatabaseOutdatedError as exc:
                    raise DatabaseOutdatedError(str(exc).replace(str(copy), str(db_path))) from exc
                except DatabaseCorruptError:  # caught mid-write after all: take it again
                    reason = "the copies taken could not be read (it was being written)"
            time.sleep(0.05 * (attempt + 1))
        raise DatabaseBusyError(f"The database {db_path} is held by another process (probably the running dashboard), "
                                f"and a copy of it could not be taken to read: {reason}. Try again in a moment.")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@dataclass(frozen=True)
class Figure:
    """One number with its provenance."""

    key: str
    label: str
    kg: float
    confidence: str
    source_ids: str
    downscaled: bool


def latest_published(versions: pd.DataFrame) -> int:
    """The version the dashboards show: the newest published one of ``Store.versions()`` (a page reads both
    with one query)."""
    published = versions.loc[versions["status"] == "published", "version_id"]
    if published.empty:
        raise DatabaseCorruptError("The database has no published dataset version.")
    return int(published.max())


class Store:
    """Read queries over one database connection; a fresh cursor per query (thread-safe use).

    In the replica layout (decision_tools.snapshots) the workspace tables live in a shared file opened
    per operation, a writer exports a snapshot after each publish, and a replica refuses to publish.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, workspace: Path | None = None,
                 snapshot_dir: Path | None = None, replica: bool = False):
        self._con = con
        self.copied_from: Path | None = None  # set when this store reads a copy of a database held elsewhere
        self._copy_folder: Path | None = None
        self._workspace = workspace  # None: the workspace tables are in this database
        self._snapshot_dir = None if replica else snapshot_dir  # a writer exports snapshots here
        self.replica = replica
        if workspace is not None:
            with self._connection(workspace=True) as ws:
                ws.execute(WORKSPACE_SQL)
            if self._snapshot_dir is not None:
                self._seed_workspace()

    @classmethod
    def open(cls, db_path: Path | None = None, *, read_only: bool = True, snapshot_dir: Path | None = None,
             copy_when_busy: bool = False) -> "Store":
        """Open the main database. In the replica layout (``snapshot_dir``, by default
        $URBAN_SYMBIOSIS_SNAPSHOTS) a read-write open makes this process the writer.

        ``copy_when_busy`` (read-only opens): when another process holds the database (the running
        dashboard), read a private copy of it instead (``connect_copy``; ``copied_from`` says so) rather
        than raise DatabaseBusyError. Writing is never redirected: a read-write open of a held database
        raises DatabaseBusyError in a sentence."""
        try:
            con = connect(db_path, read_only=read_only)
        except DatabaseBusyError:
            if not (read_only and copy_when_busy):
                raise
            con, folder = connect_copy(db_path)
            store = cls(con)
            store.copied_from, store._copy_folder = Path(db_path or default_db_path()), folder
            return store
        if not read_only:
            con.execute(WORKSPACE_SQL)  # databases built before a workspace table existed get it now
        layout = snapshot_dir or snapshots.configured_dir()
        if layout is None:
            return cls(con)
        return cls(con, workspace=layout / snapshots.WORKSPACE_FILE, snapshot_dir=None if read_only else layout)

    @classmethod
    def open_replica(cls, snapshot: Path) -> "Store":
        """A read-only replica on one snapshot file (snapshots.current_snapshot), with the shared
        workspace beside it."""
        try:
            con = connect(snapshot, read_only=True)
        except (DatabaseCorruptError, DatabaseOutdatedError) as exc:  # the advice for a main database does not fit here
            raise type(exc)(f"The snapshot {snapshot} cannot be used: {str(exc).split('. ')[0]}. On the writer, rebuild or "
                            f"fix its database, then run: python -m decision_tools snapshot --dir {snapshot.parent}") from exc
        return cls(con, workspace=snapshot.parent / snapshots.WORKSPACE_FILE, replica=True)

    def close(self) -> None:
        self._con.close()
        if self._copy_folder is not None:
            shutil.rmtree(self._copy_folder, ignore_errors=True)
            self._copy_folder = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _connection(self, workspace: bool = False):
        """The connection for dataset tables, or for the workspace tables (their own short-lived
        connection in the replica layout)."""
        if not workspace or self._workspace is None:
            yield self._con
            return
        con = snapshots.open_workspace(self._workspace)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self, workspace: bool = False):
        """A cursor inside a transaction: committed when the block ends, rolled back on any error."""
        with self._connection(workspace) as con:
            cursor = con.cursor()
            try:
                cursor.execute("BEGIN TRANSACTION")
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # a failed COMMIT (a full disk, say) has already ended the transaction
                raise
            finally:
                cursor.close()

    def _frame(self, sql: str, params: list | dict | None = None, workspace: bool = False) -> pd.DataFrame:
        with self._connection(workspace) as con:
            cursor = con.cursor()
            try:
                return cursor.execute(sql, params or []).df()
            finally:
                cursor.close()

    def _workspace_frame(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        return self._frame(sql, params, workspace=True)

    # --- versions and reference tables -------------------------------------------------------
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

    def year_range(self, version_id: int) -> tuple[int, int]:
        row = self._frame("SELECT min(year) AS lo, max(year) AS hi FROM flows WHERE version_id = ?", [version_id])
        return int(row.at[0, "lo"]), int(row.at[0, "hi"])

    # --- the chain ---------------------------------------------------------------------------
    def chain(self, version_id: int, city: str, year: int, materials: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Flows of the chain for a city and year, kg per year per material, summed over products and
        districts, in the order of the chain. ``materials`` None means every material."""
        return self._frame(
            """
            SELECT material, from_process, to_process, sum(kg) AS kg
            FROM flows
            WHERE version_id = $version AND city = $city AND year = $year
              AND ($materials IS NULL OR list_contains($materials, material))
            GROUP BY material, from_process, to_process
            ORDER BY material, list_position($edges, [from_process, to_process])
            """,
            {"version": version_id, "city": city, "year": year,
             "materials": None if materials is None else _as_list(materials),
             "edges": [[frm, to] for frm, to, _ in system.EDGES]},
        )

    def metric_table(self, version_id: int, city: str | None, materials: str | Sequence[str], year: int | None = None,
                     by: tuple[str, ...] = ()) -> pd.DataFrame:
        """The headline quantities (METRICS) summed over everything but ``by``, with provenance.

        ``city`` None means every city; ``materials`` is one symbol or several (summed). Returns one
        row per metric (and per value of ``by``): kg, confidence (weakest input), source_ids
        (union), downscaled (any input downscaled from a national or EU average).
        """
        unknown = [b for b in by if b not in _GROUPABLE]
        if unknown:
            raise ValueError(f"Cannot group by {', '.join(unknown)}; choose from {', '.join(_GROUPABLE)}.")
        year_filter = "AND year = $year" if year is not None else ""
        if set(by) <= _TOTALS_GROUPABLE:
            rows_sql = (f"SELECT * FROM metric_totals WHERE version_id = $version AND ($city IS NULL OR city = $city) "
                        f"AND list_contains($materials, material) {year_filter}")
        else:
            rows_sql = _METRIC_ROWS_SQL.format(year_filter=year_filter, first_year=system.REPORT_START)
        keys = ", ".join(("metric",) + by)
        params = {"version": version_id, "city": city, "materials": _as_list(materials)}
        if year is not None:
            params["year"] = year
        frame = self._frame(f"SELECT {keys}, sum(kg) AS kg, {_PROVENANCE_AGGREGATES} FROM ({rows_sql}) "
                            f"GROUP BY {keys} ORDER BY {keys}", params)
        return _combine_provenance(frame)

    def headline(self, version_id: int, city: str, year: int, material: str) -> dict[str, Figure]:
        """The headline figures for one city, year and material, each with provenance."""
        frame = self.metric_table(version_id, city, material, year).set_index("metric")
        figures = {}
        for key, (label, _) in METRICS.items():
            if key in frame.index:
                row = frame.loc[key]
                figures[key] = Figure(key, label, float(row["kg"]), row["confidence"], row["source_ids"], bool(row["downscaled"]))
        return figures

    def sources(self, version_id: int) -> pd.DataFrame:
        """Every source with the confidence labels and tables of the rows that cite it."""
        unions = " UNION ALL ".join(
            f"SELECT '{name}' AS table_name, unnest(string_split(source_id, ';')) AS source_id, confidence "
            f"FROM {name} WHERE version_id = $version"
            for name in INPUT_TABLES if ingestion.TABLES[name].has_provenance
        )
        return self._frame(
            f"""
            WITH cites AS ({unions})
            SELECT s.source_id, s.citation, s.publisher, s.year, s.url, s.note,
                   string_agg(DISTINCT c.confidence, ', ' ORDER BY c.confidence) AS confidence_labels,
                   string_agg(DISTINCT c.table_name, ', ' ORDER BY c.table_name) AS used_in,
                   count(c.source_id) AS rows_citing
            FROM sources s LEFT JOIN cites c ON c.source_id = s.source_id
            WHERE s.version_id = $version
            GROUP BY ALL ORDER BY s.source_id
            """,
            {"version": version_id},
        )

    def mass_balance(self, version_id: int | None = None) -> pd.DataFrame:
        """Residual of every balanced process (inflow - outflow - stock change) per row of the
        model, worst first, with the residual relative to the process throughput."""
        balanced = ", ".join(f"'{p}'" for p in system.BALANCED_PROCESSES)
        return self._frame(
            f"""
            WITH moves AS (
                SELECT version_id, city, district, year, product, material, to_process AS process, kg AS kg_in, 0.0 AS kg_out FROM flows
                UNION ALL
                SELECT version_id, city, district, year, product, material, from_process, 0.0, kg FROM flows
            ), totals AS (
                SELECT version_id, city, district, year, product, material, process,
                       sum(kg_in) AS kg_in, sum(kg_out) AS kg_out
                FROM moves WHERE process IN ({balanced}) AND ($version IS NULL OR version_id = $version)
                GROUP BY ALL
            ), changes AS (
                SELECT version_id, city, district, year, product, material, process,
                       kg - lag(kg) OVER (PARTITION BY version_id, city, district, product, material, process ORDER BY year) AS stock_change
                FROM stocks WHERE ($version IS NULL OR version_id = $version)
            )
            SELECT t.*, coalesce(c.stock_change, 0.0) AS stock_change,
                   t.kg_in - t.kg_out - coalesce(c.stock_change, 0.0) AS residual_kg,
                   abs(t.kg_in - t.kg_out - coalesce(c.stock_change, 0.0)) / greatest(t.kg_in, t.kg_out, 1e-12) AS relative_residual
            FROM totals t LEFT JOIN changes c
              ON c.version_id = t.version_id AND c.city = t.city AND c.district IS NOT DISTINCT FROM t.district
             AND c.year = t.year AND c.product = t.product AND c.material = t.material AND c.process = t.process
            ORDER BY relative_residual DESC
            """,
            {"version": version_id},
        )

    # --- saved scenarios: each name belongs to the partner who saved it ---------------------
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
                           [name, city, json.dumps(settings, sort_keys=True), note.strip()[:300], _now(), actor.username,
                            version_id])
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

    # --- versions: publish, roll back, audit (the single writer) ------------------------------
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
                _write_version(cursor, version_id, tables, name, note, actor.username)
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

    def _refuse_on_replica(self) -> None:
        if self.replica:
            raise StoreError(REPLICA_NOTE)

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

    def export_snapshot(self) -> Path:
        """Write the dataset tables (every version) as a new immutable snapshot for the replicas."""
        if self._snapshot_dir is None:
            raise StoreError(f"Set ${snapshots.SNAPSHOTS_ENV_VAR} to a directory, and open the database read-write, to export snapshots.")
        orders = {"dataset_versions": "version_id", **{t: f"version_id, {RESULT_ORDER[t]}" for t in RESULT_TABLES},
                  **{t: "" for t in INPUT_TABLES}}
        return snapshots.export(self._con, self._snapshot_dir, orders)

    def _seed_workspace(self) -> None:
        """Moving into the replica layout: copy this database's workspace tables (saved views,
        sessions, events ...) into the shared workspace file while that file is still empty."""
        local = self._con.cursor()
        try:
            with self._transaction(workspace=True) as cursor:
                counts = [cursor.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] for table in WORKSPACE_TABLES]
                if any(counts):
                    return
                for table in WORKSPACE_TABLES:
                    rows = local.execute(f"SELECT * FROM {table}").df()
                    if not rows.empty:
                        cursor.register("seed", rows)
                        cursor.execute(f"INSERT INTO {table} SELECT * FROM seed")
                        cursor.unregister("seed")
        finally:
            local.close()

    @staticmethod
    def _audit(cursor, username: str, action: str, detail: dict) -> None:
        cursor.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?)",
                       [datetime.now(timezone.utc).replace(tzinfo=None), username, action, json.dumps(detail, default=str)])

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

    # --- sign-in: attempts and sessions (the rules are in decision_tools.signin) --------------
    def record_sign_in_attempt(self, username: str, client: str, succeeded: bool, audit_action: str,
                               detail: dict | None = None) -> None:
        """One sign-in attempt and its audit entry, in one transaction."""
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO sign_in_attempts VALUES (?, ?, ?, ?)", [username, client, _now(), succeeded])
            self._audit(cursor, username, audit_action, {"client": client, **(detail or {})})

    def sign_in_failures(self, username: str, client: str, since: datetime) -> tuple[list[datetime], list[datetime]]:
        """Failed attempts since ``since`` (and since the last success): for the account, and from the client."""
        def failures(column: str, value: str) -> list[datetime]:
            frame = self._workspace_frame(
                f"""SELECT attempted_at FROM sign_in_attempts WHERE {column} = $value AND NOT succeeded AND attempted_at >= $since
                    AND attempted_at > coalesce((SELECT max(attempted_at) FROM sign_in_attempts
                                                 WHERE {column} = $value AND succeeded), TIMESTAMP '1970-01-01')
                    ORDER BY attempted_at""", {"value": value, "since": since})
            return [ts.to_pydatetime() for ts in frame["attempted_at"]]

        return failures("username", username), failures("client", client)

    def start_sign_in_session(self, token_sha256: str, username: str, client: str, expires_at: datetime) -> None:
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO sign_in_sessions VALUES (?, ?, ?, ?, ?, NULL)",
                           [token_sha256, username, client, _now(), expires_at])

    def sign_in_session(self, token_sha256: str) -> dict | None:
        """The open, unexpired sign-in session behind a token hash, or None."""
        frame = self._workspace_frame("SELECT * FROM sign_in_sessions WHERE token_sha256 = ? AND ended_at IS NULL "
                                      "AND expires_at > ?", [token_sha256, _now()])
        return None if frame.empty else frame.iloc[0].to_dict()

    def end_sign_in_sessions(self, *, token_sha256: str | None = None, username: str | None = None,
                             audit_action: str | None = None) -> None:
        """End one sign-in session (its token) or every session of an account."""
        with self._transaction(workspace=True) as cursor:
            cursor.execute("UPDATE sign_in_sessions SET ended_at = ? WHERE ended_at IS NULL AND "
                           "(token_sha256 = ? OR username = ?)", [_now(), token_sha256, username])
            if audit_action and username:
                self._audit(cursor, username, audit_action, {})

    # --- saved views (links that reopen the same numbers) -----------------------------------
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
                            actor.username, _now()])
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

    # --- discussion sessions: ordered saved views with notes and comments --------------------
    COMMENTS_PER_PAGE = 20

    def create_session(self, title: str, items: list[tuple[str, str]], actor: Actor | str) -> str:
        """A session of saved views in order, each with a note; returns its short id."""
        from .views import new_view_id

        actor = accounts.authorize(actor, "create_session")
        title = " ".join(title.split())[:MAX_NAME_LENGTH]
        if not title:
            raise ValueError("Give the session a title.")
        if not items:
            raise ValueError("Pick at least one saved view for the session.")
        if len(items) > 50:
            raise ValueError(f"A session has at most 50 steps; this one has {len(items)}.")
        for view_id, _ in items:
            if self.get_view(view_id) is None:
                raise ValueError(f"There is no saved view '{view_id}'.")
        session_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO discussion_sessions VALUES (?, ?, ?, ?)", [session_id, title, actor.username, _now()])
            for position, (view_id, note) in enumerate(items, start=1):
                cursor.execute("INSERT INTO session_items VALUES (?, ?, ?, ?)", [session_id, position, view_id, note.strip()[:1000]])
            self._audit(cursor, actor.username, "create_session", {"session_id": session_id, "title": title, "steps": len(items)})
        return session_id

    def sessions(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM discussion_sessions ORDER BY created_at DESC LIMIT ?", [limit])

    def get_session(self, session_id: str) -> dict | None:
        from .views import valid_view_id

        if not valid_view_id(session_id):
            return None
        head = self._workspace_frame("SELECT * FROM discussion_sessions WHERE session_id = ?", [session_id])
        if head.empty:
            return None
        items = self._workspace_frame(
            "SELECT i.position, i.view_id, i.note, v.title, v.page, v.state, v.dataset_version FROM session_items i "
            "JOIN saved_views v USING (view_id) WHERE i.session_id = ? ORDER BY i.position", [session_id])
        return {**head.iloc[0].to_dict(), "items": items}

    def present_step(self, session_id: str, position: int, actor: Actor | str) -> None:
        """Make ``position`` the step everyone following the session sees (the presenter leads from here)."""
        actor = accounts.authorize(actor, "present_session")
        steps = self._workspace_frame("SELECT position FROM session_items WHERE session_id = ?", [session_id])
        if int(position) not in set(steps["position"]):
            raise ValueError(f"The session '{session_id}' has no step {position}.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT OR REPLACE INTO session_presenters VALUES (?, ?, ?, ?)",
                           [session_id, int(position), actor.username, _now()])

    def stop_presenting(self, session_id: str, actor: Actor | str) -> None:
        accounts.authorize(actor, "present_session")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("DELETE FROM session_presenters WHERE session_id = ?", [session_id])

    def presented_step(self, session_id: str) -> dict | None:
        """The presenter's current step of a session ({position, presenter, updated_at}), or None."""
        frame = self._workspace_frame("SELECT position, presenter, updated_at FROM session_presenters WHERE session_id = ?",
                                      [session_id])
        return None if frame.empty else frame.iloc[0].to_dict()

    def add_comment(self, session_id: str, position: int, actor: Actor | str, text: str) -> None:
        """A comment on one step of a session, with its audit entry. At most MAX_COMMENTS_PER_MINUTE
        per person per minute (a sentence says how long to wait)."""
        actor = accounts.authorize(actor, "comment")
        text = text.strip()
        if not text:
            raise ValueError("Write something before sending the comment.")
        if len(text) > MAX_COMMENT_LENGTH:
            raise ValueError(f"A comment has at most {MAX_COMMENT_LENGTH} characters; this one has {len(text)}.")
        steps = self._workspace_frame("SELECT position FROM session_items WHERE session_id = ?", [session_id])
        if int(position) not in set(steps["position"]):
            raise ValueError(f"The session '{session_id}' has no step {position}.")
        with self._transaction(workspace=True) as cursor:
            now = _now()
            recent = cursor.execute("SELECT count(*), min(created_at) FROM session_comments WHERE username = ? AND created_at > ?",
                                    [actor.username, now - timedelta(minutes=1)]).fetchall()[0]
            if recent[0] >= MAX_COMMENTS_PER_MINUTE:
                wait = max(1, int(60 - (now - recent[1]).total_seconds()) + 1)
                raise ValueError(f"You have sent {recent[0]} comments in the last minute, the most allowed; "
                                 f"wait {wait} seconds before sending the next.")
            cursor.execute("INSERT INTO session_comments VALUES (?, ?, ?, ?, ?)", [session_id, int(position), actor.username, now, text])
            self._audit(cursor, actor.username, "comment", {"session_id": session_id, "position": int(position),
                                                            "characters": len(text)})

    def comments(self, session_id: str, position: int | None = None, *, page: int = 1,
                 per_page: int | None = None) -> pd.DataFrame:
        """Comments of a session (one step, or all when ``position`` is None), oldest first, one page of
        ``per_page`` (COMMENTS_PER_PAGE; the session export asks for all with per_page=MAX_LIST_ROWS)."""
        per_page = min(per_page or self.COMMENTS_PER_PAGE, MAX_LIST_ROWS)
        return self._workspace_frame(
            "SELECT position, username, created_at, text FROM session_comments WHERE session_id = $session "
            "AND ($position IS NULL OR position = $position) ORDER BY created_at, username LIMIT $limit OFFSET $offset",
            {"session": session_id, "position": None if position is None else int(position), "limit": per_page,
             "offset": (max(1, int(page)) - 1) * per_page})

    def comment_count(self, session_id: str, position: int | None = None) -> int:
        frame = self._workspace_frame("SELECT count(*) AS n FROM session_comments WHERE session_id = $session "
                                      "AND ($position IS NULL OR position = $position)",
                                      {"session": session_id, "position": None if position is None else int(position)})
        return int(frame.at[0, "n"])

    # --- the symbiosis hub: matches, challenges, interest, events -----------------------------
    MATCH_STATUSES = ("proposed", "accepted", "active", "ended")
    CHALLENGE_STATUSES = ("open", "assigned", "in progress", "completed")

    def owned_organisations(self, actor: Actor | str | None) -> pd.DataFrame:
        """The organisations (of the current version) ``actor`` acts for: those it owns; every one for an admin."""
        actor = accounts.as_actor(actor)
        orgs = self.table("organisations", self.current_version())
        if actor is None:
            return orgs.iloc[0:0]
        if actor.command_line or "admin" in accounts.current_roles(actor.username):
            return orgs
        return orgs[orgs["owner"] == actor.username]

    def set_match_status(self, offer_id: str, need_id: str, status: str, kg_per_year: float, actor: Actor | str) -> None:
        """Record a match's status; only an organisation on one side of it (or an admin) may."""
        actor = accounts.authorize(actor, "update_match")
        if status not in self.MATCH_STATUSES:
            raise ValueError(f"Unknown status '{status}'; use one of: {', '.join(self.MATCH_STATUSES)}.")
        version = self.current_version()
        sides = {*self.table("offers", version).set_index("offer_id")["org_id"].reindex([offer_id]).dropna(),
                 *self.table("needs", version).set_index("need_id")["org_id"].reindex([need_id]).dropna()}
        if not sides & set(self.owned_organisations(actor)["org_id"]):
            raise PermissionDenied("Only the organisations in a match can record it.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("DELETE FROM symbiosis_matches WHERE offer_id = ? AND need_id = ?", [offer_id, need_id])
            cursor.execute("INSERT INTO symbiosis_matches VALUES (?, ?, ?, ?, ?, ?)",
                           [offer_id, need_id, status, kg_per_year, actor.username, _now()])
            self._audit(cursor, actor.username, "match_status", {"offer_id": offer_id, "need_id": need_id, "status": status})

    def matches(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM symbiosis_matches ORDER BY updated_at DESC LIMIT ?", [limit])

    def post_challenge(self, title: str, description: str, org_id: str, disciplines: list[str], kind: str,
                       material: str | None, view_id: str | None, deadline, actor: Actor | str) -> str:
        """Post a challenge in the name of one of the poster's own organisations."""
        from .views import new_view_id

        actor = accounts.authorize(actor, "post_challenge")
        title, description = " ".join(title.split())[:MAX_NAME_LENGTH], description.strip()[:MAX_COMMENT_LENGTH]
        if not title or not description:
            raise ValueError("A challenge needs a title and a description.")
        if not disciplines:
            raise ValueError("Pick at least one discipline.")
        own = self.owned_organisations(actor).set_index("org_id")["name"]
        if org_id not in own.index:
            raise PermissionDenied("A challenge is posted in the name of one of your own organisations; pick one of them.")
        if view_id and self.get_view(view_id) is None:
            raise ValueError(f"There is no saved view '{view_id}' to link.")
        challenge_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            if cursor.execute("SELECT count(*) FROM challenges WHERE posted_by = ? AND lower(title) = lower(?) AND status <> 'completed'",
                              [actor.username, title]).fetchall()[0][0]:
                raise ValueError(f"You have already posted “{title}” and it is not completed; it is in the list above.")
            cursor.execute("INSERT INTO challenges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, ?, ?)",
                           [challenge_id, title, description, own[org_id], ";".join(disciplines), kind,
                            material, view_id or None, deadline, actor.username, _now()])
            self._audit(cursor, actor.username, "post_challenge", {"challenge_id": challenge_id, "title": title, "org_id": org_id})
        return challenge_id

    def challenges(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("""SELECT c.*, count(i.username) AS interested FROM challenges c
                              LEFT JOIN challenge_interest i USING (challenge_id) GROUP BY ALL ORDER BY c.posted_at DESC
                              LIMIT ?""", [limit])

    def register_interest(self, challenge_id: str, actor: Actor | str) -> None:
        """Register the actor's interest in a challenge, once (a second time raises AlreadyRegistered), and
        leave a notice for the account that posted it, in the same transaction."""
        actor = accounts.authorize(actor, "register_interest")
        title = challenge_id
        try:
            with self._transaction(workspace=True) as cursor:
                posted = cursor.execute("SELECT title, posted_by FROM challenges WHERE challenge_id = ?", [challenge_id]).fetchall()
                if not posted:
                    raise ValueError(f"There is no challenge '{challenge_id}'.")
                title, poster = posted[0]
                if cursor.execute("SELECT count(*) FROM challenge_interest WHERE challenge_id = ? AND username = ?",
                                  [challenge_id, actor.username]).fetchall()[0][0]:
                    raise AlreadyRegistered(f"You have already registered interest in this challenge, “{title}”.")
                now = _now()
                cursor.execute("INSERT INTO challenge_interest VALUES (?, ?, ?)", [challenge_id, actor.username, now])
                if poster != actor.username:
                    cursor.execute("INSERT INTO interest_notices VALUES (?, ?, ?, ?, NULL)",
                                   [challenge_id, actor.username, poster, now])
                self._audit(cursor, actor.username, "register_interest", {"challenge_id": challenge_id})
        except duckdb.ConstraintException as exc:  # the same account, twice at the same moment: the key refuses the second
            raise AlreadyRegistered(f"You have already registered interest in this challenge, “{title}”.") from exc

    def interest_notices(self, actor: Actor | str | None, *, include_seen: bool = False) -> pd.DataFrame:
        """The expressions of interest in the challenges ``actor`` posted, newest first, unseen only unless
        ``include_seen``: who, when, and the challenge's title. Nobody else's notices, ever (the query is
        bound to the actor's own account); no account, no notices."""
        columns = ["challenge_id", "title", "username", "created_at", "seen_at"]
        if accounts.as_actor(actor) is None:
            return pd.DataFrame(columns=columns)
        actor = accounts.authorize(actor, "read_notices")
        return self._workspace_frame(
            """SELECT n.challenge_id, c.title, n.username, n.created_at, n.seen_at FROM interest_notices n
               JOIN challenges c USING (challenge_id)
               WHERE n.recipient = ? AND (? OR n.seen_at IS NULL) ORDER BY n.created_at DESC LIMIT ?""",
            [actor.username, include_seen, MAX_LIST_ROWS])[columns]

    def mark_notices_seen(self, actor: Actor | str, challenge_id: str | None = None) -> int:
        """Mark the actor's own unseen notices seen (of one challenge, or all); returns how many."""
        actor = accounts.authorize(actor, "read_notices")
        with self._transaction(workspace=True) as cursor:
            params = [_now(), actor.username] + ([challenge_id] if challenge_id else [])
            marked = cursor.execute("UPDATE interest_notices SET seen_at = ? WHERE recipient = ? AND seen_at IS NULL"
                                    + (" AND challenge_id = ?" if challenge_id else "") + " RETURNING 1", params).fetchall()
            if marked:
                self._audit(cursor, actor.username, "mark_notices_seen", {"challenge_id": challenge_id, "count": len(marked)})
        return len(marked)

    def interested(self, challenge_id: str) -> list[str]:
        frame = self._workspace_frame("SELECT username FROM challenge_interest WHERE challenge_id = ? ORDER BY registered_at "
                                      "LIMIT ?", [challenge_id, MAX_LIST_ROWS])
        return list(frame["username"])

    def set_challenge_status(self, challenge_id: str, status: str, outcome: str, actor: Actor | str) -> None:
        """Move a challenge on (open -> assigned -> in progress -> completed); only its poster may."""
        actor = accounts.authorize(actor, "update_challenge")
        if status not in self.CHALLENGE_STATUSES:
            raise ValueError(f"Unknown status '{status}'; use one of: {', '.join(self.CHALLENGE_STATUSES)}.")
        with self._transaction(workspace=True) as cursor:
            row = cursor.execute("SELECT posted_by FROM challenges WHERE challenge_id = ?", [challenge_id]).fetchall()
            if not row or row[0][0] != actor.username:
                raise PermissionDenied("Only the partner who posted the challenge can change its status.")
            cursor.execute("UPDATE challenges SET status = ?, outcome = ? WHERE challenge_id = ?",
                           [status, outcome.strip()[:500] or None, challenge_id])
            self._audit(cursor, actor.username, "challenge_status", {"challenge_id": challenge_id, "status": status})

    def events(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM hub_events ORDER BY event_date LIMIT ?", [limit])

    EVENT_KINDS = ("seminar", "feedback session", "discussion session", "assignment market")

    def add_event(self, title: str, kind: str, event_date, place: str, challenge_id: str | None, session_id: str | None,
                  actor: Actor | str) -> str:
        """A hub event, linked to a challenge and a discussion session where given (both must exist)."""
        from .views import new_view_id

        actor = accounts.authorize(actor, "add_event")
        title = " ".join(title.split())[:MAX_NAME_LENGTH]
        if not title:
            raise ValueError("Give the event a title.")
        if kind not in self.EVENT_KINDS:
            raise ValueError(f"Unknown kind '{kind}'; use one of: {', '.join(self.EVENT_KINDS)}.")
        if challenge_id and self._workspace_frame("SELECT 1 FROM challenges WHERE challenge_id = ?", [challenge_id]).empty:
            raise ValueError(f"There is no challenge '{challenge_id}'.")
        if session_id and self.get_session(session_id) is None:
            raise ValueError(f"There is no discussion session '{session_id}'.")
        event_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO hub_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [event_id, title, kind, event_date, place.strip()[:MAX_NAME_LENGTH], challenge_id, session_id])
            self._audit(cursor, actor.username, "add_event", {"event_id": event_id, "title": title})
        return event_id
