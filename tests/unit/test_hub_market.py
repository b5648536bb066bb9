"""The hub market's store rules: interest is registered once per account and item (the second time is
refused in a sentence), the poster, and only the poster, is told of new interest until marking it seen,
and the hub's tables name organisations instead of showing their ids."""

from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from decision_tools import accounts, storage, symbiosis
from decision_tools.accounts import PermissionDenied


@pytest.fixture()
def market(writable_store, tmp_path, monkeypatch, credentials):
    """A writable store, a private copy of the test accounts with a second student (stu), and two challenges:
    one posted by pat, one by dana."""
    path = tmp_path / "credentials.yaml"
    path.write_bytes(Path(credentials).read_bytes())
    monkeypatch.setenv(accounts.CREDENTIALS_ENV_VAR, str(path))
    accounts.add_user("stu", "Stu", "stu@example.org", "stu-pass-12345", "student", path)
    pats = writable_store.post_challenge("Cobalt scrap from campus labs", "Sort it", "org_uni_gnt", ["chemistry"], "thesis",
                                         "Co", None, None, "pat")
    danas = writable_store.post_challenge("Magnet take-back", "Design it", "org_magnet_dlf", ["chemistry"], "thesis",
                                          "Nd", None, None, "dana")
    return writable_store, pats, danas


def _count(store, sql, params):
    return int(store._workspace_frame(sql, params).iloc[0, 0])


def test_a_second_registration_of_interest_is_refused_in_a_sentence(market):
    store, pats, _ = market
    store.register_interest(pats, "sam")
    audits = len(store.audit_log("admin"))
    with pytest.raises(storage.AlreadyRegistered,
                       match="You have already registered interest in this challenge, “Cobalt scrap from campus labs”."):
        store.register_interest(pats, "sam")
    assert store.interested(pats) == ["sam"]  # one row, not two
    assert _count(store, "SELECT count(*) FROM challenge_interest WHERE challenge_id = ?", [pats]) == 1
    assert _count(store, "SELECT count(*) FROM interest_notices WHERE challenge_id = ?", [pats]) == 1
    assert len(store.audit_log("admin")) == audits  # nothing written, not even an audit entry
    store.register_interest(pats, "stu")  # another student is not refused
    assert store.interested(pats) == ["sam", "stu"]


def test_the_database_key_refuses_a_duplicate_the_check_did_not_see(market, monkeypatch):
    """Two clicks at the same moment: both pass the check; the primary key refuses the second, said the same way."""
    store, pats, _ = market
    store.register_interest(pats, "sam")
    real = store._transaction

    def blind(workspace=False):  # a transaction whose first count (the check) sees no earlier registration
        class Cursor:
            def __init__(self, inner):
                self.inner = inner

            def execute(self, sql, params=None):
                if "FROM challenge_interest" in sql:
                    return duckdb.execute("SELECT 0")
                return self.inner.execute(sql, params or [])

        @contextmanager
        def wrapped():
            with real(workspace) as cursor:
                yield Cursor(cursor)
        return wrapped()

    monkeypatch.setattr(store, "_transaction", blind)
    with pytest.raises(storage.AlreadyRegistered, match="You have already registered interest in this challenge"):
        store.register_interest(pats, "sam")
    monkeypatch.undo()
    assert store.interested(pats) == ["sam"]


def test_only_the_poster_is_notified_of_new_interest(market):
    store, pats, danas = market
    store.register_interest(pats, "sam")
    store.register_interest(pats, "stu")
    store.register_interest(danas, "sam")
    mine = store.interest_notices("pat")
    assert list(mine["username"]) == ["stu", "sam"]  # newest first
    assert set(mine["challenge_id"]) == {pats} and set(mine["title"]) == {"Cobalt scrap from campus labs"}
    assert mine["created_at"].notna().all() and mine["seen_at"].isna().all()
    assert list(store.interest_notices("dana")["username"]) == ["sam"]  # dana's own challenge only
    for other in ("sam", "stu", "vic", "rita", "admin"):  # nobody else, not even an admin, sees pat's
        assert store.interest_notices(other).empty
    assert store.interest_notices(None).empty  # not signed in: nothing
    with pytest.raises(PermissionDenied):
        store.interest_notices("mallory")  # a forged session: no such account


def test_marking_seen_hides_the_notices_of_that_account_only(market):
    store, pats, danas = market
    store.register_interest(pats, "sam")
    store.register_interest(pats, "stu")
    store.register_interest(danas, "sam")
    assert store.mark_notices_seen("dana", pats) == 0  # someone else's challenge: nothing of pat's is touched
    assert store.mark_notices_seen("sam") == 0
    assert len(store.interest_notices("pat")) == 2
    assert store.mark_notices_seen("pat", pats) == 2
    assert store.interest_notices("pat").empty
    seen = store.interest_notices("pat", include_seen=True)
    assert len(seen) == 2 and seen["seen_at"].notna().all()  # kept, marked seen
    assert len(store.interest_notices("dana")) == 1  # dana's notice is still new
    assert store.mark_notices_seen("pat") == 0  # nothing new: nothing marked, nothing audited
    with pytest.raises(PermissionDenied):
        store.mark_notices_seen("mallory")


def test_the_notices_table_is_added_to_a_database_built_before_it(tmp_path, small_db):
    db = tmp_path / "old.duckdb"
    db.write_bytes(small_db.read_bytes())
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE IF EXISTS interest_notices")
    con.close()
    with storage.Store.open(db, read_only=False) as store:  # opening it read-write adds the table
        cid = store.post_challenge("A", "B", "org_uni_gnt", ["chemistry"], "thesis", None, None, None, "pat")
        store.register_interest(cid, "sam")
        assert list(store.interest_notices("pat")["username"]) == ["sam"]


def test_hub_tables_name_organisations_not_ids():
    orgs = pd.DataFrame({"org_id": ["o1", "o2"], "name": ["Fictitious: Labs", "Fictitious: Magnets"]})
    offers = pd.DataFrame({"offer_id": ["f1"], "org_id": ["o1"], "description": ["cobalt scrap"], "kg_per_year": [10.0]})
    needs = pd.DataFrame({"need_id": ["n1", "n2"], "org_id": ["o2", "gone"], "material": ["Co", "Nd"]})
    named = symbiosis.with_organisation_names(needs, orgs)
    assert list(named.columns) == ["need_id", "organisation", "material"]  # in the id's place
    assert list(named["organisation"]) == ["Fictitious: Magnets", "gone"]  # an unknown id stays visible
    recorded = pd.DataFrame({"offer_id": ["f1"], "need_id": ["n1"], "status": ["active"], "kg_per_year": [2.0]})
    shown = symbiosis.named_matches(recorded, offers, needs, orgs)
    assert shown.iloc[0].to_dict() == {"from_org": "Fictitious: Labs", "to_org": "Fictitious: Magnets",
                                       "stream": "cobalt scrap", "material": "Co", "status": "active", "kg_per_year": 2.0}
