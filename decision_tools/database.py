"""The database layer: where the file is, opening it (errors as sentences), transactions, and the
replica layout's plumbing. It knows no concept (versions, views, sessions ...): those live in their
own modules and reach the database only through ``Database``'s helpers, with bound parameters.

- ``connect`` opens a file and brings its schema up to date (decision_tools.migrations);
  ``connect_copy`` reads a private copy of a file another process holds; ``guard_damaged_database``
  refuses (or moves aside) a damaged file, never deleting it.
- ``Database`` holds one connection per process and hands out a cursor per query (``_frame``) or per
  transaction (``_transaction``). In the replica layout (decision_tools.snapshots) the workspace tables
  (what people make in the app) live in a shared file opened per operation (``workspace=True``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from . import snapshots

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DATA_DIR = PROJECT_DIR / "data"
DEFAULT_DB_PATH = DATA_DIR / "urban_symbiosis.duckdb"
DB_ENV_VAR = "URBAN_SYMBIOSIS_DB"
REPLICA_NOTE = ("This app process is a read-only replica: new dataset versions are published on the writer, "
                "and every replica moves to them by itself.")
# Limits on what people type, shared by every workspace concept, and the most rows any list query returns.
MAX_NAME_LENGTH = 80
MAX_COMMENT_LENGTH = 2000
MAX_LIST_ROWS = 500
COPY_ATTEMPTS = 5


class StoreError(RuntimeError):
    """A problem with the database file, said in a sentence for a person."""


class DatabaseMissingError(StoreError):
    pass


class DatabaseBusyError(StoreError):
    pass


class DatabaseCorruptError(StoreError):
    pass


class DatabaseOutdatedError(StoreError):
    """Built by an older version of the code: tables, columns or schema changes are missing."""


class MigrationError(DatabaseOutdatedError):
    """Upgrading the file failed; the transaction was rolled back and the file is as it was."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def default_db_path() -> Path:
    return Path(os.environ.get(DB_ENV_VAR, DEFAULT_DB_PATH))


def insert_frame(con, table: str, frame: pd.DataFrame, version_id: int, order_by: str = "") -> None:
    """Insert ``frame`` into ``table`` as rows of ``version_id`` (table and column names come from our own
    schema, never from users), in ``order_by`` order."""
    columns = list(frame.columns)
    con.register("incoming", frame)
    try:
        column_list = ", ".join(f'"{c}"' for c in columns)
        order = f" ORDER BY {order_by}" if order_by else ""
        con.execute(f"INSERT INTO {table} (version_id, {column_list}) SELECT ?, {column_list} FROM incoming{order}", [version_id])
    finally:
        try:
            con.unregister("incoming")
        except duckdb.Error:
            pass  # the insert failed and aborted the transaction: keep its error, not this one


def refuse_if_busy(db_path: Path) -> None:
    """DatabaseBusyError in a sentence when another process holds ``db_path`` (a build would replace it)."""
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


def connect(db_path: Path | None = None, *, read_only: bool = True, workspace: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the database, turning DuckDB's errors into sentences (missing, busy, corrupt, outdated).

    Opened read-write, a file made by an older release is upgraded in place (its pending migrations, in
    one transaction); read-only, it raises DatabaseOutdatedError saying how to upgrade it. ``workspace``
    False: the file holds no workspace tables (a replica's snapshot)."""
    from . import migrations  # built on this module's errors and helpers

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
    except duckdb.Error as exc:
        con.close()
        raise DatabaseCorruptError(f"The database {db_path} has no dataset versions; it is not a complete build. {rebuild}") from exc
    try:
        migrations.bring_up_to_date(con, db_path, read_only=read_only, workspace=workspace)
    except duckdb.Error as exc:  # its catalogue or record of schema changes does not read back
        con.close()
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DatabaseCorruptError(f"The database {db_path} cannot be read ({detail}). {rebuild}") from exc
    except BaseException:
        con.close()
        raise
    return con


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


class Database:
    """One database connection; a fresh cursor per query (thread-safe use). The concept mixins
    (decision_tools.storage.Store) read with ``_frame``/``_workspace_frame`` and write in ``_transaction``.

    In the replica layout (decision_tools.snapshots) the workspace tables live in a shared file opened
    per operation, a writer exports a snapshot after each publish, and a replica refuses to publish.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, workspace: Path | None = None,
                 snapshot_dir: Path | None = None, replica: bool = False):
        from . import migrations

        self._con = con
        self.copied_from: Path | None = None  # set when this store reads a copy of a database held elsewhere
        self._copy_folder: Path | None = None
        self._workspace = workspace  # None: the workspace tables are in this database
        self._snapshot_dir = None if replica else snapshot_dir  # a writer exports snapshots here
        self.replica = replica
        if workspace is not None:
            with self._connection(workspace=True) as ws:
                migrations.bring_up_to_date(ws, workspace, read_only=False, datasets=False)
            if self._snapshot_dir is not None:
                self._seed_workspace()

    @classmethod
    def open(cls, db_path: Path | None = None, *, read_only: bool = True, snapshot_dir: Path | None = None,
             copy_when_busy: bool = False):
        """Open the main database (upgrading it in place when opened read-write). In the replica layout
        (``snapshot_dir``, by default $URBAN_SYMBIOSIS_SNAPSHOTS) a read-write open makes this process the writer.

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
        layout = snapshot_dir or snapshots.configured_dir()
        if layout is None:
            return cls(con)
        return cls(con, workspace=layout / snapshots.WORKSPACE_FILE, snapshot_dir=None if read_only else layout)

    @classmethod
    def open_replica(cls, snapshot: Path):
        """A read-only replica on one snapshot file (snapshots.current_snapshot), with the shared
        workspace beside it."""
        try:
            con = connect(snapshot, read_only=True, workspace=False)
        except (DatabaseCorruptError, DatabaseOutdatedError) as exc:  # the advice for a main database does not fit here
            raise type(exc)(f"The snapshot {snapshot} cannot be used: {str(exc).split('. ')[0]}. On the writer, rebuild or "
                            f"fix its database, then run: python -m decision_tools snapshot --dir {snapshot.parent}") from exc
        return cls(con, workspace=snapshot.parent / snapshots.WORKSPACE_FILE, replica=True)

    def close(self) -> None:
        self._con.close()
        if self._copy_folder is not None:
            shutil.rmtree(self._copy_folder, ignore_errors=True)
            self._copy_folder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    _clock = staticmethod(utc_now)  # the time written with people's records (storage.Store lets tests set it)

    def _refuse_on_replica(self) -> None:
        if self.replica:
            raise StoreError(REPLICA_NOTE)

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

    def _seed_workspace(self) -> None:
        """Moving into the replica layout: copy this database's workspace tables (saved views,
        sessions, events ...) into the shared workspace file while that file is still empty."""
        from .migrations import WORKSPACE_TABLES

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
