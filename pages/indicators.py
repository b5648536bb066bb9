"""Circularity indicators: how circular is the city's use of a material (or of all CRMs), with
uncertainty ranges from a Monte Carlo of every input's confidence; where it is lost; by product,
by district, and against the other cities."""

import time

import pandas as pd
import streamlit as st

import ui
from decision_tools import bar_charts, maps, time_charts, uncertainty
from decision_tools import targets as target_rules
from decision_tools.formatting import escape_markdown, format_mass, format_share
from decision_tools.hotspots import district_places, districts_share_inputs, hotspot_district, relative_half_width
from decision_tools.indicators import INDICATORS, WEIGHTINGS, card_provenance, city_comparison, critical_materials
from decision_tools.labels import short_indicator_label
from decision_tools.results import metrics_wide

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
materials_table = ui.reference_table(version, "materials")
material_name = materials_table.set_index("symbol").at[sel.material, "name"]
critical = critical_materials(materials_table)

all_crms, weighting = ui.aggregate_controls("every material on that list together; rates weigh the materials as "
                                             "chosen below, masses are summed in kg.")
materials = critical if all_crms else (sel.material,)
weighting_label = WEIGHTINGS[weighting][0]
scope = f"all critical raw materials, rates weighted {weighting_label}" if all_crms else f"{material_name} ({sel.material})"
st.title(f"Circularity indicators · {escape_markdown(sel.city)} · {sel.year}")
ui.how_to_read("indicators")
st.caption(f"For {scope}. The big number is the central model run (the same number as on the Overview and Policy "
           f"pages); beside it, the 5-95 % range of {uncertainty.DEFAULT_SAMPLES:,} Monte Carlo draws of every input within "
           "the spread of its confidence label.")

with st.status(f"Propagating uncertainty: {uncertainty.DEFAULT_SAMPLES:,} draws for {escape_markdown(sel.city)}…", expanded=False) as status:
    started = time.perf_counter()
    try:
        sim = ui.simulation(version, sel.city, materials)
    except ValueError:
        sim = None
    status.update(label=f"Uncertainty: {uncertainty.DEFAULT_SAMPLES:,} draws ready in {time.perf_counter() - started:.2f} s "
                        f"(seed {uncertainty.DEFAULT_SEED})", state="complete")
if sim is None:
    st.info(f"No product in the city model contains {scope}; there is nothing to measure yet.")
    st.stop()

weighted_as = weighting if all_crms else "mass"
weights = ui.pair_weights_for(version, sim, weighted_as)
ranges = ui.indicator_ranges(version, sel.city, materials, sel.year, weighted_as)
provenance = ui.metric_table(version, sel.city, list(materials), sel.year, ()).set_index("metric")
# The materials the model found in the city's products: their EU recycling input rates make the recycled content.
scope_materials = materials_table[materials_table["symbol"].isin(sim.materials)]


def shown(unit: str, value: float) -> str:
    if unit == "share":
        return format_share(value)
    if unit == "kg_per_inhabitant":
        return format_mass(value)
    return f"{value:.2f}"


st.subheader("Indicators")
keys = list(INDICATORS)
card_sources: set[str] = set()
downscaled = bool(provenance["downscaled"].any())
for row_start in range(0, len(keys), 5):
    for column, key in zip(st.columns(5), keys[row_start:row_start + 5]):
        indicator = INDICATORS[key]
        band = ranges.cards[key]
        card = card_provenance(key, sim.confidence, provenance["source_ids"], scope_materials, len(sim.materials) > 1,
                               downscaled)
        with column:
            card_label = short_indicator_label(key, indicator.label)
            if pd.isna(band["central"]):
                st.metric(card_label, "n/a", help=f"**{indicator.label}**: {indicator.definition}. Undefined: nothing reaches this step yet.")
                st.caption(indicator.explanation)
                continue
            weighed = "" if not all_crms else " · by mass (kg)" if indicator.unit == "kg_per_inhabitant" else f" · {weighting_label}"
            st.metric(card_label, shown(indicator.unit, band["central"]),
                      help=f"**{indicator.label}**: {indicator.definition} ({indicator.source}).{ui.glossary_help(key)}")
            st.caption(f"**5-95 %: {shown(indicator.unit, band['p05'])} to {shown(indicator.unit, band['p95'])}**{weighed} · "
                       f"confidence **{card.confidence}**{' · downscaled' if card.downscaled else ''}  \n"
                       f"{indicator.explanation}")
            if card.source_ids:
                card_sources.add(card.source_ids)
