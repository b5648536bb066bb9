"""Faults the command line meets: a damaged database (never deleted: refused, or moved aside), a full disk,
a bad snapshot folder. Each is one sentence on stderr with a non-zero exit code, never a traceback. Also
what `make run`, the container and the documented proxy do about them."""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from decision_tools import cli, snapshots, storage
from tests.conftest import PROJECT_DIR


def run(argv: list[str], capsys) -> tuple[int, str]:
    """cli.main in this process; an exception escaping it (a traceback for a user) fails the test."""
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def assert_one_sentence(err: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err


def damaged_copy(small_db: Path, target: Path, kind: str) -> Path:
    """A damaged database: random bytes, or a real database cut short (it opens, but tables fail to read)."""
    if kind == "random":
        target.write_bytes(os.urandom(300_000))
    else:
        data = small_db.read_bytes()
        target.write_bytes(data[: int(len(data) * float(kind.removeprefix("truncated-")))])
    return target


# --- a damaged database is a sentence, and is never deleted -------------------------------------
@pytest.mark.parametrize("kind", ["random", "truncated-0.4", "truncated-0.6"])
def test_a_damaged_database_is_a_sentence_and_status_says_damaged(small_db, tmp_path, capsys, kind):
    db = damaged_copy(small_db, tmp_path / "damaged.duckdb", kind)
    before = db.read_bytes()
    code, err = run(["status", "--db", db], capsys)
    assert code == 3, err  # the truncated files open: only reading every table finds the damage
    assert_one_sentence(err)
    assert "is damaged" in err and "--move-aside-damaged" in err
    code, err = run(["check", "--db", db], capsys)
    assert code == 1
    assert_one_sentence(err)
    assert str(db) in err
    for command in (["flows", "--city", "Ghent", "--year", "2030"], ["levers"]):
        code, err = run([*command, "--db", db], capsys)
        assert code in (0, 1)  # a cut file may still hold what one query needs
        if code:
            assert_one_sentence(err)
    assert db.read_bytes() == before


def test_build_refuses_to_replace_a_damaged_database(small_db, small_data_dir, tmp_path, capsys):
    db = damaged_copy(small_db, tmp_path / "damaged.duckdb", "truncated-0.6")
    before = db.read_bytes()
    code, err = run(["build", "--db", db, "--data-dir", small_data_dir], capsys)
    assert code == 3
    assert_one_sentence(err)
    assert "not replaced" in err and "never deleted" in err and f"build --move-aside-damaged --db {db}" in err
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.duckdb"]


def test_build_moves_a_damaged_database_aside_then_builds_a_fresh_one(small_db, small_data_dir, tmp_path, capsys):
    db = damaged_copy(small_db, tmp_path / "urban.duckdb", "truncated-0.4")
    before = db.read_bytes()
    db.with_name("urban.duckdb.wal").write_bytes(b"write-ahead log")
    code, err = run(["build", "--move-aside-damaged", "--db", db, "--data-dir", small_data_dir], capsys)
    assert code == 0, err
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("urban.duckdb.damaged-") and not p.name.endswith(".wal")]
    assert re.fullmatch(r"urban\.duckdb\.damaged-\d{8}T\d{6}Z", aside.name)
    assert aside.read_bytes() == before
    assert aside.with_name(aside.name + ".wal").read_bytes() == b"write-ahead log"  # beside it, so duckdb replays it
    assert not db.with_name("urban.duckdb.wal").exists()
    assert "Traceback" not in err
    assert f"moved aside, not deleted: it is now {aside}" in err and "Recovering a damaged database" in err
    code, err = run(["status", "--db", db], capsys)
    assert code == 0, err


