"""Publishing under faults: a full disk (a real one: a small tmpfs), a publish built on an older
version than the latest, and the same checked upload published twice."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from decision_tools import storage, uploads
from decision_tools.accounts import Actor

PHONE_COBALT = (b"product,material,grams_per_unit,source_id,confidence,basis\n"
                b"smartphone,Co,4,SCRREEN,medium,measured\n")


def _phone_check(store, version: int, grams: str = "4"):
    content = PHONE_COBALT.replace(b",4,", f",{grams},".encode())
    return uploads.check_upload("composition", content, "c.csv", store.input_tables(version))


@pytest.fixture()
def small_disk(tmp_path):
    """A 64 MB tmpfs: room for the test database and one more version once the filler is gone."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a small tmpfs to fill a real disk: run it as root (CI does)")
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the disk up to the last few hundred KB."""
    filler = directory / "filler"
    free = shutil.disk_usage(directory).free
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - 300 * 1024))
    return filler


def test_a_full_disk_fails_the_publish_with_a_sentence_and_the_current_version_stays(small_disk, small_db):
    db = small_disk / "app.duckdb"
    shutil.copy(small_db, db)
    with storage.Store.open(db, read_only=False) as store:
        before = store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg
        check = _phone_check(store, 1)
        filler = _fill(small_disk)
        with pytest.raises(storage.PublishError) as failure:
            store.publish(check.tables, "Too big for the disk", "", "rita")
        message = str(failure.value)
        assert message.startswith("Publishing failed: the server's disk is full") and "version 1 is unchanged" in message
        assert "Traceback" not in message and "IO Error" not in message
        # every page keeps reading the current version from the same connection
        assert store.current_version() == 1
        assert store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg == before
        assert len(store.chain(1, "Ghent", 2030, "Co")) > 0
        filler.unlink()  # space again: the next publish works without a restart
        assert store.publish(check.tables, "After freeing space", "", "rita") == 2
    with storage.Store.open(db) as reopened:
        assert reopened.versions()["version_id"].tolist() == [1, 2]


def test_a_publish_checked_against_an_older_version_is_refused(tmp_path, small_db):
    db = tmp_path / "app.duckdb"
    shutil.copy(small_db, db)
    with storage.Store.open(db, read_only=False) as store:
        first = _phone_check(store, 1, "4")
        second = _phone_check(store, 1, "5")  # checked against version 1 too, e.g. an offer from a ?version=1 page
        assert store.publish(first.tables, "First", "", "rita", base_version=1) == 2
        with pytest.raises(storage.PublishError, match="version 2 was published after these data were checked against version 1"):
            store.publish(second.tables, "Second", "", "rita", base_version=1)
        assert store.current_version() == 2
        rechecked = _phone_check(store, 2, "5")
        assert store.publish(rechecked.tables, "Second, rechecked", "", "rita", base_version=2) == 3


def test_publishing_the_same_checked_upload_twice_makes_one_version(tmp_path, small_db):
    db = tmp_path / "app.duckdb"
    shutil.copy(small_db, db)
    with storage.Store.open(db, read_only=False) as store:
        check = _phone_check(store, 1)
        assert store.publish(check.tables, "Phones", "", "rita", base_version=1) == 2
        with pytest.raises(storage.AlreadyPublished, match="already dataset version 2") as again:
            store.publish(check.tables, "Phones", "", "rita", base_version=1)  # the second click
        assert again.value.version_id == 2
        assert store.versions()["version_id"].tolist() == [1, 2]
        publishes = store.audit_log(Actor.cli())["action"].tolist().count("publish")
        assert publishes == 1
