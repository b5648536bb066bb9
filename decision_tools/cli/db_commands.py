"""The database commands: build, status, upgrade, snapshot, schema, check (mass balance)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

from .. import storage, validation_report
from .common import UsageError, fail, open_for_reading

MAX_RELATIVE_RESIDUAL = 1e-6


def cmd_build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    path = Path(args.db or storage.default_db_path())
    try:
        # A damaged file may still hold uploads and the workspace: refused, or renamed aside, never replaced.
        moved = storage.guard_damaged_database(path, move_aside=args.move_aside_damaged)
        if moved is not None:
            print(_moved_aside_note(path, moved), file=sys.stderr)
        version = storage.build_database(path, Path(args.data_dir), note=args.note or "")
    except validation_report.DataValidationError as exc:
        return fail(str(exc))
    except storage.DatabaseCorruptError as exc:
        return fail(str(exc), 3)
    except storage.StoreError as exc:
        return fail(str(exc))
    print(f"Built {path} (dataset version {version}) in {time.perf_counter() - started:.1f} s.")
    return 0


def _moved_aside_note(path: Path, moved: Path) -> str:
    wal = moved.with_name(moved.name + ".wal")
    with_wal = f" (its write-ahead log to {wal})" if wal.exists() else ""
    return (f"note: the database {path} was damaged, so it was moved aside, not deleted: it is now {moved}{with_wal}. "
            "It may still hold uploaded dataset versions, saved views, sessions, comments and the audit log; "
            "\"Recovering a damaged database\" in the README says how to get them back. Building a fresh demo database "
            f"at {path}.")


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 when the database opens and every table reads back; 1 missing, 3 damaged, 4 outdated, 5 held
    by another process."""
    path = args.db or storage.default_db_path()
    try:
        storage.guard_damaged_database(path)  # reads every block: a truncated or damaged file is exit 3
        with storage.Store.open(path) as store:
            version = store.current_version()
    except storage.DatabaseMissingError as exc:
        return fail(str(exc), 1)
    except storage.DatabaseCorruptError as exc:
        return fail(str(exc), 3)
    except storage.DatabaseOutdatedError as exc:
        return fail(str(exc), 4)
    except storage.DatabaseBusyError as exc:
        # Exit 5 still (`make run` must not start a second app on it), but say what a copy of it holds.
        try:
            with storage.Store.open(path, copy_when_busy=True) as store:
                print(f"{path}: dataset version {store.current_version()} is current (read from a copy taken just now).")
        except (storage.StoreError, OSError, duckdb.Error):
            pass  # the sentence below says what matters
        return fail(f"{exc} Reading commands and ingest --dry-run work beside it; ingest hands a publish to the running dashboard.", 5)
    print(f"{path}: dataset version {version} is current.")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Bring the database's layout up to date in place (decision_tools.migrations): every version, upload and
    workspace row is kept. Exit 0 when it is up to date afterwards; 1 missing, 3 damaged, 4 too old to upgrade
    or an upgrade step failed (rolled back: the file is as it was), 5 held by another process."""
    from .. import migrations

    path = Path(args.db or storage.default_db_path())
    try:
        storage.guard_damaged_database(path)
        con = storage.connect(path, read_only=False)  # opening read-write applies what is pending, in one transaction
    except storage.DatabaseMissingError as exc:
        return fail(str(exc), 1)
    except storage.DatabaseCorruptError as exc:
        return fail(str(exc), 3)
    except storage.DatabaseOutdatedError as exc:  # MigrationError too: the sentence names the step that failed
        return fail(str(exc), 4)
    except storage.DatabaseBusyError as exc:
        return fail(f"{exc} Stop it, then upgrade.", 5)
    try:
        applied = migrations.recorded(con) or {}
    finally:
        con.close()
    latest = max(applied, default=0)
    print(f"{path} is up to date: schema change {latest} “{applied[latest][0]}”, applied {applied[latest][1]:%Y-%m-%d %H:%M} UTC."
          if latest else f"{path} is up to date.")
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Export the database's dataset versions as a snapshot for read-only replicas."""
    from .. import snapshots

    directory = args.dir or snapshots.configured_dir()
    if directory is None:
        raise UsageError(f"say where the snapshots go: --dir DIR or ${snapshots.SNAPSHOTS_ENV_VAR}")
    with storage.Store.open(args.db, read_only=False, snapshot_dir=Path(directory)) as store:
        path = store.export_snapshot()
        version = store.current_version()
    print(f"Exported {path} (dataset version {version} current); {Path(directory) / snapshots.POINTER} points at it.")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(storage.SCHEMA_SQL.strip())
    print(storage.WORKSPACE_SQL.strip())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    with open_for_reading(args) as store:
        report = store.mass_balance()
    if report.empty:
        return fail("the database holds no flows to check")
    worst = report.iloc[0]
    where = f"{worst['city']}{' / ' + worst['district'] if isinstance(worst['district'], str) else ''}, {int(worst['year'])}, {worst['product']}, {worst['material']}, process {worst['process']}"
    print(f"Checked the mass balance of {len(report):,} process-years.")
    print(f"Worst residual: {worst['residual_kg']:.3g} kg ({worst['relative_residual']:.3g} of throughput) at {where}.")
    failing = int((report["relative_residual"] > MAX_RELATIVE_RESIDUAL).sum())
    if failing:
        return fail(f"{failing} process-year(s) exceed a residual of {MAX_RELATIVE_RESIDUAL:g} of their throughput")
    print(f"All residuals are within {MAX_RELATIVE_RESIDUAL:g} of throughput.")
    return 0
