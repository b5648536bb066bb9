"""Saved views: ?view=ID reopens the page, its widgets and its dataset version; bad ids fall back."""

from decision_tools import storage, uploads
from decision_tools.formatting import format_mass


def save(tmp_path, page, state, version=1, title="Discussed on Monday"):
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        return store.save_view(title, page, state, version, "pat")


def test_a_saved_view_reopens_the_same_numbers(app, small_db, tmp_path):
    app()  # creates the app's database copy
    view_id = save(tmp_path, "", {"city": "Ghent", "year": 2041, "material": "Nd"})
    at = app(view=view_id).run()
    assert not at.exception
    assert at.title[0].value == "Ghent · Neodymium (Nd) · 2041"
    with storage.Store.open(small_db) as store:
        expected = store.headline(1, "Ghent", 2041, "Nd")["in_use_stock"].kg
    assert {m.label: m.value for m in at.metric}["In-use stock"] == format_mass(expected)
    assert any("Saved view “Discussed on Monday”" in s.value for s in at.success)


def test_a_view_stays_pinned_to_its_version_after_new_data(app, small_db, tmp_path):
    app()
    view_id = save(tmp_path, "", {"city": "Ghent", "year": 2030, "material": "Co"})
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\n"
                                     b"smartphone,Co,4,SCRREEN,medium,measured\n", "c.csv", store.input_tables(1))
        store.publish(check.tables, "New phone data", "", "rita")
        v1 = store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg
    at = app(view=view_id).run()
    assert {m.label: m.value for m in at.metric}["In-use stock"] == format_mass(v1)
    assert any("You are looking at dataset version 1" in i.value for i in at.info)
    assert any(b.label == "Open this view with the latest data" for b in at.button)


def test_a_policy_view_switches_page_and_restores_levers(app, tmp_path):
    app()
    view_id = save(tmp_path, "policy", {"city": "Ghent", "year": 2035, "material": "Co", "weee_collection": 0.3})
    at = app(view=view_id).run()
    assert not at.exception
    assert at.title[0].value == "Policy intervention points · Ghent · 2035"
    assert at.slider(key="weee_collection").value == 0.3


def test_unknown_and_malformed_ids_fall_back_with_a_notice(app):
    for bad in ("abcdEFGH", "'; DROP TABLE saved_views; --", "<script>"):
        at = app(view=bad).run()
        assert not at.exception
        warnings = " ".join(w.value for w in at.warning)
        assert "does not exist (or the link is damaged)" in warnings and "<script>" not in warnings
        assert at.title[0].value.startswith("Delft")  # the default city of the test data
