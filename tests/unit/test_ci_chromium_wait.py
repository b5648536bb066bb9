"""CI installs chromium while the unit tests run (.ci/run); the browser tests wait for the installation's exit
code in the file named by URBAN_SYMBIOSIS_CHROMIUM_INSTALL_RC, and fail with a sentence if it failed."""

import threading

import pytest

from tests.e2e.conftest import CHROMIUM_INSTALL_ENV_VAR, wait_for_chromium_install


def test_no_installation_running_means_no_wait(monkeypatch):
    monkeypatch.delenv(CHROMIUM_INSTALL_ENV_VAR, raising=False)
    wait_for_chromium_install(timeout_s=0)


def test_waits_until_the_installation_has_written_its_code(monkeypatch, tmp_path):
    rc_file = tmp_path / "rc"
    rc_file.write_text("")  # mktemp's empty file: still installing
    monkeypatch.setenv(CHROMIUM_INSTALL_ENV_VAR, str(rc_file))
    threading.Timer(1.5, lambda: rc_file.write_text("0\n")).start()
    wait_for_chromium_install(timeout_s=30)
    assert rc_file.read_text() == "0\n"


@pytest.mark.parametrize("written, timeout_s, says", [
    ("100\n", 5, "exit code 100"),  # a failed installation fails the browser tests with its code
    ("", 1, "did not finish"),  # an installation that never ends fails them after the timeout
])
def test_an_installation_that_did_not_succeed_fails_the_browser_tests(monkeypatch, tmp_path, written, timeout_s, says):
    rc_file = tmp_path / "rc"
    rc_file.write_text(written)
    monkeypatch.setenv(CHROMIUM_INSTALL_ENV_VAR, str(rc_file))
    with pytest.raises(pytest.fail.Exception, match=says):
        wait_for_chromium_install(timeout_s=timeout_s)
