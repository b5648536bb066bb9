"""Upload modes and the dry run (issue 15): "append" (the default) keeps the years a file does not bring,
"replace" replaces everything the file covers and says so; the dry run shows the values as read, a
row-by-row diff and the effect on every fifth year; version names keep letters of any script."""

import pandas as pd
import pytest

from decision_tools import storage, upload_changes, upload_effect, uploads

OWNERSHIP = "geography,product,year,units_per_driver,source_id,confidence,basis\n"
# Helsinki's case on the test data's Ghent: its own smartphone series with anchors 1995, 2005 and 2019.
ANCHORS = [("Ghent", "smartphone", 1995, 0.0, "low", "before smartphones"), ("Ghent", "smartphone", 2005, 0.6, "low", ""),
           ("Ghent", "smartphone", 2019, 1.0, "low", "first survey")]
SURVEY = OWNERSHIP + ("Ghent,smartphone,2019,1.4,PROJECT_ASSUMPTION,medium,first survey\n"
                      "Ghent,smartphone,2024,1.5,PROJECT_ASSUMPTION,medium,\n")


@pytest.fixture(scope="module")
def with_anchors(current):
    """The current tables with Ghent's own smartphone anchors 1995, 2005, 2019."""
    rows = pd.DataFrame([{"geography": g, "product": p, "year": y, "units_per_driver": u, "source_id": "PROJECT_ASSUMPTION",
                          "confidence": c, "basis": b} for g, p, y, u, c, b in ANCHORS])
    tables = dict(current)
    tables["ownership"] = pd.concat([current["ownership"], rows.astype({"year": current["ownership"]["year"].dtype})],
                                    ignore_index=True)
    return tables


def check(text, current, mode=None, kind="ownership"):
    options = uploads.UploadOptions() if mode is None else uploads.UploadOptions(mode=mode)
    result = uploads.check_upload(kind, text.encode("utf-8"), "survey.csv", current, options)
    assert result.report.ok, result.report.problems
    return result


def ghent_phones(result):
    table = result.tables["ownership"]
    return table[(table["geography"] == "Ghent") & (table["product"] == "smartphone")].set_index("year")["units_per_driver"]


def test_append_is_the_default_and_keeps_the_anchor_years(with_anchors):
    result = check(SURVEY, with_anchors)
    assert result.mode == "append"
    phones = ghent_phones(result)
    assert sorted(phones.index) == [1995, 2005, 2019, 2024]  # the old anchors stay, 2024 is added
    assert phones[2019] == pytest.approx(1.4) and phones[2005] == pytest.approx(0.6)  # 2019 corrected
    counts = result.changes.set_index("table").loc["ownership"]
    assert (counts["added"], counts["changed"], counts["removed"]) == (1, 1, 0)
    # every other row of the table is untouched
    assert len(result.tables["ownership"]) == len(with_anchors["ownership"]) + 1
    assert not result.history_notes  # the series still starts in 1995


def test_replace_removes_what_the_file_does_not_bring_and_the_dry_run_says_so(with_anchors):
    result = check(SURVEY, with_anchors, mode="replace")
    assert result.mode == "replace"
    assert sorted(ghent_phones(result).index) == [2019, 2024]
    counts = result.changes.set_index("table").loc["ownership"]
    assert (counts["added"], counts["changed"], counts["removed"]) == (1, 1, 2)
    removed = result.diff[result.diff["change"] == "removed"]
    assert list(removed["key"]) == ["geography=Ghent, product=smartphone, year=1995", "geography=Ghent, product=smartphone, year=2005"]
    assert "units_per_driver=0.6" in removed["before"].iloc[1]
    explained = upload_changes.mode_explanation("ownership", "replace")
    assert "Mode 'replace'" in explained and "geography, product" in explained and "are gone" in explained
    assert "are kept" not in explained
    # the series now starts in 2019: the model holds 2019 flat back in time, and the dry run warns
    assert len(result.history_notes) == 1
    note = result.history_notes[0]
    assert "smartphone in Ghent" in note and "start in 2019" in note and "started in 1995" in note and "2000-2018" in note


