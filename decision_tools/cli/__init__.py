"""``python -m decision_tools``: build and check the database, print a city's CRM chain.

Exit codes (every error is one sentence on stderr, never a traceback):
  0  success
  1  a problem with the data, the database or a file: missing, unreadable, a full disk, a folder that is
     a file, no permission (``main`` turns every OSError and DuckDB error into a sentence)
  2  a wrong argument
  3  the database file is damaged (``status``; ``build`` refuses to replace it unless --move-aside-damaged)
  4  the database was built by an older version (``status``; ``upgrade`` brings it up to date in place, or
     says why it cannot: too old, or a step failed and was rolled back)
  5  the database is held by another process (``status``). Reading commands and ``ingest --dry-run`` then read a
     copy of it taken at that moment (a note on stderr says so); a publish is handed to the running dashboard
     (decision_tools.publish_inbox), or refused in a sentence (exit 1) when nothing takes it
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

import duckdb

from .. import storage
from .common import UsageError, fail
from .parser import build_parser


def _causes(exc: BaseException):
    """The exception and what it happened during (a failed cleanup can hide a full disk)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _disk_full(exc: BaseException) -> bool:
    return any(getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "no space left on device" in str(e).lower()
               or "quota exceeded" in str(e).lower() for e in _causes(exc))


def _disk_full_sentence(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            what = cause.filename or "a file"
            return f"The disk is full: {what} could not be written. Free some space, then run the command again."
        if "no space left" in str(cause).lower():
            detail = str(cause).strip().splitlines()[0][:200]
            return f"The disk is full ({detail}). Free some space, then run the command again."
    return "The disk is full. Free some space, then run the command again."


def _os_error_sentence(exc: OSError) -> str:
    """An OSError in a sentence: ours already are one; the system's name the file and what to do."""
    if exc.errno is None or not exc.strerror:
        return str(exc)
    where = f"{exc.filename}" if exc.filename else "a file"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"Cannot read or write {where}: {exc.strerror.lower()}. Give this user access to it and its folder, "
                "or choose another path.")
    if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        return f"Cannot use {where}: {exc.strerror.lower()}. Choose a path whose folders are folders."
    return f"Cannot read or write {where}: {exc.strerror.lower()}."


def _duckdb_error_sentence(exc: duckdb.Error, args: argparse.Namespace) -> str:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    db = getattr(args, "db", None) or storage.default_db_path()
    return (f"The database {db} could not be read or written ({detail}). It may be damaged: "
            f"python -m decision_tools status --db {db} reads every table and says so (exit 3), and "
            f"python -m decision_tools build --move-aside-damaged --db {db} moves a damaged file aside, never deleting it.")


def main(argv: list[str] | None = None) -> int:
    """Run a command; every failure ends here as one sentence and an exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        return fail(str(exc), 2)
    except storage.StoreError as exc:
        return fail(str(exc))
    except BrokenPipeError:  # the reader stopped reading (`| head`): nothing to say
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError):
            pass
        return 1
    except (OSError, duckdb.Error) as exc:
        if _disk_full(exc):
            return fail(_disk_full_sentence(exc))
        if isinstance(exc, OSError):
            return fail(_os_error_sentence(exc))
        return fail(_duckdb_error_sentence(exc, args))