def test_moving_aside_never_overwrites_and_leaves_sound_files_alone(small_db, tmp_path):
    assert storage.guard_damaged_database(tmp_path / "missing.duckdb", move_aside=True) is None
    assert storage.guard_damaged_database(small_db, move_aside=True) is None
    assert small_db.exists()
    db = tmp_path / "x.duckdb"
    moved = []
    for content in (b"first damaged file" * 500, b"second damaged file" * 500):  # within the same second
        db.write_bytes(content)
        with pytest.raises(storage.DatabaseCorruptError, match="is damaged"):
            storage.guard_damaged_database(db)
        moved.append(storage.guard_damaged_database(db, move_aside=True))
    assert moved[0] != moved[1] and not db.exists()
    assert [p.read_bytes()[:6] for p in moved] == [b"first ", b"second"]


# --- a full disk ------------------------------------------------------------------------------------
def no_space(filename: str = "file"):
    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
    return fail


def test_a_full_disk_during_build_is_a_sentence_and_keeps_the_previous_database(small_db, small_data_dir, tmp_path,
                                                                                 capsys, monkeypatch):
    db = tmp_path / "kept.duckdb"
    shutil.copy(small_db, db)
    before = db.stat().st_size, db.stat().st_mtime_ns
    monkeypatch.setattr(storage, "_write_version", no_space(str(db) + ".building"))
    code, err = run(["build", "--db", db, "--data-dir", small_data_dir], capsys)
    assert code == 1
    assert_one_sentence(err)
    assert f"The disk is full: {db}.building could not be written" in err
    assert (db.stat().st_size, db.stat().st_mtime_ns) == before
    assert not db.with_name("kept.duckdb.building").exists()

    def duckdb_full(*args, **kwargs):  # as DuckDB does it: the cleanup's error hides the full disk
        try:
            raise duckdb.IOException('IO Error: Could not write file "kept.duckdb.building": No space left on device')
        except duckdb.IOException:
            raise duckdb.TransactionException("TransactionContext Error: Current transaction is aborted (please ROLLBACK)")

    monkeypatch.setattr(storage, "_write_version", duckdb_full)
    code, err = run(["build", "--db", db, "--data-dir", small_data_dir], capsys)
    assert code == 1
    assert_one_sentence(err)
    assert "The disk is full (IO Error: Could not write file" in err


