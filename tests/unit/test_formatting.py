"""Reading the numbers (issue 16): significant digits, one mass unit per column, percent on screen,
human headers, names instead of codes, "—" for empty cells, below reads as below, short citations."""

import math

import pandas as pd
import pytest

from decision_tools import labels
from decision_tools.formatting import (
    EMPTY_CELL,
    difference_direction,
    display_table,
    format_difference,
    format_significant,
    human_header,
    mass_unit,
)


@pytest.mark.parametrize("value, text", [
    (33024.057, "33,000"),      # 3.3024e4 -> three digits: 330 hundreds
    (0.0012345, "0.00123"),
    (2.5, "2.50"),
    (9.996, "10.0"),            # rounds up to a new decade: still three digits
    (-512.34, "-512"),
    (0, "0"),
    (123456789, "123,000,000"),
    (float("nan"), EMPTY_CELL),
    (None, EMPTY_CELL),
])
def test_format_significant(value, text):
    assert format_significant(value) == text


def test_one_mass_unit_per_column_from_its_largest_value():
    assert mass_unit([33024.057, 512.0, None]) == ("t", 1000.0)
    assert mass_unit([0.5, 0.02]) == ("g", 0.001)
    assert mass_unit([float("nan")]) == ("kg", 1.0)
    assert mass_unit([-2_500_000.0]) == ("kt", 1e6)


def test_human_headers():
    assert human_header("largest_supplier") == "Largest supplier"
    assert human_header("hhi_listed") == "HHI listed"
    assert human_header("governance_weighted_hhi") == "Governance weighted HHI"


def test_display_table_masses_shares_names_and_empty_cells():
    raw = pd.DataFrame({
        "country_iso3": ["CHN", "COD", "ROW"],
        "kg": [33024.057, 512.3, 1.2],          # largest 33 t: the column is in t
        "share": [0.9512, 0.0475, 0.00134],
        "hhi_published": [0.41, None, float("nan")],
        "note": ["a", None, ""],
        "binding": [True, False, True],
        "rows": [1200, 3, 0],
    })
    shown = display_table(raw, names={"country_iso3": {"CHN": "China", "COD": "DR Congo", "ROW": "rest of world"}})
    assert list(shown.columns) == ["Country", "Mass (t)", "Share (%)", "HHI published", "Note", "Binding", "Rows"]
    assert list(shown["Country"]) == ["China", "DR Congo", "rest of world"]
    assert list(shown["Mass (t)"]) == ["33.0", "0.512", "0.00120"]
    assert list(shown["Share (%)"]) == ["95.1", "4.8", "0.1"]
    assert list(shown["HHI published"]) == ["0.410", EMPTY_CELL, EMPTY_CELL]
    assert list(shown["Note"]) == ["a", EMPTY_CELL, EMPTY_CELL]
    assert list(shown["Binding"]) == ["yes", "no", "yes"]
    assert list(shown["Rows"]) == ["1,200", "3", "0"]
    assert not shown.isin(["None", "nan", "NaN"]).any().any()


def test_display_table_with_chosen_columns_headers_and_unit_slot():
    raw = pd.DataFrame({"district": ["Centrum", "Noord"], "eol_kg": [1500.0, 250.0], "population": [1000, 2000],
                        "secret": ["x", "y"]})
    shown = display_table(raw, {"district": "District", "eol_kg": "End of life ({unit} per year)",
                                "population": ("Population", "integer")})
    assert list(shown.columns) == ["District", "End of life (t per year)", "Population"]
    assert list(shown["End of life (t per year)"]) == ["1.50", "0.250"]
    assert list(shown["Population"]) == ["1,000", "2,000"]


