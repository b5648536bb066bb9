import pytest
from streamlit.testing.v1 import AppTest

from decision_tools import storage
from tests.conftest import PROJECT_DIR


@pytest.fixture()
def app(small_db, monkeypatch):
    """An AppTest of the whole app (app.py and its navigation) on the small test database."""
    monkeypatch.setenv(storage.DB_ENV_VAR, str(small_db))

    def make(**query_params) -> AppTest:
        at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=60)
        for key, value in query_params.items():
            at.query_params[key] = value
        return at

    return make