def test_a_full_disk_during_snapshot_and_template_is_a_sentence(small_db, tmp_path, capsys, monkeypatch):
    db = tmp_path / "writer.duckdb"
    shutil.copy(small_db, db)
    directory = tmp_path / "snapshots"
    monkeypatch.setattr(snapshots, "_fsync", no_space(str(directory / "snapshot-000001.duckdb.partial")))
    code, err = run(["snapshot", "--db", db, "--dir", directory], capsys)
    assert code == 1
    assert_one_sentence(err)
    assert "The disk is full" in err and "snapshot-000001.duckdb.partial" in err
    assert not list(directory.glob("snapshot-*"))  # no half-written snapshot left filling the disk
    assert not (directory / snapshots.POINTER).exists()

    def half_written(self, data):  # as a real full disk does: the file is opened, the write fails
        with open(self, "wb") as file:
            file.write(data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", half_written)
    code, err = run(["template", "--kind", "composition", "--out", tmp_path / "t.csv"], capsys)
    assert code == 1
    assert_one_sentence(err)
    assert "The disk is full: a file could not be written" in err
    assert not list(tmp_path.glob("t.csv*"))


# --- a bad snapshot folder --------------------------------------------------------------------------
def test_a_bad_snapshot_folder_is_a_sentence(small_db, tmp_path, capsys, monkeypatch):
    db = tmp_path / "writer.duckdb"
    shutil.copy(small_db, db)
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("keep me")
    for directory in (a_file, a_file / "below"):
        code, err = run(["snapshot", "--db", db, "--dir", directory], capsys)
        assert code == 1
        assert_one_sentence(err)
        assert f"The snapshot folder {directory} cannot be used: a file is in the way" in err
    monkeypatch.setenv(snapshots.SNAPSHOTS_ENV_VAR, str(a_file))  # the same through the environment
    code, err = run(["levers", "--db", db], capsys)
    assert code == 1
    assert_one_sentence(err)
    monkeypatch.delenv(snapshots.SNAPSHOTS_ENV_VAR)
    assert a_file.read_text() == "keep me"

    def refused(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    unwritable = tmp_path / "unwritable" / "snapshots"
    with monkeypatch.context() as patch:  # as root chmod stops nothing, so the refusal is simulated
        patch.setattr(Path, "mkdir", refused)
        code, err = run(["snapshot", "--db", db, "--dir", unwritable], capsys)
    assert code == 1
    assert_one_sentence(err)
    assert f"Cannot read or write {unwritable}: permission denied" in err

    missing = tmp_path / "new" / "snapshots"  # a missing folder is simply created
    code, err = run(["snapshot", "--db", db, "--dir", missing], capsys)
    assert code == 0, err
    assert snapshots.current_snapshot(missing).is_file()


def test_a_pointer_naming_a_missing_snapshot_is_a_sentence_and_a_new_snapshot_repairs_it(small_db, tmp_path, capsys):
    db = tmp_path / "writer.duckdb"
    shutil.copy(small_db, db)
    directory = tmp_path / "snapshots"
    assert run(["snapshot", "--db", db, "--dir", directory], capsys)[0] == 0
    (directory / snapshots.POINTER).write_text("snapshot-000009.duckdb")
    missing = r"names snapshot-000009\.duckdb, which is not in .* python -m decision_tools snapshot --dir"
    with pytest.raises(FileNotFoundError, match=missing):
        snapshots.current_snapshot(directory)
    (directory / snapshots.POINTER).write_text("../writer.duckdb")  # never a file outside the folder
    with pytest.raises(FileNotFoundError, match="does not name a snapshot file"):
        snapshots.current_snapshot(directory)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        snapshots.current_snapshot(tmp_path / "nowhere")
    assert run(["snapshot", "--db", db, "--dir", directory], capsys)[0] == 0
    assert snapshots.current_snapshot(directory).name == "snapshot-000002.duckdb"


# --- make run, the container, the proxy -----------------------------------------------------------
def test_make_run_and_the_container_move_a_damaged_database_aside():
    makefile = (PROJECT_DIR / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    [cmd] = [line for line in (PROJECT_DIR / "Dockerfile").read_text().splitlines() if line.startswith("CMD")]
    for script in (recipe, cmd):
        assert "-eq 3" in script
        builds = re.findall(r"decision_tools build[^;|]*", script)
        assert builds and all("--move-aside-damaged" in b for b in builds), builds


def nginx_blocks(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(enclosing block names, directive) for every directive of an nginx file, comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    found, stack = [], []
    for token in re.findall(r"[^{};]+[{;]|}", text):
        token = token.strip()
        if token == "}":
            stack.pop()
        elif token.endswith("{"):
            stack.append(token[:-1].split()[0])
        else:
            found.append((tuple(stack), " ".join(token[:-1].split())))
    assert not stack, "unbalanced braces"
    return found


REQUIRED_HEADERS = {
    "X-Frame-Options": {'"SAMEORIGIN"', '"DENY"'},
    "Content-Security-Policy": {"\"frame-ancestors 'self'\"", "\"frame-ancestors 'none'\""},
    "X-Content-Type-Options": {'"nosniff"'},
    "Referrer-Policy": {'"same-origin"'},
}


@pytest.mark.parametrize("conf", sorted((PROJECT_DIR / "deploy").glob("*.conf")), ids=lambda p: p.name)
def test_the_documented_proxy_sends_anti_framing_and_content_type_headers(conf):
    directives = nginx_blocks(conf.read_text())
    assert any(d.startswith("proxy_pass ") for _, d in directives)
    headers = {}
    for blocks, directive in directives:
        if directive.startswith("add_header "):
            # nginx inherits add_header into a location only when it has none of its own: keep them all on server
            assert blocks == ("server",), f"add_header inside {blocks} would drop the server's headers there"
            _, name, *value = directive.split(" ")
            assert value[-1] == "always", f"{name}: without `always` error pages go without it"
            headers[name] = " ".join(value[:-1])
    for name, allowed in REQUIRED_HEADERS.items():
        assert headers.get(name) in allowed, f"{conf.name}: {name} is {headers.get(name)!r}"
