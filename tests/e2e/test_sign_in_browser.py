"""Sign-in in a real browser: it survives a reload and a shared link, ends with sign-out and with the
account's removal, and wrong passwords make the form wait. A server of its own, with its own
credentials file (the test removes an account)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from decision_tools import accounts, signin
from tests.conftest import TEST_USERS
from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, sign_in, start_server, stop_server, wait_ready


@pytest.fixture()
def own_server(small_db, tmp_path, credentials):
    copy = tmp_path / "sign_in.duckdb"
    copy.write_bytes(small_db.read_bytes())
    own_credentials = tmp_path / "credentials.yaml"
    own_credentials.write_bytes(Path(credentials).read_bytes())
    process, url = start_server(copy, **{accounts.CREDENTIALS_ENV_VAR: str(own_credentials)})
    yield url, own_credentials
    stop_server(process)


def signed_in_as(page) -> str | None:
    text = page.locator('[data-testid="stSidebar"]').inner_text()
    marker = "Signed in as "
    return text.split(marker, 1)[1].split()[0] if marker in text else None


def test_sign_in_survives_a_reload_and_a_link_and_ends_with_sign_out(page, own_server):
    url, _ = own_server
    page.goto(f"{url}/?city=Ghent")
    wait_ready(page)
    sign_in(page, "pat")
    cookie = next(c for c in page.context.cookies() if c["name"] == signin.COOKIE_NAME)
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0  # persists for the configured days
    page.reload()
    wait_ready(page)
    assert signed_in_as(page) == "pat"
    link = page.context.new_page()  # a partner opens a shared link in another tab
    link.goto(f"{url}/policy?city=Ghent&year=2035")
    wait_ready(link)
    assert signed_in_as(link) == "pat"
    link.close()
    page.get_by_role("button", name="Sign out").click()
    wait_ready(page)
    assert signed_in_as(page) is None
    page.reload()
    wait_ready(page)
    assert signed_in_as(page) is None
    assert frontend_errors(page) == []


def test_removing_the_account_signs_its_open_sessions_out(page, own_server):
    url, own_credentials = own_server
    page.goto(f"{url}/data")
    wait_ready(page)
    sign_in(page, "rita")
    assert page.get_by_role("heading", name="Upload better data").is_visible()
    accounts.remove_user("rita", own_credentials)  # an admin on the server: `users remove rita`
    page.reload()
    wait_ready(page)
    assert signed_in_as(page) is None
    assert page.get_by_text("You are not signed in").is_visible()


def submit_attempt(page, sidebar) -> None:
    """Click "Sign in" and wait until the server has handled the attempt: its callback empties the password box.
    Under load a click can reach the browser while a run is being replaced and never reach the server (the failure
    seen once in a full run: no message after 120 s); such a click was not counted, so it is made again, once."""
    password = sidebar.get_by_role("textbox", name="Password")
    for _ in range(2):
        sidebar.get_by_role("button", name="Sign in").click()
        try:
            expect(password).to_have_value("", timeout=SERVER_WAIT_MS // 2)
            break
        except AssertionError:
            continue
    else:
        pytest.fail("the sign-in form never answered; the sidebar shows: " + sidebar.inner_text()[:500])
    wait_ready(page)


def test_wrong_passwords_make_the_form_wait(page, own_server):
    url, _ = own_server
    page.goto(url)
    wait_ready(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    messages = []
    for attempt in range(signin.BACKOFF_AFTER + 1):
        if not sidebar.get_by_role("textbox", name="Username").is_visible():
            sidebar.locator('[data-testid="stExpander"] summary', has_text="Sign in").click()
        password = "wrong-password" if attempt < signin.BACKOFF_AFTER else TEST_USERS["sam"][1]
        sidebar.get_by_role("textbox", name="Username").fill("sam")
        sidebar.get_by_role("textbox", name="Password").fill(password)
        submit_attempt(page, sidebar)
        messages.append(sidebar.locator('[data-testid="stAlertContentError"]').inner_text())
    assert messages[:signin.BACKOFF_AFTER] == ["Username or password is wrong."] * signin.BACKOFF_AFTER
    assert messages[-1].startswith("Too many wrong passwords in a row")  # even the right password waits
    assert signed_in_as(page) is None
