"""Cached results belong to a dataset, not to a version number: version 1 of one database file is not
version 1 of another (a rebuilt demo database, another test's copy), and the page must show its own."""

import shutil

import pandas as pd

from decision_tools import storage
from decision_tools.formatting import format_mass
from tests.app.conftest import app_on_copy


def test_two_databases_with_the_same_version_number_show_their_own_numbers(small_data_dir, small_db, tmp_path,
                                                                            monkeypatch):
    # A second database whose version 1 differs: Ghent with twice the people and households (and so twice the
    # stock), its districts scaled with it.
    other_data = tmp_path / "other_data"
    shutil.copytree(small_data_dir, other_data)
    for name, columns in (("cities", ["population", "households"]), ("districts", ["population"])):
        table = pd.read_csv(other_data / f"{name}.csv")
        table.loc[table["city"] == "Ghent", columns] *= 2
        table.to_csv(other_data / f"{name}.csv", index=False)
    other_db = tmp_path / "other.duckdb"
    storage.build_database(other_db, other_data)

    shown, expected = [], []
    for db in (small_db, other_db):  # one process, its caches kept between the two, as on a long-running server
        folder = tmp_path / db.stem
        folder.mkdir()
        at = app_on_copy(db, monkeypatch, folder)(city="Ghent", year="2030", material="Co").run()
        assert not at.exception
        shown.append({m.label: m.value for m in at.metric}["In-use stock"])
        with storage.Store.open(db) as store:
            expected.append(format_mass(store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg))
    assert expected[0] != expected[1]  # the two files really differ
    assert shown == expected