@pytest.mark.parametrize("value, reference, kind, name, text, arrow", [
    (0.142, 0.25, "share", "the EU benchmark", "10.8 points below the EU benchmark", "down"),
    (0.358, 0.25, "share", "the EU benchmark", "10.8 points above the EU benchmark", "up"),
    (0.26, 0.25, "share", "the target", "1.0 point above the target", "up"),
    (0.25, 0.25, "share", "the baseline", "equal to the baseline", "off"),
    (0.2500001, 0.25, "share", "the baseline", "equal to the baseline", "off"),  # equal as shown
    (1000.0, 3500.0, "mass", "the baseline", "2.50 t below the baseline", "down"),
    (0.62, 0.5, "index", "the baseline", "0.120 above the baseline", "up"),
    (float("nan"), 0.5, "share", "the baseline", "no comparison with the baseline", "off"),
])
def test_differences_read_below_as_below(value, reference, kind, name, text, arrow):
    assert format_difference(value, reference, kind, name) == text
    assert difference_direction(value, reference, kind) == arrow


def test_material_labels_name_and_group():
    table = pd.DataFrame({"symbol": ["Co", "Nd"], "name": ["Cobalt", "Neodymium"],
                          "material_group": ["battery metals", "light rare earths"]})
    assert labels.material_labels(table) == {"Co": "Cobalt (Co) — battery metals", "Nd": "Neodymium (Nd) — light rare earths"}
    # no group column: the declared mapping; an unknown symbol gets no group
    bare = pd.DataFrame({"symbol": ["Pt", "Xx"], "name": ["Platinum", "Xx"]})
    assert labels.material_labels(bare) == {"Pt": "Platinum (Pt) — platinum group metals", "Xx": "Xx"}


def test_country_and_id_names():
    countries = pd.DataFrame({"country_iso3": ["CHN"], "name": ["China"]})
    assert labels.country_names(countries) == {"CHN": "China", "ROW": labels.REST_OF_WORLD_NAME}
    assert labels.country_names(countries.set_index("country_iso3"))["CHN"] == "China"
    levers = pd.DataFrame({"lever_id": ["weee_collection"], "name": ["WEEE collection campaign"]})
    assert labels.id_names(levers, "lever_id") == {"weee_collection": "WEEE collection campaign"}


def test_short_citations():
    sources = pd.DataFrame({"source_id": ["EC_CRM_2023", "JRC_X", "EUROSTAT_A", "EUROSTAT_B", "NOYEAR"],
                            "publisher": ["European Commission (DG GROW)", "European Commission JRC", "Eurostat", "Eurostat",
                                          "press coverage"],
                            "year": [2023, 2020.0, 2023, 2023, math.nan]})
    assert labels.short_citation("European Commission (DG GROW)", 2023) == "European Commission 2023"
    assert labels.short_citations("JRC_X; EUROSTAT_A;EUROSTAT_B", sources) == "European Commission JRC 2020; Eurostat 2023"
    assert labels.short_citations("NOYEAR;UNKNOWN_ID", sources) == "press coverage; UNKNOWN_ID"
    assert labels.short_citations("", sources) == ""
    # a card names a few and counts the rest; an exact fit is not cut
    assert labels.short_citations("JRC_X;NOYEAR;UNKNOWN_ID", sources, limit=1) == "European Commission JRC 2020 and 2 more"
    assert labels.short_citations("JRC_X;NOYEAR", sources, limit=2) == "European Commission JRC 2020; press coverage"
    # the pages look citations up in an index built once per version: the same text
    index = labels.citation_index(sources)
    assert index["EC_CRM_2023"] == "European Commission 2023" and index["NOYEAR"] == "press coverage"
    for ids in ("JRC_X; EUROSTAT_A;EUROSTAT_B", "NOYEAR;UNKNOWN_ID", "", "JRC_X;NOYEAR;UNKNOWN_ID"):
        assert labels.short_citations(ids, index, limit=1) == labels.short_citations(ids, sources, limit=1)


def test_fill_empty_keeps_values_as_read_and_marks_empty_cells():
    from decision_tools.formatting import fill_empty

    raw = pd.DataFrame({"units": [1.2, 12500.0], "note": ["survey", None], "share": [0.45, float("nan")], "year": [2019, 2020]})
    shown = fill_empty(raw)
    assert list(shown["note"]) == ["survey", EMPTY_CELL]
    assert list(shown["share"]) == ["0.45", EMPTY_CELL]  # written in full, not rounded
    assert shown["units"].tolist() == [1.2, 12500.0] and shown["year"].tolist() == [2019, 2020]  # complete: unchanged
    assert raw["note"].isna().tolist() == [False, True]  # the original is not modified
