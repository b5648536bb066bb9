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
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from . import ingestion, snapshots, system
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
CREATE TABLE IF NOT EXISTS hub_events (
    event_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, kind VARCHAR NOT NULL, event_date DATE NOT NULL,
    place VARCHAR, challenge_id VARCHAR, session_id VARCHAR
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
        con.unregister("incoming")


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
        os.replace(partial, db_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return version_id


def connect(db_path: Path | None = None, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the database, turning DuckDB's errors into sentences (missing, busy, corrupt)."""
    db_path = Path(db_path or default_db_path())
    rebuild = f"Build it with: python -m decision_tools build --db {db_path}"
    if not db_path.exists():
        raise DatabaseMissingError(f"There is no database at {db_path}. {rebuild}")
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseBusyError(
                f"The database {db_path} is held by another process (probably the running dashboard); "
                "stop it or point --db at another file."
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
    if missing:
        con.close()
        raise DatabaseOutdatedError(
            f"The database {db_path} was built by an older version of UrbanSymbiosis (it lacks {', '.join(missing)}). "
            f"Rebuild it with `make db` or: python -m decision_tools build --db {db_path}"
        )
    return con


@dataclass(frozen=True)
class Figure:
    """One number with its provenance."""

    key: str
    label: str
    kg: float
    confidence: str
    source_ids: str
    downscaled: bool


class Store:
    """Read queries over one database connection; a fresh cursor per query (thread-safe use).

    In the replica layout (decision_tools.snapshots) the workspace tables live in a shared file opened
    per operation, a writer exports a snapshot after each publish, and a replica refuses to publish.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, workspace: Path | None = None,
                 snapshot_dir: Path | None = None, replica: bool = False):
        self._con = con
        self._workspace = workspace  # None: the workspace tables are in this database
        self._snapshot_dir = None if replica else snapshot_dir  # a writer exports snapshots here
        self.replica = replica
        if workspace is not None:
            with self._connection(workspace=True) as ws:
                ws.execute(WORKSPACE_SQL)
            if self._snapshot_dir is not None:
                self._seed_workspace()

    @classmethod
    def open(cls, db_path: Path | None = None, *, read_only: bool = True, snapshot_dir: Path | None = None) -> "Store":
        """Open the main database. In the replica layout (``snapshot_dir``, by default
        $URBAN_SYMBIOSIS_SNAPSHOTS) a read-write open makes this process the writer."""
        con = connect(db_path, read_only=read_only)
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
                cursor.execute("ROLLBACK")
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
        frame = self._frame("SELECT max(version_id) AS v FROM dataset_versions WHERE status = 'published'")
        if frame.empty or pd.isna(frame.at[0, "v"]):
            raise DatabaseCorruptError("The database has no published dataset version.")
        return int(frame.at[0, "v"])

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

    # --- saved scenarios (written by the app, the single writer) ------------------------------
    def save_scenario(self, name: str, city: str, settings: dict[str, float], version_id: int,
                      created_by: str = "anonymous", note: str = "") -> None:
        """Save (or replace) a scenario under ``name`` in one transaction; ValueError in a sentence
        for an empty or too long name."""
        name = name.strip()
        if not name:
            raise ValueError("Give the scenario a name.")
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"A scenario name has at most {MAX_NAME_LENGTH} characters; this one has {len(name)}.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("DELETE FROM saved_scenarios WHERE name = ?", [name])
            cursor.execute(
                "INSERT INTO saved_scenarios VALUES (?, ?, ?, ?, ?, ?, ?)",
                [name, city, json.dumps(settings, sort_keys=True), note, datetime.now(timezone.utc).replace(tzinfo=None),
                 created_by, version_id],
            )

    def saved_scenarios(self) -> pd.DataFrame:
        """Saved scenarios, newest first, with their settings as dicts."""
        try:
            frame = self._workspace_frame("SELECT * FROM saved_scenarios ORDER BY created_at DESC, name")
        except duckdb.CatalogException:  # a read-only database built before saved scenarios existed
            return pd.DataFrame(columns=["name", "city", "settings", "note", "created_at", "created_by", "dataset_version"])
        frame["settings"] = [json.loads(v) for v in frame["settings"]]
        return frame

    # --- versions: publish, roll back, audit (the single writer) ------------------------------
    def publish(self, tables: dict[str, pd.DataFrame], name: str, note: str, created_by: str,
                detail: dict | None = None) -> int:
        """Publish ``tables`` (every input table) as a new immutable version in one transaction: the
        inputs, the model's results for every city, the version row and an audit entry. A failure at
        any point rolls everything back; the previous version stays exactly as it was."""
        self._refuse_on_replica()
        with self._transaction() as cursor:
            version_id = int(cursor.execute("SELECT coalesce(max(version_id), 0) + 1 FROM dataset_versions").fetchall()[0][0])
            _write_version(cursor, version_id, tables, name, note, created_by)
            if os.environ.get(PUBLISH_PAUSE_ENV_VAR):  # fault injection for the kill-mid-publish test
                time.sleep(float(os.environ[PUBLISH_PAUSE_ENV_VAR]))
            self._audit_versions(cursor, created_by, "publish", {"version_id": version_id, "name": name, **(detail or {})})
        self._after_versions_changed(created_by, "publish", {"version_id": version_id, "name": name, **(detail or {})})
        return version_id

    def rollback_to(self, version_id: int, username: str) -> None:
        """Make ``version_id`` the current version again: later versions are withdrawn (kept, still
        openable read-only, never deleted)."""
        self._refuse_on_replica()
        with self._transaction() as cursor:
            exists = cursor.execute("SELECT count(*) FROM dataset_versions WHERE version_id = ?", [version_id]).fetchall()[0][0]
            if not exists:
                raise ValueError(f"There is no dataset version {version_id}.")
            cursor.execute("UPDATE dataset_versions SET status = 'withdrawn' WHERE version_id > ?", [version_id])
            cursor.execute("UPDATE dataset_versions SET status = 'published' WHERE version_id = ?", [version_id])
            self._audit_versions(cursor, username, "rollback", {"to_version": version_id})
        self._after_versions_changed(username, "rollback", {"to_version": version_id})

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

    def audit_log(self) -> pd.DataFrame:
        try:
            return self._workspace_frame("SELECT * FROM audit_log ORDER BY logged_at DESC")
        except duckdb.CatalogException:
            return pd.DataFrame(columns=["logged_at", "username", "action", "detail"])

    # --- saved views (links that reopen the same numbers) -----------------------------------
    def save_view(self, title: str, page: str, state: dict, dataset_version: int, created_by: str) -> str:
        """Save a view (page, widget state, pinned dataset version); return its short id."""
        from .views import new_view_id

        title = title.strip()[:MAX_NAME_LENGTH] or "Untitled view"
        view_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO saved_views VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [view_id, title, page, json.dumps(state, sort_keys=True, default=str), dataset_version, created_by,
                            datetime.now(timezone.utc).replace(tzinfo=None)])
            self._audit(cursor, created_by, "save_view", {"view_id": view_id, "title": title, "page": page})
        return view_id

    def saved_views(self) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM saved_views ORDER BY created_at DESC")

    def get_view(self, view_id: str) -> dict | None:
        """A saved view, or None for an unknown or malformed id (bound parameter, never interpolated)."""
        from .views import valid_view_id

        if not valid_view_id(view_id):
            return None
        try:
            frame = self._workspace_frame("SELECT * FROM saved_views WHERE view_id = ?", [view_id])
        except duckdb.CatalogException:
            return None
        if frame.empty:
            return None
        row = frame.iloc[0].to_dict()
        row["state"] = json.loads(row["state"])
        return row

    # --- discussion sessions: ordered saved views with notes and comments --------------------
    def create_session(self, title: str, items: list[tuple[str, str]], created_by: str) -> str:
        """A session of saved views in order, each with a note; returns its short id."""
        from .views import new_view_id

        title = title.strip()[:MAX_NAME_LENGTH]
        if not title:
            raise ValueError("Give the session a title.")
        if not items:
            raise ValueError("Pick at least one saved view for the session.")
        for view_id, _ in items:
            if self.get_view(view_id) is None:
                raise ValueError(f"There is no saved view '{view_id}'.")
        session_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO discussion_sessions VALUES (?, ?, ?, ?)",
                           [session_id, title, created_by, datetime.now(timezone.utc).replace(tzinfo=None)])
            for position, (view_id, note) in enumerate(items, start=1):
                cursor.execute("INSERT INTO session_items VALUES (?, ?, ?, ?)", [session_id, position, view_id, note.strip()[:1000]])
            self._audit(cursor, created_by, "create_session", {"session_id": session_id, "title": title, "steps": len(items)})
        return session_id

    def sessions(self) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM discussion_sessions ORDER BY created_at DESC")

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

    def add_comment(self, session_id: str, position: int, username: str, text: str) -> None:
        text = text.strip()
        if not text:
            raise ValueError("Write something before sending the comment.")
        if len(text) > MAX_COMMENT_LENGTH:
            raise ValueError(f"A comment has at most {MAX_COMMENT_LENGTH} characters; this one has {len(text)}.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO session_comments VALUES (?, ?, ?, ?, ?)",
                           [session_id, position, username, datetime.now(timezone.utc).replace(tzinfo=None), text])

    def comments(self, session_id: str) -> pd.DataFrame:
        return self._workspace_frame("SELECT position, username, created_at, text FROM session_comments WHERE session_id = ? "
                           "ORDER BY created_at", [session_id])

    # --- the symbiosis hub: matches, challenges, interest, events -----------------------------
    MATCH_STATUSES = ("proposed", "accepted", "active", "ended")
    CHALLENGE_STATUSES = ("open", "assigned", "in progress", "completed")

    def set_match_status(self, offer_id: str, need_id: str, status: str, kg_per_year: float, username: str) -> None:
        if status not in self.MATCH_STATUSES:
            raise ValueError(f"Unknown status '{status}'; use one of: {', '.join(self.MATCH_STATUSES)}.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("DELETE FROM symbiosis_matches WHERE offer_id = ? AND need_id = ?", [offer_id, need_id])
            cursor.execute("INSERT INTO symbiosis_matches VALUES (?, ?, ?, ?, ?, ?)",
                           [offer_id, need_id, status, kg_per_year, username, datetime.now(timezone.utc).replace(tzinfo=None)])
            self._audit(cursor, username, "match_status", {"offer_id": offer_id, "need_id": need_id, "status": status})

    def matches(self) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM symbiosis_matches ORDER BY updated_at DESC")

    def post_challenge(self, title: str, description: str, organisation: str, disciplines: list[str], kind: str,
                       material: str | None, view_id: str | None, deadline, posted_by: str) -> str:
        from .views import new_view_id

        title, description = title.strip()[:MAX_NAME_LENGTH], description.strip()[:MAX_COMMENT_LENGTH]
        if not title or not description:
            raise ValueError("A challenge needs a title and a description.")
        if not disciplines:
            raise ValueError("Pick at least one discipline.")
        if view_id and self.get_view(view_id) is None:
            raise ValueError(f"There is no saved view '{view_id}' to link.")
        challenge_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO challenges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, ?, ?)",
                           [challenge_id, title, description, organisation.strip()[:MAX_NAME_LENGTH], ";".join(disciplines), kind,
                            material, view_id or None, deadline, posted_by, datetime.now(timezone.utc).replace(tzinfo=None)])
            self._audit(cursor, posted_by, "post_challenge", {"challenge_id": challenge_id, "title": title})
        return challenge_id

    def challenges(self) -> pd.DataFrame:
        return self._workspace_frame("""SELECT c.*, count(i.username) AS interested FROM challenges c
                              LEFT JOIN challenge_interest i USING (challenge_id) GROUP BY ALL ORDER BY c.posted_at DESC""")

    def register_interest(self, challenge_id: str, username: str) -> None:
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO challenge_interest VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           [challenge_id, username, datetime.now(timezone.utc).replace(tzinfo=None)])

    def interested(self, challenge_id: str) -> list[str]:
        frame = self._workspace_frame("SELECT username FROM challenge_interest WHERE challenge_id = ? ORDER BY registered_at", [challenge_id])
        return list(frame["username"])

    def set_challenge_status(self, challenge_id: str, status: str, outcome: str, username: str) -> None:
        """Move a challenge on (open -> assigned -> in progress -> completed); only its poster may."""
        if status not in self.CHALLENGE_STATUSES:
            raise ValueError(f"Unknown status '{status}'; use one of: {', '.join(self.CHALLENGE_STATUSES)}.")
        row = self._workspace_frame("SELECT posted_by FROM challenges WHERE challenge_id = ?", [challenge_id])
        if row.empty or row.at[0, "posted_by"] != username:
            raise PermissionError("Only the partner who posted the challenge can change its status.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("UPDATE challenges SET status = ?, outcome = ? WHERE challenge_id = ?", [status, outcome.strip()[:500] or None,
                                                                                                     challenge_id])

    def events(self) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM hub_events ORDER BY event_date")

    EVENT_KINDS = ("seminar", "feedback session", "discussion session", "assignment market")

    def add_event(self, title: str, kind: str, event_date, place: str, challenge_id: str | None, session_id: str | None,
                  username: str) -> str:
        """A hub event, linked to a challenge and a discussion session where given (both must exist)."""
        from .views import new_view_id

        title = title.strip()[:MAX_NAME_LENGTH]
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
            self._audit(cursor, username, "add_event", {"event_id": event_id, "title": title})
        return event_id
