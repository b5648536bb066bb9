"""The replica path: two app processes serve the same published snapshot read-only while a third
process (the CLI, the writer) publishes a new version; both move to it without an error."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from decision_tools import snapshots
from tests.conftest import PROJECT_DIR
from tests.e2e.conftest import frontend_errors, start_server, stop_server, wait_ready


def cli(*args, env):
    return subprocess.Popen([sys.executable, "-m", "decision_tools", *args], cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture()
def replicas(small_db, tmp_path):
    """The writer's database with a first snapshot, and two replica servers on the snapshot directory.
    The replicas are pointed at the writer's file too: if either opened it, the publish would find
    it busy and fail."""
    writer_db, directory = tmp_path / "writer.duckdb", tmp_path / "snapshots"
    shutil.copy(small_db, writer_db)
    env = {snapshots.SNAPSHOTS_ENV_VAR: str(directory)}
    first = cli("snapshot", "--db", str(writer_db), env={**os.environ, **env})
    assert first.wait(timeout=120) == 0, first.stdout.read()
    servers = [start_server(writer_db, **env, **{snapshots.REPLICA_ENV_VAR: "1"}) for _ in range(2)]
    yield writer_db, env, [url for _, url in servers]
    for process, _ in servers:
        stop_server(process)


def shown_versions(page, url: str) -> str:
    page.goto(f"{url}/data")
    wait_ready(page)
    assert frontend_errors(page) == []
    return page.get_by_text("The dashboards show version").inner_text()


def test_two_replicas_follow_a_publish_by_a_third_process(browser, replicas, tmp_path):
    writer_db, env, urls = replicas
    pages = [browser.new_context().new_page() for _ in urls]
    for page, url in zip(pages, urls):
        assert "show version 1; the latest is 1" in shown_versions(page, url)

    upload = tmp_path / "content.csv"
    upload.write_text("product,material,grams_per_unit,source_id,confidence,basis\nsmartphone,Co,4,SCRREEN,medium,measured\n")
    publish = cli("ingest", str(upload), "--kind", "composition", "--name", "Measured phone cobalt", "--user", "rita",
                  "--db", str(writer_db), env={**os.environ, **env})
    pages_served_during_publish = 0
    while publish.poll() is None:  # the replicas keep serving, without an error, while the writer publishes
        for page, url in zip(pages, urls):
            page.goto(f"{url}/?city=Ghent&material=Co")
            wait_ready(page)
            assert frontend_errors(page) == []
            pages_served_during_publish += 1
        time.sleep(0.2)
    output = publish.stdout.read()
    assert publish.returncode == 0, output
    assert "Published dataset version 2" in output
    assert pages_served_during_publish >= 2

    for page, url in zip(pages, urls):
        assert "show version 2; the latest is 2" in shown_versions(page, url)
        page.goto(f"{url}/?city=Ghent&material=Co&version=1")  # the old version still opens, pinned
        wait_ready(page)
        assert frontend_errors(page) == []
        page.context.close()
