"""The replica layout: published dataset versions as immutable snapshot files that any number of app
processes open read-only, while one writer publishes the next.

DuckDB lets one process write a file or many read it, never both. So in this layout (switched on by
$URBAN_SYMBIOSIS_SNAPSHOTS=DIR):

- the writer (the CLI, or one app process) keeps the main database; after every publish or rollback
  it copies the dataset tables (every version) into ``DIR/snapshot-NNNNNN.duckdb``, written beside
  and renamed into place, then points ``DIR/CURRENT`` at it (also written beside and renamed);
- replicas ($URBAN_SYMBIOSIS_REPLICA=1) read ``CURRENT`` on each request and open the snapshot it
  names read-only; a new name means a new version, and they move to it on their next rerun;
- what people make in the app (saved views, sessions, comments, challenges, the audit log) lives in
  ``DIR/workspace.duckdb``, which every process opens only for the moment of one read or write,
  waiting its turn on DuckDB's file lock.

Old snapshots are pruned but the newest few are kept, so a replica that read ``CURRENT`` just before
a publish still finds its file.
"""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import duckdb

SNAPSHOTS_ENV_VAR = "URBAN_SYMBIOSIS_SNAPSHOTS"
REPLICA_ENV_VAR = "URBAN_SYMBIOSIS_REPLICA"
POINTER = "CURRENT"
WORKSPACE_FILE = "workspace.duckdb"
SNAPSHOT_NAME = re.compile(r"snapshot-\d{6,}\.duckdb")
KEEP_SNAPSHOTS = 3
WORKSPACE_WAIT_S = 10.0


def configured_dir() -> Path | None:
    """The snapshot directory of the replica layout, or None when this deployment is one process."""
    value = os.environ.get(SNAPSHOTS_ENV_VAR, "").strip()
    return Path(value) if value else None


def is_replica() -> bool:
    return configured_dir() is not None and os.environ.get(REPLICA_ENV_VAR, "").strip() not in ("", "0")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text)
        _fsync(partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk leaves the old pointer and no stray file
        raise
    _fsync(path.parent)  # the rename itself must survive a crash


def _folder(snapshot_dir: Path) -> Path:
    """Create the snapshot folder when missing; NotADirectoryError in a sentence when a file is in the way."""
    try:
        snapshot_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"The snapshot folder {snapshot_dir} cannot be used: a file is in the way of that path. "
                                 f"Point --dir or ${SNAPSHOTS_ENV_VAR} at a folder.") from None
    return snapshot_dir


def export(con: duckdb.DuckDBPyConnection, snapshot_dir: Path, tables: dict[str, str]) -> Path:
    """Copy ``tables`` (name -> ORDER BY clause, '' for none) from the writer's connection into a new
    snapshot file and point CURRENT at it; return the file. Call outside a transaction."""
    _folder(snapshot_dir)
    numbers = [int(p.stem.split("-")[1]) for p in snapshot_dir.glob("snapshot-*.duckdb") if SNAPSHOT_NAME.fullmatch(p.name)]
    final = snapshot_dir / f"snapshot-{max(numbers, default=0) + 1:06d}.duckdb"
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    alias = f"snapshot_{os.getpid()}"
    try:
        con.execute(f"ATTACH '{partial}' AS {alias}")  # a path we built, not user text
        try:
            for name, order in tables.items():
                order_by = f" ORDER BY {order}" if order else ""
                con.execute(f"CREATE TABLE {alias}.{name} AS SELECT * FROM main.{name}{order_by}")
        finally:
            con.execute(f"DETACH {alias}")
        _fsync(partial)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk must not keep a half-written snapshot filling it
        raise
    _write_atomically(snapshot_dir / POINTER, final.name)
    ours = sorted(p for p in snapshot_dir.glob("snapshot-*.duckdb") if SNAPSHOT_NAME.fullmatch(p.name))
    for old in ours[:-KEEP_SNAPSHOTS]:
        old.unlink(missing_ok=True)  # a replica still reading it keeps its open file (POSIX)
    return final


def current_snapshot(snapshot_dir: Path) -> Path:
    """The snapshot CURRENT points at. FileNotFoundError in a sentence when there is none yet, or when
    the folder, its pointer or the file it names is missing or unusable (what to do included)."""
    pointer = snapshot_dir / POINTER
    fix = f"On the writer, run: python -m decision_tools snapshot --dir {snapshot_dir}"
    if not snapshot_dir.exists():
        raise FileNotFoundError(f"The snapshot folder {snapshot_dir} does not exist. Point ${SNAPSHOTS_ENV_VAR} at the "
                                f"writer's snapshot folder (shared with this machine), then {fix[0].lower()}{fix[1:]}")
    if not snapshot_dir.is_dir():
        raise FileNotFoundError(f"The snapshot folder {snapshot_dir} is a file, not a folder. Point ${SNAPSHOTS_ENV_VAR} "
                                "at the writer's snapshot folder.")
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        raise FileNotFoundError(f"There is no published snapshot in {snapshot_dir} yet. {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileNotFoundError(f"The snapshot pointer {pointer} cannot be read ({getattr(exc, 'strerror', None) or exc}). "
                                f"{fix}") from None
    if not SNAPSHOT_NAME.fullmatch(name):  # only a file of this folder, never a path elsewhere
        raise FileNotFoundError(f"The snapshot pointer {pointer} does not name a snapshot file (it holds {name[:40]!r}). "
                                f"{fix}")
    if not (snapshot_dir / name).is_file():
        raise FileNotFoundError(f"The snapshot pointer {pointer} names {name}, which is not in {snapshot_dir} (deleted, or "
                                f"copied without it). {fix}")
    return snapshot_dir / name


def open_workspace(path: Path, *, wait_s: float = WORKSPACE_WAIT_S) -> duckdb.DuckDBPyConnection:
    """Open the shared workspace file read-write, waiting while another process holds it (each holds
    it only for one read or write, so the wait is milliseconds); TimeoutError in a sentence after
    ``wait_s``."""
    deadline = time.monotonic() + wait_s
    _folder(path.parent)
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"The shared workspace {path} stayed busy for {wait_s:.0f} s; try again.") from exc
            time.sleep(random.uniform(0.002, 0.02))  # jitter: processes waiting together do not retry in step
