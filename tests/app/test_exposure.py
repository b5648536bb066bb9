"""Supply chain exposure page: renders, shows published and recomputed supply risk, restores the
disruption from the URL, breaks a gallium shortfall down by product, and counts a disruption at every
stage (mining and refining), naming the stage that binds."""

import pytest

from tests.app.conftest import open_page as open_app_page


def open_page(app, user=None, **params):
    return open_app_page(app, "pages/exposure.py", user, **params)


# Tables are shown as people read them (issue 16): headers with units, one mass unit per column, 3 significant
# digits. These helpers read the numbers back in kg from the shown text.
_UNIT_KG = {"kt": 1e6, "t": 1e3, "kg": 1.0, "g": 1e-3, "mg": 1e-6}


def _kg(frame, prefix):
    """The column whose header starts with ``prefix`` and names a mass unit, in kg."""
    import re

    column = next(c for c in frame.columns if c.startswith(prefix + " (") and re.search(r"\((k?t|kg|m?g)\b", c))
    unit = re.search(r"\((k?t|kg|m?g)\b", column).group(1)
    return frame[column].map(lambda text: float(text.replace(",", "")) * _UNIT_KG[unit])


def _shortfall_by_product(at):
    return next(df.value for df in at.dataframe if "Product" in df.value.columns
                and any(c.startswith("Shortfall (") for c in df.value.columns))


def test_renders_with_every_chart(app):
    at = open_page(app, city="Ghent", year="2030", material="Co")
    assert not at.exception
    assert at.title[0].value == "Supply chain exposure · Ghent · 2030"
    assert len(at.get("deck_gl_json_chart")) == 1
    assert len(at.get("vega_lite_chart")) >= 3  # criticality, suppliers, SR curve, shortfall
    labels = {m.label: m.value for m in at.metric}
    assert labels["Supply risk, published (EU 2023)"] == "2.80"
    assert "Supply risk, recomputed here" in labels
    assert any("Why they differ" in m.value for m in at.markdown)


def test_half_of_chinese_gallium_gives_a_shortfall_by_product(app, small_db):
    at = open_page(app, city="Ghent", year="2030", material="Ga", preset="Custom", cut="0.5", duration="1")
    assert not at.exception
    shortfall = _shortfall_by_product(at)
    assert set(shortfall["Product"]) == {"Smartphone", "LED lamp"}
    assert (_kg(shortfall, "Shortfall") > 0).all()
    assert any("by-product" in w.value for w in at.warning)


def test_a_preset_from_the_export_control_timeline(app):
    at = app(city="Ghent", year="2030", material="Nd").run()
    at.switch_page("pages/exposure.py").run()
    preset = next(o for o in at.selectbox(key="preset").options if "rare earth administration" in o)
    at2 = open_page(app, city="Ghent", year="2030", material="Nd", preset=preset)
    assert not at2.exception
    assert any("Materials:" in m.value and "Nd" in m.value for m in at2.markdown)
    assert any(m.label.startswith("Shortfall over 2 year(s)") for m in at2.metric)


def _stage_table(at):
    table = next(df.value for df in at.dataframe if "Binding stage" in df.value.columns)
    return table.assign(stage=table["Stage"], binding=table["Binding stage"] == "yes", shortfall_kg=_kg(table, "Shortfall"))


def test_half_of_chinese_cobalt_binds_at_refining(app):
    # China mines almost no cobalt but refines most of it: the cut must bite at processing, not give 0 kg
    at = open_page(app, city="Ghent", year="2030", material="Co", preset="Custom", cut="0.5", duration="1")
    assert not at.exception
    stages = _stage_table(at).set_index("stage")
    refining = stages.loc["refining (processing)"]
    assert refining["binding"] and refining["shortfall_kg"] > 0
    assert refining["shortfall_kg"] > stages.loc["mining (extraction)", "shortfall_kg"]
    assert any("refining \\(processing\\) binds" in m.value for m in at.markdown)
    assert not any("supplies none" in m.value or "no listed share" in m.value for m in at.markdown)
    shortfall = _shortfall_by_product(at)
    # the material's shortfall: its binding stage (both shown to 3 significant digits)
    assert _kg(shortfall, "Shortfall").sum() == pytest.approx(refining["shortfall_kg"], rel=0.01)


def _cut_by(app, material, country):
    at = open_page(app, city="Ghent", year="2030", material=material, preset="Custom", cut="0.5", duration="1")
    at.selectbox(key="disrupt_country").set_value(country).run()
    assert not at.exception
    return at


def test_myanmar_cut_of_dysprosium_binds_at_mining(app):
    at = _cut_by(app, "Dy", "MMR")
    stages = _stage_table(at).set_index("stage")
    assert stages.at["mining (extraction)", "binding"] and stages.at["mining (extraction)", "shortfall_kg"] > 0
    total = next(m for m in at.metric if m.label.startswith("Shortfall over"))
    assert total.value != "0 kg"


def test_south_african_cut_of_palladium_gives_a_shortfall(app):
    at = _cut_by(app, "Pd", "ZAF")
    stages = _stage_table(at).set_index("stage")
    assert (stages["shortfall_kg"] > 0).all()  # South Africa mines and refines palladium
    assert stages["binding"].sum() == 1


def test_a_country_with_no_share_says_so(app):
    at = _cut_by(app, "Co", "MMR")
    assert any("no listed share of Co at any stage" in m.value for m in at.markdown)


def test_exposure_split_at_the_refining_stage(app):
    at = open_page(app, city="Ghent", year="2030", material="Co")
    at.selectbox(key="exposure_stage").set_value("processing").run()
    assert not at.exception
    assert any("refining (processing) for Co" in c.value for c in at.caption)
    by_country = next(df.value for df in at.dataframe if {"Country", "Share of the demand (%)"} <= set(df.value.columns))
    assert "China" in set(by_country["Country"])  # China hardly mines cobalt, but refines it


# Reading the numbers (issue 16): country names, not ISO codes; no "None" cell; short citations.

def test_tables_name_countries_and_show_no_empty_none(app):
    import re

    at = open_page(app, city="Ghent", year="2030", material="Co", preset="Custom", cut="0.5", duration="1")
    assert not at.exception
    frames = [df.value for df in at.dataframe]
    shown = {str(v) for frame in frames for column in frame.columns for v in frame[column]}
    assert not shown & {"None", "nan", "NaN", "<NA>"}  # the unknown published HHI of refining reads "—"
    assert "—" in shown
    assert not shown & {"CHN", "COD", "ROW", "ZAF", "IDN"}  # ISO codes never reach a cell
    concentration = next(f for f in frames if "Largest supplier" in f.columns and "HHI published" in f.columns)
    assert not any(re.fullmatch(r"[A-Z]{3}", name) for name in concentration["Largest supplier"])
    assert set(concentration["Stage"]) == {"mining (extraction)", "refining (processing)"}
    by_country = next(f for f in frames if "Country" in f.columns)
    assert not any(re.fullmatch(r"[A-Z]{3}", name) for name in by_country["Country"])
    assert "DR Congo" in set(by_country["Country"])  # cobalt is mined mostly in the DR Congo
    assert any(c.endswith("per year)") and c.startswith("Demand (") for c in by_country.columns)
    shares = by_country["Share of the demand (%)"].map(float)
    assert shares.sum() == pytest.approx(100, abs=0.5)  # percent on screen, 1 decimal
    captions = " ".join(c.value for c in at.caption)
    assert "European Commission 2023" in captions and "EC\\_CRM\\_2023" not in captions
    assert "[full list](methods#sources)" in captions