st.caption("Sources of these indicators: "
           + ui.sources_line(";".join(sorted({s for group in card_sources for s in group.split(";")})), version).removeprefix("Sources: ")
           + (". Downscaled: some ownership figures are national or EU figures scaled to the city (the Overview says which)."
              if downscaled else "."))
st.caption(f"What the ranges leave out: {uncertainty.STRUCTURAL_NOTE}")

st.subheader("Where the material goes")
chain = ui.chain(version, sel.city, sel.year, list(materials))
ui.chain_view(chain, f"{'All critical raw materials, by mass,' if all_crms else scope} in {sel.city}, {sel.year} (kg per year)",
              "sankey", f"chain_{sel.city}_{'all_crms' if all_crms else sel.material}_{sel.year}")
ui.present_recoverable_section(version, sel.city, sel.year, tuple(materials),
                               "all critical raw materials (by mass)" if all_crms else scope, "all_crms" if all_crms else sel.material)

st.subheader("Over time, with uncertainty")
bands = ranges.quantities
left, right = st.columns(2)
with left:
    ui.altair("stock_bands", time_charts.band_chart, bands, ("in_use_stock", "hibernating_stock"),
              f"Stocks{' (by mass)' if all_crms else ''}", sel.year, per_year=False)
with right:
    ui.altair("flow_bands", time_charts.band_chart, bands, ("new_products", "end_of_life", "secondary_supply"),
              f"Yearly flows{' (by mass)' if all_crms else ''}", sel.year, per_year=True)
st.caption("Lines: the central model run; shaded: the 5-95 % range of the Monte Carlo draws."
           + (" Masses of all critical raw materials are summed in kg." if all_crms else ""))
ui.download_button(bands, f"bands_{sel.city}_{'all_crms' if all_crms else sel.material}", "dl_bands")

rate_labels = {INDICATORS[k].label: k for k in ("eol_recycling_rate", "collection_rate", "recovery_efficiency",
                                                "secondary_supply_share", "circular_material_use_rate")}
rate_label = st.selectbox("Rate to follow over time", list(rate_labels), key="rate", bind="query-params")
rate_key = rate_labels[rate_label]
rate_bands = ui.rate_bands(version, sel.city, materials, weighted_as, rate_key)
targets = ui.reference_table(version, "targets")
comparison = target_rules.compare_targets(
    targets, rate_key, materials, sim.pairs, INDICATORS[rate_key].label,
    product_names=ui.reference_table(version, "products").set_index("product")["name"].to_dict(),
    material_names=materials_table.set_index("symbol")["name"].to_dict(), last_year=int(sim.years[-1]))
scoped_bands = target_rules.scoped_rate_bands(sim, rate_key, comparison.scopes, weights)  # weighted as the chart's rate
ui.altair("rate_chart", time_charts.rate_chart, rate_bands, INDICATORS[rate_key].label, comparison.lines, sel.year, scoped_bands)
if not comparison.lines.empty:
    st.caption("EU targets drawn (red):  \n" + "  \n".join(
        f"- {escape_markdown(r.label, 400)}; confidence {r.confidence}. In law: {escape_markdown(r.definition, 400)}"
        for r in comparison.lines.itertuples()))
not_drawn = pd.concat([comparison.not_comparable, target_rules.not_charted(targets, rate_labels.values())], ignore_index=True)
with st.expander(f"EU targets not drawn on this chart ({len(not_drawn)}) and why"):
    st.dataframe(not_drawn.rename(columns={"description": "target", "instrument": "law", "legal_value_share": "value",
                                           "year": "applies from", "reason": "why not drawn"}),
                 hide_index=True, width="stretch", column_config={"value": st.column_config.NumberColumn(format="percent")})
    ui.download_button(not_drawn, f"targets_not_drawn_{rate_key}", "dl_targets_not_drawn")

st.subheader("Material Circularity Indicator by product")
products = ui.reference_table(version, "products").set_index("product")["name"]
mci_table = ranges.mci_by_product.assign(name=lambda t: t["product"].map(products))[["name", "central", "p05", "p95"]]
if mci_table.empty:
    st.write("No product has reached end of life yet, so the MCI is not defined.")
