"""The publish hand-off between the command line and the running dashboard.

DuckDB lets one process write a database file; the dashboard holds it read-write while it runs. So
``python -m decision_tools ingest`` checks an upload against a copy of the database and hands the
checked tables to the dashboard through a folder beside the database, ``<db file name>.inbox/``
(owner-only): the command line writes a request, the dashboard's watcher thread publishes it as its own
single writer and answers with a result, which the command line prints.

One request is one folder, named by its state (every change is a rename, so each has one owner):
``<id>.tmp`` being written by the command line (never read), ``<id>.request`` waiting,
``<id>.claimed`` being published by the dashboard, ``<id>.done`` answered (``result.json``),
``<id>.withdrawn`` given up by the command line before anyone took it. A rename that fails means
someone else moved the folder first. Answered and withdrawn folders are removed after a day.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import accounts, storage

INBOX_SUFFIX = ".inbox"
REQUEST_FILE = "request.json"
RESULT_FILE = "result.json"
HEARTBEAT_FILE = "watcher.alive"  # touched every interval by a running watcher, so a waiting CLI knows one listens
HEARTBEAT_FRESH_S = 10.0  # a heartbeat younger than this means a watcher is running
UNWATCHED_GIVE_UP_S = 5.0  # with no watcher running, a waiting CLI withdraws its request after this long
CLAIMED_WAIT_S = 600.0  # once a watcher took a request, wait this much longer for its answer (a publish runs the model)
KEEP_ANSWERED_S = 24 * 3600.0
POLL_S = 0.2
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def inbox_path(db_path: Path) -> Path:
    """``<db file name>.inbox/`` beside the database."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + INBOX_SUFFIX)


def _log(message: str) -> None:
    print(f"UrbanSymbiosis: {message}", file=sys.stderr, flush=True)


def _write_json(path: Path, payload: dict) -> None:
    partial = path.with_name(path.name + ".writing")
    partial.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    os.replace(partial, path)


def submit(db_path: Path, tables: dict[str, pd.DataFrame], name: str, note: str, username: str, detail: dict,
           base_version: int) -> Path:
    """Write a publish request for the process holding ``db_path``; return its ``<id>.request`` folder.
    The folder appears complete or not at all (written as ``<id>.tmp``, then renamed)."""
    inbox = inbox_path(db_path)
    inbox.mkdir(mode=0o700, exist_ok=True)
    request_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}-{secrets.token_hex(4)}"
    partial = inbox / f"{request_id}.tmp"
    partial.mkdir(mode=0o700)
    try:
        for table_name, frame in tables.items():
            if not _TABLE_NAME.match(table_name):
                raise ValueError(f"'{table_name}' is not a table name.")
            frame.to_parquet(partial / f"{table_name}.parquet", index=False)
        _write_json(partial / REQUEST_FILE, {
            "name": name, "note": note, "username": username, "detail": detail, "base_version": int(base_version),
            "submitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "tables": list(tables),
            # Parquet brings back text columns as pandas' string type: the publish gets the types it was checked with.
            "dtypes": {t: {c: str(d) for c, d in frame.dtypes.items()} for t, frame in tables.items()},
        })
        request = inbox / f"{request_id}.request"
        os.rename(partial, request)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return request


def _folder(request_path: Path, state: str) -> Path:
    return request_path.with_name(request_path.name.rsplit(".", 1)[0] + "." + state)


def withdraw(request_path: Path) -> bool:
    """Take back a request nobody has claimed yet (``<id>.request`` -> ``<id>.withdrawn``). False when
    it was claimed meanwhile: the dashboard publishes it and answers."""
    try:
        os.rename(request_path, _folder(request_path, "withdrawn"))
    except FileNotFoundError:
        return False
    return True


def watcher_alive(db_path: Path, within_s: float = HEARTBEAT_FRESH_S) -> bool:
    """Whether a watcher on ``db_path`` has beaten within ``within_s`` seconds."""
    try:
        return time.time() - (inbox_path(db_path) / HEARTBEAT_FILE).stat().st_mtime < within_s
    except OSError:
        return False


def wait_for_result(request_path: Path, timeout_s: float, *, unwatched_s: float = UNWATCHED_GIVE_UP_S,
                    claimed_wait_s: float = CLAIMED_WAIT_S) -> dict | None:
    """Wait for the answer to a request. None when nothing took it: after ``timeout_s``, or after
    ``unwatched_s`` when no watcher is running at all, the request is withdrawn. Once claimed, the
    answer is awaited up to ``claimed_wait_s`` beyond the timeout; no answer by then is an error."""
    request_path = Path(request_path)
    db_path = request_path.parent.with_name(request_path.parent.name[: -len(INBOX_SUFFIX)])
    done = _folder(request_path, "done") / RESULT_FILE
    started = time.monotonic()
    while True:
        if done.exists():
            return json.loads(done.read_text(encoding="utf-8"))
        waited = time.monotonic() - started
        if request_path.exists():  # nobody took it yet
            if (waited >= timeout_s or (waited >= unwatched_s and not watcher_alive(db_path))) and withdraw(request_path):
                return None
        elif _folder(request_path, "withdrawn").exists():
            return None  # withdrawn by another waiter
        elif waited >= timeout_s + claimed_wait_s:
            return {"error": f"The running dashboard took the publish but gave no answer within "
                             f"{timeout_s + claimed_wait_s:.0f} s. Its Data page lists the versions: check there whether it "
                             "was published before trying again."}
        time.sleep(POLL_S)


