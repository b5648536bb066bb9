import shutil

import pytest
from streamlit.testing.v1 import AppTest

from decision_tools import storage
from tests.conftest import PROJECT_DIR, write_small_data


def app_on_copy(db_path, monkeypatch, tmp_path, timeout: int = 60):
    """A maker of AppTests of the whole app (app.py and its navigation) on a copy of ``db_path`` at
    tmp_path/app.duckdb: the app holds its database read-write, and the tests read the original."""
    copy = tmp_path / "app.duckdb"
    shutil.copy(db_path, copy)
    monkeypatch.setenv(storage.DB_ENV_VAR, str(copy))

    def make(**query_params) -> AppTest:
        at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=timeout)
        for key, value in query_params.items():
            at.query_params[key] = value
        return at

    return make


@pytest.fixture(autouse=True, scope="session")
def components_scanned_once():
    """Every AppTest scans all installed packages for Streamlit components (about 0.3 s each, hundreds of
    tests); the installed packages do not change during a test run, so the scan is done once per process."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found = scan()
    manifest_scanner.scan_component_manifests = lambda *args, **kwargs: list(found)
    yield
    manifest_scanner.scan_component_manifests = scan


@pytest.fixture()
def app(small_db, monkeypatch, tmp_path):
    """An AppTest maker on a copy of the small test database."""
    return app_on_copy(small_db, monkeypatch, tmp_path)


def open_page(app, page: str, user: str | None = None, **query_params):
    """Open ``page`` (a path such as "pages/policy.py") with the URL parameters (the shared widgets read
    them), signed in as ``user`` if given, as a link to that page does."""
    at = app(**query_params)
    if user:
        sign_in(at, user)
    # One run of app.py and the page (it used to run the Overview first, then switch: seconds per test). The
    # pages keep the url_path of their file name, which is how AppTest finds a page before the first run.
    at.switch_page(page).run()
    return at


def sign_in(at, username: str):
    """Sign ``username`` in for this AppTest session, as the sign-in form does after a right password:
    a sign-in session in the app's database and its token in the browser session.

    AppTest cannot drive the form itself: with st.navigation, a run triggered by a widget interaction
    executes only the page, not app.py. The real form is exercised in the browser tests and the
    password check and throttling in tests/unit/test_signin.py."""
    import os
    import secrets
    from datetime import datetime, timedelta

    from decision_tools import signin

    token = secrets.token_urlsafe(32)
    with storage.Store.open(os.environ[storage.DB_ENV_VAR], read_only=False) as store:
        store.start_sign_in_session(signin.token_hash(token), username, "apptest", datetime.now() + timedelta(days=1))
    at.session_state["_sign_in_token"] = token
    return at


REGISTER_COLUMNS = ["city", "owner", "product", "year", "units", "source_id", "confidence", "note"]


def database_with_register(tmp_path_factory, rows):
    """The small test data with ``rows`` (tuples in REGISTER_COLUMNS order) as the cities' asset registers
    (city_owned_stock.csv), built into a database of its own."""
    import pandas as pd

    folder = write_small_data(tmp_path_factory.mktemp("register_data"))
    pd.DataFrame(rows, columns=REGISTER_COLUMNS).to_csv(folder / "city_owned_stock.csv", index=False)
    db = tmp_path_factory.mktemp("register_db") / "register.duckdb"
    storage.build_database(db, folder)
    return db
