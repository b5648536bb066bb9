"""Shared fixtures: a small copy of the project data (two cities) and a DuckDB built from it in a
temporary folder. Tests never touch the demo database under data/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from decision_tools import accounts, storage

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Every chart a test draws is checked against the Vega-Lite schema (ui.VALIDATE_CHARTS; a page view skips it).
os.environ["URBAN_SYMBIOSIS_VALIDATE_CHARTS"] = "1"
TEST_CITIES = ("Ghent", "Delft")  # one with districts, one without


def write_small_data(target: Path, cities=TEST_CITIES) -> Path:
    """Copy the project CSVs into ``target``, keeping only ``cities`` and their districts."""
    target.mkdir(parents=True, exist_ok=True)
    for csv in (PROJECT_DIR / "data").glob("*.csv"):
        shutil.copy(csv, target / csv.name)
    for name in ("cities", "districts", "organisations", "city_owned_stock"):
        frame = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        frame[frame["city"].isin(cities)].to_csv(target / f"{name}.csv", index=False)
    kept = pd.read_csv(target / "cities.csv", dtype=str, keep_default_na=False)
    geographies = {"EU", *kept["city"], *kept["country_iso3"]}
    for name in ("ownership", "eol_routing"):  # figures for places no longer in the data would be refused
        frame = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        frame[frame["geography"].isin(geographies)].to_csv(target / f"{name}.csv", index=False)
    organisations = set(pd.read_csv(target / "organisations.csv", dtype=str)["org_id"])
    for name in ("offers", "needs"):
        frame = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        frame[frame["org_id"].isin(organisations)].to_csv(target / f"{name}.csv", index=False)
    return target


def write_renamed_data(target: Path, city: str, district: str, organisation: str, city_note: str | None = None) -> Path:
    """The small data with Ghent renamed ``city``, its districts ``district 0, 1 ...`` and every
    organisation ``organisation 0, 1 ...`` (for the tests of hostile names)."""
    write_small_data(target)
    for name in ("cities", "districts", "organisations", "city_owned_stock"):
        frame = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        ghent = frame["city"] == "Ghent"
        frame.loc[ghent, "city"] = city
        if name == "cities" and city_note is not None:
            frame.loc[ghent, "note"] = city_note
        if name == "districts":
            frame.loc[ghent, "district"] = [f"{district} {i}" for i in range(int(ghent.sum()))]
        if name == "organisations":
            frame["name"] = [f"{organisation} {i}" for i in range(len(frame))]
        frame.to_csv(target / f"{name}.csv", index=False)
    for name in ("ownership", "eol_routing"):  # Ghent's own figures follow it
        frame = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        frame.loc[frame["geography"] == "Ghent", "geography"] = city
        frame.to_csv(target / f"{name}.csv", index=False)
    return target


TESTS_DIR = Path(__file__).resolve().parent
FOLDER_MARKERS = ("unit", "app", "e2e")


def folder_marker(path) -> str | None:
    """The marker a test file gets from its folder under tests/ (unit, app or e2e), else None."""
    try:
        folder = Path(path).resolve().relative_to(TESTS_DIR).parts[0]
    except (ValueError, IndexError):
        return None
    return folder if folder in FOLDER_MARKERS else None


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by -m
def pytest_collection_modifyitems(config, items):
    """Mark every test by its folder, so `pytest -m unit` (or "unit or app") picks those tests."""
    for item in items:
        marker = folder_marker(item.path)
        if marker is not None:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory) -> Path:
    return write_small_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def small_db(tmp_path_factory, small_data_dir) -> Path:
    db_path = tmp_path_factory.mktemp("db") / "test.duckdb"
    storage.build_database(db_path, small_data_dir)
    return db_path


@pytest.fixture(scope="module")
def current(small_db):
    """The small test database's version-1 input tables, what an upload is checked against (read-only)."""
    with storage.Store.open(small_db) as store:
        return store.input_tables(1)


@pytest.fixture()
def store(small_db):
    with storage.Store.open(small_db) as opened:
        yield opened


@pytest.fixture()
def writable_store(tmp_path, small_db):
    """A read-write store on a private copy of the small test database, for tests that write."""
    db = tmp_path / "writable.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as opened:
        yield opened


# Test accounts: username -> (role, password). The credentials file lives in a temporary folder.
TEST_USERS = {
    "admin": ("admin", "admin-pass-1234"),
    "rita": ("researcher", "rita-pass-1234"),
    "pat": ("partner", "pat-pass-12345"),
    "dana": ("partner", "dana-pass-1234"),
    "vic": ("viewer", "vic-pass-12345"),
    "sam": ("student", "sam-pass-12345"),
}


@pytest.fixture(scope="session", autouse=True)
def credentials(tmp_path_factory):
    """Every test (and every server a test starts) uses its own credentials file, never config/."""
    path = tmp_path_factory.mktemp("auth") / "credentials.yaml"
    patch = pytest.MonkeyPatch()
    patch.setenv(accounts.CREDENTIALS_ENV_VAR, str(path))
    patch.setenv(accounts.ADMIN_PASSWORD_ENV_VAR, TEST_USERS["admin"][1])
    accounts.ensure_credentials(path)
    for username, (role, password) in TEST_USERS.items():
        if username != "admin":
            accounts.add_user(username, username.title(), f"{username}@example.org", password, role, path)
    yield path
    patch.undo()