def test_the_diff_lists_every_changed_cell_with_old_and_new(with_anchors):
    diff = check(SURVEY, with_anchors).diff
    assert list(diff.columns) == upload_changes.DIFF_COLUMNS
    changed = diff[diff["change"] == "changed"].set_index("column")
    assert set(changed["key"]) == {"geography=Ghent, product=smartphone, year=2019"}
    # 1.0 -> 1.4, low -> medium, PROJECT_ASSUMPTION unchanged, basis unchanged: two cells, not the whole row
    assert sorted(changed.index) == ["confidence", "units_per_driver"]
    assert (changed.at["units_per_driver", "before"], changed.at["units_per_driver", "after"]) == ("1", "1.4")
    assert (changed.at["confidence", "before"], changed.at["confidence", "after"]) == ("low", "medium")
    added = diff[diff["change"] == "added"]
    assert list(added["key"]) == ["geography=Ghent, product=smartphone, year=2024"]
    assert added["after"].iloc[0].startswith("units_per_driver=1.5; source_id=PROJECT_ASSUMPTION; confidence=medium")
    assert list(diff["change"]) == ["added", "changed", "changed"]


def test_the_same_rows_again_change_nothing(with_anchors):
    same = OWNERSHIP + "Ghent,smartphone,2005,0.6,PROJECT_ASSUMPTION,low,\n"
    for mode in ("append", "replace"):
        result = check(same, with_anchors, mode=mode)
        counts = result.changes.set_index("table").loc["ownership"]
        expected_removed = 2 if mode == "replace" else 0  # replace drops 1995 and 2019
        assert (counts["added"], counts["changed"], counts["removed"], counts["changed_cells"]) == (0, 0, expected_removed, 0)


def test_append_without_a_year_adds_and_corrects_rows_by_key(current):
    offers = current["offers"]
    first = offers.iloc[0]
    corrected = first.copy()
    corrected["kg_per_year"] = float(first["kg_per_year"]) + 100
    new = first.copy()
    new["offer_id"] = "off_new_test"
    rows = pd.DataFrame([corrected, new])
    for column in rows.columns:  # true/false as a spreadsheet writes them
        if rows[column].map(lambda v: isinstance(v, bool)).any():
            rows[column] = rows[column].map(lambda v: str(v).lower())
    text = rows.to_csv(index=False)
    result = check(text, current, kind="offers")
    table = result.tables["offers"].set_index("offer_id")
    assert len(table) == len(offers) + 1
    assert table.at[first["offer_id"], "kg_per_year"] == pytest.approx(float(first["kg_per_year"]) + 100)
    counts = result.changes.set_index("table").loc["offers"]
    assert (counts["added"], counts["changed"], counts["removed"]) == (1, 1, 0)


def test_the_values_as_read_are_typed_with_their_file_row(current):
    text = ("city,country_iso3,district,population,households,lat,lon,source_id,confidence,note\n"
            "Tampere,FIN,,486000,125000,61.5,23.76,PROJECT_ASSUMPTION,medium,\n"
            "Tampere,FIN,Centre,486000,,61.5,23.76,PROJECT_ASSUMPTION,low,\n")
    result = check(text, current, kind="city")
    preview = uploads.parsed_preview(result)
    assert preview["cities"].at[0, "population"] == 486000  # the number, not the text
    assert pd.api.types.is_numeric_dtype(preview["cities"]["population"])
    assert preview["cities"].at[0, "file_row"] == 2 and preview["districts"].at[0, "file_row"] == 3


def test_an_unknown_mode_is_refused(current):
    with pytest.raises(ValueError, match="Unknown upload mode 'merge'"):
        uploads.check_upload("ownership", SURVEY.encode(), "s.csv", current, uploads.UploadOptions(mode="merge"))


def test_the_effect_years_are_every_fifth_year_and_the_selected_one():
    assert upload_effect.effect_years(2026) == [2000, 2005, 2010, 2015, 2020, 2025, 2026, 2030, 2035, 2040, 2045, 2050]
    assert upload_effect.effect_years(2030) == list(range(2000, 2051, 5))


def test_the_effect_covers_every_year_and_equals_the_stored_run_when_nothing_changes(current, store):
    # Ghent's own wind turbine anchor again, unchanged: the rerun of Ghent alone equals the stored version
    row = current["ownership"][(current["ownership"]["geography"] == "Ghent")].iloc[[-1]]
    text = row[OWNERSHIP.strip().split(",")].to_csv(index=False)
    result = check(text, current)
    assert result.affected_cities == ["Ghent"]
    effect = upload_effect.headline_effect(result, store, 1, 2026, ["Nd"])
    assert set(effect["city"]) == {"Ghent"}
    assert sorted(set(effect["year"])) == upload_effect.effect_years(2026)
    assert set(effect["quantity"]) >= {"In-use stock", "Reaching end of life", "Recovered (secondary supply)"}
    assert effect["before_kg"].notna().all() and effect["before_kg"].max() > 0
    assert effect["after_kg"].to_numpy() == pytest.approx(effect["before_kg"].to_numpy(), rel=1e-9, abs=1e-6)


