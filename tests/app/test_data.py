"""Data page: roles are checked on the server; versions are listed and can be pinned by the link."""

from decision_tools import snapshots, storage, uploads
from tests.app.conftest import open_page


def test_visitors_and_viewers_see_a_sign_in_prompt_never_the_form(app):
    for user in (None, "vic", "pat"):
        at = open_page(app, "pages/data.py", user)
        assert not at.exception
        assert not at.get("file_uploader"), f"{user} sees the upload form"
        assert any("needs the admin or researcher role" in w.value for w in at.warning)
        versions = next(df.value for df in at.dataframe if "version_id" in df.value.columns)
        assert versions["version_id"].tolist() == [1]  # reading the versions stays public


def test_researchers_get_the_upload_form_admins_also_rollback_and_audit(app):
    at = open_page(app, "pages/data.py", "rita")
    assert not at.exception and at.get("file_uploader")
    headers = [h.value for h in at.subheader]
    assert "Roll back (admin)" not in headers
    admin = open_page(app, "pages/data.py", "admin")
    headers = [h.value for h in admin.subheader]
    assert "Roll back (admin)" in headers and "Audit log (admin)" in headers


def test_a_link_can_pin_an_older_version(app, tmp_path):
    # publish a second version into the app's database copy, then open the Overview pinned to version 1
    app()
    db = tmp_path / "app.duckdb"
    with storage.Store.open(db, read_only=False) as store:
        check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\n"
                                     b"smartphone,Co,4,SCRREEN,medium,measured\n", "c.csv", store.input_tables(1))
        store.publish(check.tables, "Phone cobalt measured", "", "rita")
        v1 = store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg
        v2 = store.headline(2, "Ghent", 2030, "Co")["in_use_stock"].kg
    from decision_tools.formatting import format_mass
    latest = app(city="Ghent", year="2030").run()
    assert {m.label: m.value for m in latest.metric}["In-use stock"] == format_mass(v2)
    pinned = app(city="Ghent", year="2030", version="1").run()
    assert not pinned.exception
    assert {m.label: m.value for m in pinned.metric}["In-use stock"] == format_mass(v1)
    assert any("You are looking at dataset version 1" in i.value for i in pinned.info)
    bad = app(city="Ghent", version="99").run()
    assert any("dataset version '99', which does not exist" in w.value for w in bad.warning)


def test_a_setting_can_require_sign_in_for_everything(app, monkeypatch):
    from decision_tools import accounts

    monkeypatch.setenv(accounts.REQUIRE_SIGN_IN_ENV_VAR, "1")
    at = app(city="Ghent").run()
    assert not at.exception
    assert at.title[0].value == "UrbanSymbiosis"
    assert any("asks everyone to sign in" in i.value for i in at.info)
    assert not at.metric  # no dashboard numbers before signing in
    signed = app(city="Ghent")
    from tests.app.conftest import sign_in
    sign_in(signed, "vic").run()
    assert signed.title[0].value.startswith("Ghent")


def test_a_replica_serves_the_data_page_but_leaves_publishing_to_the_writer(app, small_db, monkeypatch, tmp_path):
    directory = tmp_path / "snapshots"
    writer_db = tmp_path / "writer.duckdb"
    writer_db.write_bytes(small_db.read_bytes())
    with storage.Store.open(writer_db, read_only=False, snapshot_dir=directory) as writer:
        writer.export_snapshot()
    monkeypatch.setenv(snapshots.SNAPSHOTS_ENV_VAR, str(directory))
    monkeypatch.setenv(snapshots.REPLICA_ENV_VAR, "1")
    at = open_page(app, "pages/data.py", "admin")  # may upload and roll back, but not on a replica
    assert not at.exception
    assert any("read-only replica" in info.value for info in at.info)
    assert not at.get("file_uploader")
    assert "Roll back (admin)" not in [sub.value for sub in at.subheader]


class _File:
    """What st.file_uploader returns (AppTest cannot drive the uploader itself)."""

    name = "ghent_phones.csv"

    def getvalue(self) -> bytes:
        return (b"geography,product,year,units_per_driver,source_id,confidence,basis\n"
                b"Ghent,smartphone,2019,1.2,PROJECT_ASSUMPTION,medium,survey\n")


def _dry_run(app, monkeypatch, mode: str | None = None):
    import streamlit

    from tests.app.conftest import sign_in

    monkeypatch.setattr(streamlit, "file_uploader", lambda *args, **kwargs: _File())
    at = sign_in(app(city="Ghent", year="2026", material="Co"), "rita")
    at.session_state["kind"] = "ownership"
    if mode:
        at.session_state["upload_mode"] = mode
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    return at


