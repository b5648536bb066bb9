"""Indicators page, "Present versus recoverable" (issue 17 item 5): the stages in kg with the percent of what is
present in waste, the convention and its sources, and the downloads."""

from decision_tools import present_recoverable as pr
from decision_tools import storage
from decision_tools.formatting import display_table
from tests.app.conftest import open_page


def test_the_section_shows_the_stages_in_kg_with_percent_and_downloads(app, small_db):
    at = open_page(app, "pages/indicators.py", city="Ghent", year="2030", material="Co")
    assert not at.exception
    assert "Present versus recoverable" in [s.value for s in at.subheader]

    with storage.Store.open(small_db) as store:
        expected = pr.read(store, 1, "Ghent", 2030, ["Co"])
    shown = next(d.value for d in at.dataframe if "Stage" in d.value.columns)
    assert list(shown["Stage"]) == [s.label for s in pr.STAGES]
    assert (shown["Material"] == "Cobalt").all()
    # The kg numbers are the model's, written as the table helper writes masses (one unit for the column).
    mass_header = next(c for c in shown.columns if c.startswith("Mass ("))
    written = display_table(expected, {"kg": "Mass ({unit})"})
    assert mass_header == written.columns[0] and list(shown[mass_header]) == list(written.iloc[:, 0])
    assert shown["Share of present in waste (%)"].iloc[0] == "100.0"
    assert shown["Share of present in waste (%)"].iloc[-1] == "—"  # the drawers: a stock, no share

    keys = {b.key for b in at.get("download_button")}
    assert {"dl_present_csv", "dl_present_xlsx", "dl_present_products_csv", "dl_present_products_xlsx"} <= keys
    captions = " ".join(c.value for c in at.caption)
    assert "**present in waste**" in captions and "**compliant**" in captions and "**non-compliant**" in captions
    assert "Not modelled: mixed metal scrap" in captions and "ProSUM" in captions
    assert "Sources:" in captions
    # The bars: one chart draws the stages with the percent of what is present written beside them.
    charts = [str(c.proto) for c in at.get("vega_lite_chart")]
    assert any("Present in waste (end of life generated)" in c and "% of present" in c for c in charts)
