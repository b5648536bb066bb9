"""The database's layout and how it changes in place: numbered migrations, never "rebuild the database".

A file records the changes applied to it in ``schema_migrations`` (number, name, applied_at). Opening it
read-write (the dashboard, or any CLI command that writes) brings it up to date in ONE transaction:

1. every pending migration of ``MIGRATIONS``, in order of number, each recorded as it is applied;
2. then what the declared layout adds by itself: workspace tables that are missing (created as the
   concept modules declare them), reference tables added later (``REFERENCE_TABLES_ADDED_LATER``, filled
   with the project's rows for every version) and input-table columns declared with a default
   (decision_tools.table_specs) that the file lacks.

Any failure rolls the whole transaction back: the file is exactly as it was, and MigrationError names
the migration that failed. Opened read-only, a file with something pending raises DatabaseOutdatedError
in a sentence saying how to upgrade it. A file with no ``schema_migrations`` table was made by a release
before numbered migrations (the last one is 3699ac5) and counts as being at ``BASELINE``; its first
read-write open records the baseline. ``build_database`` writes a fresh file at the latest number.

Where each migration applies (``scopes``): DATASETS, the versioned tables, are in the main file and in
the replicas' snapshots (which carry the main file's ``schema_migrations``); WORKSPACE, what people make
in the app, is in the main file or, in the replica layout, in the shared workspace file.

How to change the schema (add a migration):
- Change the table's DDL where its concept declares it (``SQL`` of saved_views, discussions, hub_records,
  saved_scenarios, audit, signin_records; ``SCHEMA_SQL`` of results and datasets), so fresh builds get it.
- Append ``Migration(<last number + 1>, "what it does, in words", <function>, <scopes>)`` to MIGRATIONS.
  The function gets the upgrade's cursor; it must only use bound parameters for values, never commit,
  and never drop data (copy, rename or keep instead). Write its SQL out in full in the function: it
  upgrades files of its own day, so it must not read a constant that later changes. A table that older
  files may lack is created by step 2 after the migrations, so a migration that changes a table checks
  that it exists first (``has_table``).
- Adding a column with a default to an input table needs no migration: declare it in table_specs.
- Test it: tests/unit/test_migrations.py upgrades a file of the previous release
  (tests/fixtures/previous_release) and checks it ends with the schema of a fresh build.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from . import audit, discussions, hub_records, ingestion, saved_scenarios, saved_views, signin_records
from .database import DATA_DIR, DatabaseOutdatedError, MigrationError, insert_frame, utc_now
from .datasets import INPUT_TABLES
from .results import RESULT_TABLES

DATASETS, WORKSPACE = "datasets", "workspace"
SCHEMA_MIGRATIONS_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    number INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL
);
"""
# What people make in the app (not part of a dataset version), each concept's tables as it declares them.
WORKSPACE_SQL = "".join(module.SQL for module in (audit, saved_views, discussions, hub_records, signin_records,
                                                   saved_scenarios))
WORKSPACE_TABLES = tuple(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", WORKSPACE_SQL))
# Reference tables shipped with the code after databases already existed: an older database gets them (with
# the project's rows, for every version) when it is opened read-write, instead of having to be rebuilt.
REFERENCE_TABLES_ADDED_LATER = ("external_figures", "product_regimes", "city_owned_stock", "eu_instruments",
                                "procurement_clauses")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]  # gets the upgrade's cursor, inside its transaction
    scopes: tuple[str, ...] = (DATASETS,)


def _nothing(cursor) -> None:
    """The baseline changes nothing: it is the layout such a file already has."""


BASELINE = 1
MIGRATIONS: list[Migration] = [
    Migration(1, "baseline: the layout of the last release before numbered migrations (3699ac5)", _nothing,
              (DATASETS, WORKSPACE)),
]


def has_table(cursor, name: str) -> bool:
    return bool(cursor.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
                               "AND database_name = current_database()", [name]).fetchall()[0][0])


def recorded(con) -> dict[int, tuple[str, object]] | None:
    """The migrations recorded in the file (number -> name, applied_at), or None when it has no record."""
    if not has_table(con, "schema_migrations"):
        return None
    return {number: (name, at) for number, name, at in con.execute(
        "SELECT number, name, applied_at FROM schema_migrations ORDER BY number").fetchall()}


def pending(con, scopes: Sequence[str]) -> list[Migration]:
    """The migrations of ``scopes`` the file still needs, in order."""
    done = recorded(con)
    return sorted((m for m in MIGRATIONS if set(m.scopes) & set(scopes)
                   and (m.number > BASELINE if done is None else m.number not in done)), key=lambda m: m.number)


def stamp(cursor, scopes: Sequence[str] = (DATASETS, WORKSPACE)) -> None:
    """A fresh file, made with the current layout: every migration of ``scopes`` counts as applied."""
    cursor.execute(SCHEMA_MIGRATIONS_SQL)
    done = recorded(cursor) or {}
    for m in MIGRATIONS:
        if set(m.scopes) & set(scopes) and m.number not in done:
            cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [m.number, m.name, utc_now()])


def _missing_columns(con) -> list:
    """Declared input columns missing from tables the file has (a missing table is created whole)."""
    present = {(t, c) for t, c in con.execute("SELECT table_name, column_name FROM duckdb_columns()").fetchall()}
    tables = {t for t, _ in present}
    return [(spec, column) for spec in ingestion.TABLES.values() for column in spec.columns
            if spec.name in tables and (spec.name, column.name) not in present]


def _add_reference_tables(cursor, names: list[str]) -> None:
    tables = ingestion.read_project_tables(DATA_DIR, tuple(names))
    versions = [v for v, in cursor.execute("SELECT version_id FROM dataset_versions").fetchall()]
    for name in names:
        cursor.execute(ingestion.table_ddl(ingestion.TABLES[name]))
        for version_id in versions:
            insert_frame(cursor, name, tables[name], version_id)