def test_the_dry_run_shows_the_mode_the_values_as_read_the_diff_and_every_year(app, monkeypatch):
    at = _dry_run(app, monkeypatch)
    assert any("Mode 'append'" in info.value and "is kept" in info.value for info in at.info)
    # Ghent's own series now starts in 2019 and is held flat before: said before publishing
    assert any("start in 2019" in w.value and "flat" in w.value for w in at.warning)
    frames = [df.value for df in at.dataframe]
    parsed = next(f for f in frames if "file_row" in f.columns)
    assert parsed.at[0, "units_per_driver"] == 1.2 and parsed.at[0, "year"] == 2019
    diff = next(f for f in frames if {"change", "key", "before", "after"} <= set(f.columns))
    assert list(diff["key"]) == ["geography=Ghent, product=smartphone, year=2019"] and list(diff["change"]) == ["added"]
    effect = next(f for f in frames if "2005" in f.columns)
    assert [c for c in effect.columns if c.isdigit()] == [str(y) for y in (2000, 2005, 2010, 2015, 2020, 2025, 2026, 2030,
                                                                            2035, 2040, 2045, 2050)]
    stock = effect[(effect["city"] == "Ghent") & (effect["quantity"] == "In-use stock")].iloc[0]
    assert stock["2005"] > 0  # percent: the 2019 figure held flat raises the phones' part of 2005 (EU average 0.6 before)
    keys = {button.key for button in at.get("download_button")}
    assert {"dl_diff_csv", "dl_effect_csv", "dl_parsed_ownership_csv"} <= keys


def test_the_dry_run_in_replace_mode_says_what_it_removes(app, monkeypatch):
    at = _dry_run(app, monkeypatch, "replace")
    assert any("Mode 'replace'" in info.value and "are gone" in info.value for info in at.info)


def test_a_checked_file_is_not_checked_again_when_another_widget_moves(app, monkeypatch):
    # A million-row file takes seconds to check: the check is kept for the session (with its file, kind, options
    # and version), so moving another widget does not run it again; new options do.
    calls, progress = [], []
    real = uploads.check_upload

    def counted(*args, **kwargs):
        calls.append(args[0])
        outer = kwargs["progress"]
        kwargs["progress"] = lambda share, text: (progress.append(share), outer(share, text))
        return real(*args, **kwargs)

    monkeypatch.setattr(uploads, "check_upload", counted)
    at = _dry_run(app, monkeypatch)
    assert len(calls) == 1 and progress[-1] == 1.0 and progress == sorted(progress)
    assert not [b for b in at.button if b.label == "Cancel the check"]  # gone once the check is done
    at.run()  # any rerun: a widget moved, the publish form opened
    assert not at.exception and len(calls) == 1
    assert any("passed every check" in m.value for m in at.success)
    at.session_state["upload_percent_shares"] = True
    at.run()
    assert len(calls) == 2


def test_after_a_publish_the_header_shows_the_new_version_in_the_same_run(app, monkeypatch):
    # The header (and the sidebar) are drawn before the publish button runs: the page runs again after a publish,
    # so the visitor never reads "the latest is 1" right under "Published version 2".
    at = _dry_run(app, monkeypatch)
    assert any("the latest is 1" in c.value for c in at.caption)
    next(t for t in at.text_input if t.label == "Name of the new version").input("Ghent phone survey")
    next(b for b in at.button if b.label == "Publish as a new version").click().run()
    assert not at.exception, at.exception
    assert any("Published version 2" in s.value for s in at.success)
    assert any("The dashboards show version 2; the latest is 2" in c.value for c in at.caption), [c.value for c in at.caption][:3]
    versions = next(df.value for df in at.dataframe if "version_id" in df.value.columns)
    assert 2 in versions["version_id"].tolist()


def test_the_dry_run_tables_show_a_dash_not_none_in_empty_cells(app, monkeypatch):
    # Reading the numbers (issue 16): the values as read and the diff showed a grey "None" in empty text cells.
    at = _dry_run(app, monkeypatch)
    frames = [df.value for df in at.dataframe]
    parsed = next(f for f in frames if "file_row" in f.columns)
    diff = next(f for f in frames if {"change", "key", "before", "after"} <= set(f.columns))
    for frame in (parsed, diff):
        cells = [v for c in frame.columns for v in frame[c]]
        assert not [v for v in cells if v is None or (isinstance(v, float) and v != v) or str(v) in {"None", "nan", "<NA>"}]
    assert "—" in set(diff["before"])  # an added row had nothing before
