"""A real Streamlit server on the small test database, and Debian's chromium driven by Playwright.

No skipping: if chromium is missing the browser tests fail and say how to install it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from decision_tools import storage
from tests.conftest import PROJECT_DIR

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# How long a test waits for the server to finish something (a page run, a sign-in, a publish). Generous: the
# browser tests run two at a time beside each other's servers. How fast pages are is measured in bench/, not here.
SERVER_WAIT_MS = 120_000
ERROR_BOXES = '[data-testid="stAlertContentError"], [data-testid="stException"]'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db_path, **extra_env: str):
    """Start `streamlit run app.py` on a free port (with ``extra_env`` added to its environment);
    return (process, url) once it answers."""
    port = _free_port()
    env = dict(os.environ, **{storage.DB_ENV_VAR: str(db_path)}, **extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT_DIR / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"the Streamlit server did not start:\n{process.stdout.read()}")
    return process, url


def stop_server(process) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def server_db(small_db, tmp_path_factory):
    """The server's own copy of the test database: it holds it read-write while tests read the original."""
    copy = tmp_path_factory.mktemp("server") / "server.duckdb"
    shutil.copy(small_db, copy)
    return copy


@pytest.fixture(scope="session")
def server_url(server_db):
    process, url = start_server(server_db)
    yield url
    stop_server(process)


CHROMIUM_INSTALL_ENV_VAR = "URBAN_SYMBIOSIS_CHROMIUM_INSTALL_RC"  # set by .ci/run while it installs chromium


def wait_for_chromium_install(timeout_s: float = 900) -> None:
    """CI installs Debian's chromium while the unit tests run (.ci/run): wait for the file the install writes its
    exit code to, and fail with its code if it failed."""
    rc_file = os.environ.get(CHROMIUM_INSTALL_ENV_VAR)
    if not rc_file:
        return
    deadline = time.monotonic() + timeout_s
    while not (Path(rc_file).exists() and Path(rc_file).read_text().strip()):
        if time.monotonic() > deadline:
            pytest.fail(f"chromium's installation did not finish within {timeout_s:.0f} s")
        time.sleep(1)
    code = Path(rc_file).read_text().strip()
    if code != "0":
        pytest.fail(f"installing chromium failed (apt-get exit code {code}); its output is in the CI log")


@pytest.fixture(scope="session")
def browser():
    wait_for_chromium_install()
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed; install Debian's package: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(SERVER_WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def frontend_errors(page) -> list[str]:
    """Error boxes the browser shows (a chart that failed to render), which the server never sees."""
    return [text for text in page.locator(ERROR_BOXES).all_inner_texts()]


def wait_ready(page) -> None:
    """Wait until the page has a title and the script has finished running (checked twice: a
    fresh page reports 'notRunning' for a moment before its first run starts)."""
    page.wait_for_selector("h1", timeout=SERVER_WAIT_MS)
    page.wait_for_selector(READY, timeout=SERVER_WAIT_MS)
    page.wait_for_timeout(300)
    page.wait_for_selector(READY, timeout=SERVER_WAIT_MS)


def sign_in(page, username: str) -> None:
    """Sign in through the sidebar form, as a person does."""
    from tests.conftest import TEST_USERS

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Sign in", exact=True).first.click()
    sidebar.get_by_role("textbox", name="Username").fill(username)
    sidebar.get_by_role("textbox", name="Password").fill(TEST_USERS[username][1])
    sidebar.get_by_role("button", name="Sign in").click()
    page.wait_for_function(f"() => document.body.innerText.includes('Signed in as {username}')", timeout=SERVER_WAIT_MS)
    wait_ready(page)