def _add_columns(cursor, missing: list) -> None:
    """Give the input tables of a file built before a column was declared that column, with its
    declared default, so its versions, uploads and workspace are kept."""
    for spec, column in missing:
        sql_type = ingestion.SQL_TYPES[column.kind]
        cursor.execute(f'ALTER TABLE {spec.name} ADD COLUMN "{column.name}" {sql_type}')
        cursor.execute(f'UPDATE {spec.name} SET "{column.name}" = CAST(? AS {sql_type})', [column.default])


def bring_up_to_date(con, where: Path, *, read_only: bool, datasets: bool = True, workspace: bool = True) -> None:
    """Check the file at ``where`` against the layout this code needs and, when ``read_only`` is False,
    apply what is pending (see the module's docstring). ``datasets``/``workspace``: which tables the file
    holds (a snapshot holds no workspace, the shared workspace file no dataset tables). Raises
    DatabaseOutdatedError (read-only, or too old to upgrade) or MigrationError in a sentence."""
    scopes = (DATASETS,) * datasets + (WORKSPACE,) * workspace
    present = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not present and not read_only:  # a new, empty workspace file: made with the current layout
        _in_transaction(con, where, [], lambda cursor: (cursor.execute(WORKSPACE_SQL), stamp(cursor, scopes)))
        return
    missing_tables, columns = [], []
    if datasets:
        missing_tables = [t for t in (*INPUT_TABLES, *RESULT_TABLES) if t not in present]
        if missing_tables and not set(missing_tables) <= set(REFERENCE_TABLES_ADDED_LATER):
            raise DatabaseOutdatedError(
                f"The database {where} was built by an older version of UrbanSymbiosis (it lacks {', '.join(missing_tables)}). "
                f"Rebuild it with `make db` or: python -m decision_tools build --db {where}")
        columns = _missing_columns(con)
    todo = pending(con, scopes)
    unnumbered = "schema_migrations" not in present
    if read_only:
        if todo or missing_tables:  # the tables missing here are reference tables an upgrade adds in place
            lacks = ([f"the schema change(s) {'; '.join(f'{m.number} “{m.name}”' for m in todo)}"] if todo else []) + (
                [", ".join(missing_tables)] if missing_tables else [])
            raise DatabaseOutdatedError(
                f"The database {where} was built by an older version of UrbanSymbiosis (it lacks {' and '.join(lacks)}). "
                f"Upgrade it in place, keeping everything: python -m decision_tools upgrade --db {where} "
                "(`make run` does this by itself).")
        if columns:
            names = ", ".join(f"{spec.name}.{column.name}" for spec, column in columns)
            raise DatabaseOutdatedError(
                f"The database {where} was built by an older version of UrbanSymbiosis (it lacks the column(s) {names}). "
                + (f"Upgrade it in place, keeping everything: python -m decision_tools upgrade --db {where} "
                   "(`make run` does this by itself)."
                   if all(column.default is not None for _, column in columns) else
                   f"Rebuild it with `make db` or: python -m decision_tools build --db {where}"))
        return
    if any(column.default is None for _, column in columns):
        names = ", ".join(f"{spec.name}.{column.name}" for spec, column in columns)
        raise DatabaseOutdatedError(
            f"The database {where} was built by an older version of UrbanSymbiosis (it lacks the column(s) {names}). "
            f"Rebuild it with `make db` or: python -m decision_tools build --db {where}")
    missing_workspace = [t for t in WORKSPACE_TABLES if workspace and t not in present]
    if not (todo or missing_tables or columns or missing_workspace or unnumbered):
        return  # up to date: nothing is written

    def declared_layout(cursor) -> None:
        if missing_tables:
            _add_reference_tables(cursor, missing_tables)
        _add_columns(cursor, columns)
        if missing_workspace:
            cursor.execute(WORKSPACE_SQL)  # CREATE TABLE IF NOT EXISTS: only the missing ones

    _in_transaction(con, where, todo, declared_layout, record_baseline=unnumbered, scopes=scopes)


def _in_transaction(con, where: Path, todo: list[Migration], then: Callable, *, record_baseline: bool = False,
                    scopes: Sequence[str] = ()) -> None:
    """Apply ``todo`` in order, recording each, then ``then``, all in one transaction; on any failure roll
    back (the file is as it was) and raise MigrationError naming the step."""
    cursor = con.cursor()
    step = "adding the tables and columns declared since"
    try:
        cursor.execute("BEGIN TRANSACTION")
        cursor.execute(SCHEMA_MIGRATIONS_SQL)
        if record_baseline:  # made before numbered migrations: it has the baseline layout
            for m in MIGRATIONS:
                if m.number <= BASELINE and set(m.scopes) & set(scopes):
                    cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [m.number, m.name, utc_now()])
        for m in todo:
            step = f"migration {m.number} “{m.name}”"
            m.apply(cursor)
            cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [m.number, m.name, utc_now()])
        step = "adding the tables and columns declared since"
        then(cursor)
        cursor.execute("COMMIT")
    except Exception as exc:
        try:
            cursor.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT has already ended the transaction
        if isinstance(exc, DatabaseOutdatedError):
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise MigrationError(
            f"Upgrading the database {where} failed at {step} ({reason}). Nothing was changed: the file is as it was, "
            "and this version of the code cannot use it until the upgrade succeeds. Keep the file; fix the cause "
            "(a full disk, say) and open it again, or run the previous release on it meanwhile.") from exc
    except BaseException:
        try:
            cursor.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    finally:
        cursor.close()