def test_a_series_that_now_starts_later_shows_its_effect_on_earlier_years(current, store):
    # Ghent had no smartphone figures of its own (EU average: 0.6 in 2005). A 2019 figure of 1.2 alone
    # is held flat back in time: the stock follows its target, 1.2 instead of 0.6 phones per inhabitant in
    # 2005, so the cobalt in Ghent's phones doubles (one content figure for every cohort) and the city's
    # 2005 in-use stock of cobalt grows by the phones' stock before. The dry run shows it in 2005.
    result = check(OWNERSHIP + "Ghent,smartphone,2019,1.2,PROJECT_ASSUMPTION,medium,\n", current)
    assert result.history_notes and "until now the model used a national or EU series" in result.history_notes[0]
    effect = upload_effect.headline_effect(result, store, 1, 2026, ["Co"]).set_index(["quantity", "year"])
    phones_2005 = store.metric_table(1, "Ghent", "Co", 2005, by=("product",)).set_index(["metric", "product"]).at[
        ("in_use_stock", "smartphone"), "kg"]
    stock_2005 = effect.loc[("In-use stock", 2005)]
    assert phones_2005 > 0
    assert stock_2005["change_kg"] == pytest.approx(phones_2005, rel=0.01)
    # with earlier anchors in the same file the series keeps its history: no note
    anchored = check(OWNERSHIP + "Ghent,smartphone,1995,0,PROJECT_ASSUMPTION,low,\n"
                     "Ghent,smartphone,2019,1.2,PROJECT_ASSUMPTION,medium,\n", current)
    assert not anchored.history_notes


@pytest.mark.parametrize("typed, expected", [
    ("Jyväskylä kaupunki 2025", "Jyväskylä kaupunki 2025"),
    ("Jyva\u0308skyla\u0308", "Jyväskylä"),  # a Mac's decomposed letters become one letter each
    ("Łódź, Kraków (Małopolska)", "Łódź, Kraków (Małopolska)"),
    ("Αθήνα Москва 東京", "Αθήνα Москва 東京"),
    ("=HYPERLINK(1) <b>Jyväskylä</b>\x00\t", "HYPERLINK(1) bJyväskyläb"),
    ("-2+3 Espoo", "23 Espoo"),
])
def test_version_names_keep_letters_of_any_script(typed, expected):
    assert uploads.clean_version_name(typed) == expected


def test_a_name_of_only_symbols_is_refused():
    with pytest.raises(ValueError, match="Give the new version a name"):
        uploads.clean_version_name("<>=+@ \x07")


def test_the_cli_takes_the_mode_and_shows_the_diff(small_db, tmp_path, capsys):
    from decision_tools.cli import main

    db = tmp_path / "copy.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db) as store:
        ghent = store.input_tables(1)["ownership"]
    ghent = ghent[ghent["geography"] == "Ghent"]
    several = ghent.groupby("product")["year"].count()
    assert (several >= 2).any(), "the test data give Ghent its own series of several years"
    ghent = ghent[ghent["product"] == several[several >= 2].index[0]].sort_values("year")
    upload = tmp_path / "ghent.csv"
    ghent.iloc[[-1]][OWNERSHIP.strip().split(",")].to_csv(upload, index=False)  # only the last year
    first = f"geography=Ghent, product={ghent['product'].iloc[0]}, year={int(ghent['year'].iloc[0])}"
    assert main(["ingest", str(upload), "--kind", "ownership", "--dry-run", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Mode 'append'" in out and first not in out
    assert main(["ingest", str(upload), "--kind", "ownership", "--mode", "replace", "--dry-run", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Mode 'replace'" in out and "removed" in out and first in out


def test_the_dry_runs_percent_change_by_year():
    from decision_tools.upload_effect import percent_change_by_year

    effect = pd.DataFrame({"city": ["Ghent"] * 4 + ["Newtown"] * 2, "quantity": ["In-use stock", "In-use stock", "Lost", "Lost",
                                                                                 "In-use stock", "In-use stock"],
                           "year": [2020, 2025] * 3, "before_kg": [100.0, 200.0, 0.0, 10.0, float("nan"), float("nan")],
                           "after_kg": [110.0, 150.0, 5.0, 10.0, 3.0, 4.0]})
    table = percent_change_by_year(effect)
    assert list(table.columns) == ["city", "quantity", "2020", "2025"]
    assert table.iloc[0][["2020", "2025"]].tolist() == pytest.approx([10.0, -25.0])
    assert pd.isna(table.iloc[1]["2020"]) and table.iloc[1]["2025"] == 0.0  # nothing before: no percentage
    assert table.iloc[2][["2020", "2025"]].isna().all()  # a city new in the upload