else:
    ui.altair("mci_chart", bar_charts.mci_chart, mci_table)
    ui.table(mci_table, "dl_mci", f"mci_{sel.city}_{sel.year}", {
        "name": "Product", "central": ("MCI, central run", "number"), "p05": ("MCI, 5 %", "number"), "p95": ("MCI, 95 %", "number")})
    weighted_by = ("material in new products" if weights is None
                   else f"material in new products, {weighting_label} (materials within a product)")
    st.caption("Recycled feedstock = the EU end-of-life recycling input rate of each material; collection and recovery from the "
               f"city model; average lifetime and intensity of use. Weighted by {weighted_by}. Bars: the central model run; "
               "lines: the 5-95 % range of the draws.")

st.subheader("By district")
districts = ui.reference_table(version, "districts")
city_row = ui.reference_table(version, "cities").set_index("city").loc[sel.city]
by_district = ui.metric_table(version, sel.city, list(materials), sel.year, ("district",))
city_districts = districts[districts["city"] == sel.city]
places = district_places(city_districts, city_row, metrics_wide(by_district, "district"))
if len(city_districts):
    note = ("District populations and centroids are approximate (low confidence); the model splits the city by population share. "
            "District boundaries are not shipped (no boundary file with a findable source could be bundled for use offline), "
            "so districts are points.")
else:
    note = f"No district data for {escape_markdown(sel.city)} yet: the city is shown as one point. A researcher can upload districts."
st.pydeck_chart(maps.district_map(places, (float(city_row["lat"]), float(city_row["lon"])), sel.city), height=430, key="district_map")
st.caption("Ringed dot: the city centre. Circle area: urban-mine stock (in use + hibernating). "
           "Colour: end of life per inhabitant, from blue (low) to red (high); "
           f"one colour when the districts differ by less than {maps.DISTRICT_COLOUR_MIN_DIFFERENCE:.0%}. "
           + note + " Country outlines: Natural Earth 2018 (1:110m), coarse at city scale.")
district_table = places[["name", "population", "stock_kg", "eol_kg"]].rename(columns={
    "name": "district", "stock_kg": "urban-mine stock (kg)", "eol_kg": "end of life (kg per year)"}).round(3)
ui.table(district_table, "dl_districts", f"districts_{sel.city}_{sel.year}", {
    "district": "District", "population": ("Population", "integer"), "urban-mine stock (kg)": "Urban-mine stock ({unit})",
    "end of life (kg per year)": "End of life ({unit} per year)"})
# A hotspot only where a district's end of life per inhabitant stands out by more than its uncertainty.
eol_band = bands[(bands["metric"] == "end_of_life") & (bands["year"] == sel.year)]
hotspot = hotspot_district(
    places, "eol_kg", shared_inputs=districts_share_inputs(ui.reference_table(version, "cities"), districts, sel.city),
    band_relative_half_width=None if eol_band.empty else relative_half_width(*eol_band.iloc[0][["p05", "p95", "median"]]))
if hotspot.district is not None:
    ui.challenge_link(f"Recover {material_name.lower()} from end-of-life products in {hotspot.district}", sel.material,
                      f"Turn the hotspot {escape_markdown(hotspot.district)} into a challenge")
st.caption(escape_markdown(hotspot.reason, 400))

st.subheader("How the cities compare")
comparison = city_comparison(
    ui.metric_table(version, None, list(materials), sel.year, ("city",)), ui.reference_table(version, "cities").set_index("city")["population"],
    None if weights is None else ui.metric_table_by_material(version, None, tuple(materials), sel.year, ("city",)),
    None if weights is None else ui.material_weights(version, weighting))
compare_column = "urban mine (g per inhabitant)"
ui.altair("compare_chart", bar_charts.comparison_chart, comparison.assign(highlight=comparison["city"] == sel.city), compare_column,
          f"{'All critical raw materials (by mass)' if all_crms else scope}: {compare_column}")
share_columns = ["collection rate", "end-of-life recycling rate", "secondary-supply share", "circular material use rate"]
ui.table(comparison, "dl_compare", f"city_comparison_{sel.year}", {
    "city": "City", **{c: (c[:1].upper() + c[1:], "number") for c in comparison.columns if "(g per" in c},
    **{c: (f"{c[:1].upper() + c[1:]} (%)", "share") for c in share_columns}})
st.caption(("" if not all_crms else f"Masses per inhabitant are summed in kg (by mass); the four rates weigh the materials "
            f"{weighting_label}. ")
           + "Central model values (no uncertainty draws), so all cities are computed alike. Cities differ where their "
           "published figures differ: national car, electric-car and PV fleets, household sizes, the wind turbines counted "
           "in each city and national survey figures on old phones. Cities of one country share its national figures, and "
           "smartphones, laptops, drives and LED lamps use EU assumptions everywhere (data/README.md says which figure "
           "each city rests on).")

