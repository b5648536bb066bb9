"""The Policy page's "Rules that apply" section (decision_tools.rules): regimes and targets per product, who
acts on each lever and what backs it, each table with its download; the page's URL state still restores."""

from tests.app.conftest import open_page as open_app_page


def open_page(app, **params):
    return open_app_page(app, "pages/policy.py", None, **params)


def frames(at):
    return [d.value for d in at.dataframe]


def test_rules_section_shows_regime_and_targets_for_a_battery_product(app):
    at = open_page(app, city="Ghent", year="2030", material="Co")
    assert not at.exception
    assert "Rules that apply" in [h.value for h in at.subheader]
    summary = next(f for f in frames(at) if "Regime" in f.columns and "EV traction battery (60 kWh)" in set(f["Product"]))
    battery = summary.set_index("Product").loc["EV traction battery (60 kWh)"]
    assert battery["Regime"] == "Batteries Regulation; ELV"
    # 2030: the 2027 steps are in force (from 2028), the 2031 ones come next (from 2032)
    assert "lithium recovered from waste batteries 50 % (since 2028)" in battery["Targets in force in 2030"]
    assert "lithium recovered from waste batteries 80 % from 2032" in battery["Next targets"]
    assert "art. 77(1): in force since 18 February 2027" in battery["Other obligations"]
    phones = next(f for f in frames(at) if "Regime" in f.columns and "Smartphone" in set(f["Product"]))
    assert phones.set_index("Product").loc["Smartphone", "Regime"] == "WEEE (cat. 6); Batteries Regulation"
    detail = next(f for f in frames(at) if "In force in 2030 (%)" in f.columns)
    li = detail[(detail["Product"] == "EV traction battery (60 kWh)") & detail["Target"].str.startswith("lithium recovered")]
    assert list(li["In force in 2030 (%)"]) == ["50.0"] and list(li["Next (%)"]) == ["80.0"]
    backing = next(f for f in frames(at) if "Who can move it" in f.columns).set_index("Lever")
    assert backing.loc["Checks on end-of-life vehicle exports", "Who can move it"] == "national"
    assert "Waste Shipment Regulation (EU) 2024/1157" in backing.loc["Checks on end-of-life vehicle exports", "Legal basis"]
    assert backing.loc["Wind turbine decommissioning plans", "Backed by"] == "voluntary"
    keys = {b.key for b in at.get("download_button")}
    assert {"dl_rules_csv", "dl_rules_targets_csv", "dl_lever_backing_csv"} <= keys
    assert summary.set_index("Product").at["Smartphone", "Product group"] == "ICT and consumer electronics"
    assert "Acting level: city" in at.slider(key="weee_collection").help
    assert "WEEE Directive 2012/19/EU" in at.slider(key="weee_collection").help


def test_url_state_still_restores_with_the_rules_section(app):
    at = open_page(app, city="Ghent", year="2035", material="Co", weee_collection="0.3", objective="Secondary supply")
    assert not at.exception
    assert at.slider(key="weee_collection").value == 0.3
    assert at.selectbox(key="objective").value == "Secondary supply"
    assert any("In force in 2035 (%)" in f.columns for f in frames(at))  # the section follows the year in the link
