"""Supply chain exposure page: renders, shows published and recomputed supply risk, restores the
disruption from the URL, and breaks a gallium shortfall down by product."""

from tests.app.conftest import open_page as open_app_page


def open_page(app, user=None, **params):
    return open_app_page(app, "pages/exposure.py", user, **params)


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
    shortfall = next(df.value for df in at.dataframe if "shortfall_kg" in df.value.columns and "product" in df.value.columns)
    assert set(shortfall["product"]) == {"Smartphone", "LED lamp"}
    assert (shortfall["shortfall_kg"] > 0).all()
    assert any("by-product" in w.value for w in at.warning)


def test_a_preset_from_the_export_control_timeline(app):
    at = app(city="Ghent", year="2030", material="Nd").run()
    at.switch_page("pages/exposure.py").run()
    preset = next(o for o in at.selectbox(key="preset").options if "rare earth administration" in o)
    at2 = open_page(app, city="Ghent", year="2030", material="Nd", preset=preset)
    assert not at2.exception
    assert any("Materials:" in m.value and "Nd" in m.value for m in at2.markdown)
    assert any(m.label.startswith("Shortfall over 2 year(s)") for m in at2.metric)