def _inbox_is_ours(inbox: Path) -> bool:
    """Only an inbox owned by this process's user and writable by nobody else is read: whatever it
    holds is published."""
    info = inbox.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _read_request(folder: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    request = json.loads((folder / REQUEST_FILE).read_text(encoding="utf-8"))
    tables = {}
    for table_name in request["tables"]:
        if not _TABLE_NAME.match(table_name):
            raise ValueError(f"'{table_name}' is not a table name.")
        frame = pd.read_parquet(folder / f"{table_name}.parquet")
        wanted = request.get("dtypes", {}).get(table_name, {})
        for column, dtype in wanted.items():
            if column in frame.columns and str(frame[column].dtype) != dtype:
                try:
                    frame[column] = frame[column].astype(dtype)
                except (TypeError, ValueError):
                    pass  # keep the type Parquet gave: the publish checks the data either way
        tables[table_name] = frame
    return request, tables


def _publish(store: storage.Store, folder: Path) -> dict:
    """Publish one claimed request; the answer, never an exception."""
    try:
        request, tables = _read_request(folder)
        version_id = store.publish(tables, request["name"], request.get("note") or "",
                                   accounts.Actor.cli(request.get("username") or "cli"),
                                   detail=request.get("detail") or {}, base_version=request.get("base_version"))
    except storage.AlreadyPublished as exc:
        return {"already": exc.version_id, "message": str(exc)}
    except (storage.StoreError, accounts.PermissionDenied) as exc:  # a publish refused (stale, on a replica ...)
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the command line gets a sentence, the server log a line
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        _log(f"a publish handed over from the command line failed: {type(exc).__name__}: {detail}")
        return {"error": f"The running dashboard could not publish these data ({detail}). Nothing new is shown; "
                         "check the data with ingest --dry-run and try again."}
    _log(f"published dataset version {version_id} ({request['name']}) handed over from the command line by "
         f"{request.get('username') or 'cli'}.")
    return {"version_id": version_id}


def _remove_old(inbox: Path) -> None:
    now = time.time()
    for folder in inbox.iterdir():
        if folder.suffix in (".done", ".withdrawn", ".tmp") and folder.is_dir():
            try:
                if now - folder.stat().st_mtime > KEEP_ANSWERED_S:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass


def process_pending(store: storage.Store, db_path: Path) -> list[dict]:
    """Publish every waiting request into ``store`` (oldest first) and answer it; return the answers.
    A request another processor claimed first is skipped."""
    inbox = inbox_path(db_path)
    if not inbox.is_dir():
        return []
    if not _inbox_is_ours(inbox):
        raise PermissionError(f"{inbox} belongs to another user or others may write to it; its requests are not read.")
    answers = []
    for request in sorted(inbox.glob("*.request")):
        claimed = _folder(request, "claimed")
        try:
            os.rename(request, claimed)
        except FileNotFoundError:
            continue  # claimed by another processor, or withdrawn
        answer = _publish(store, claimed)
        _write_json(claimed / RESULT_FILE, answer)
        os.rename(claimed, _folder(request, "done"))
        answers.append(answer)
    _remove_old(inbox)
    return answers


class Watcher:
    """A daemon thread publishing the inbox's requests every ``interval_s``, and a second one beating
    the heartbeat (a long publish does not make a waiting command line think nobody listens)."""

    def __init__(self, store: storage.Store, db_path: Path, interval_s: float = 1.0):
        self.store = store
        self.db_path = Path(db_path)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name="publish-inbox", daemon=True),
                         threading.Thread(target=self._beat, name="publish-inbox-heartbeat", daemon=True)]
        self._last_error: str | None = None

    def start(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self.store = None  # a thread left behind must not keep the database connection alive at exit

    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                store = self.store
                if store is None:
                    return
                process_pending(store, self.db_path)
                self._last_error = None
            except Exception as exc:  # noqa: BLE001 - the thread must keep running; say it once, not every second
                message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                if message != self._last_error:
                    _log(f"the publish inbox could not be read: {message}")
                self._last_error = message

    def _beat(self) -> None:
        heartbeat = inbox_path(self.db_path) / HEARTBEAT_FILE
        while not self._stop.is_set():
            try:
                if heartbeat.parent.is_dir():  # the inbox appears with the first request: no folder for nothing
                    heartbeat.touch()
            except OSError:
                pass  # a full disk or a removed folder: the waiting command line then gives up early, and says so
            self._stop.wait(self.interval_s)


_WATCHERS: dict[Path, Watcher] = {}
_WATCHERS_LOCK = threading.Lock()


def start_watcher(store: storage.Store, db_path: Path) -> Watcher:
    """Start the watcher of ``db_path`` once per process (a second call returns it, now using ``store``)."""
    key = Path(db_path).resolve()
    with _WATCHERS_LOCK:
        watcher = _WATCHERS.get(key)
        if watcher is None or not watcher.alive():
            watcher = _WATCHERS[key] = Watcher(store, key).start()
        watcher.store = store
        return watcher


@atexit.register
def _stop_watchers() -> None:
    """At exit, stop the watchers and let go of their stores, so the connections close as they would without them."""
    with _WATCHERS_LOCK:
        for watcher in _WATCHERS.values():
            watcher.stop(timeout_s=2.0)
        _WATCHERS.clear()
