"""Circularity indicators: how circular is the city's use of a material (or of all CRMs), with
uncertainty ranges from a Monte Carlo of every input's confidence; where it is lost; by product,
by district, and against the other cities."""

import time

import pandas as pd
import streamlit as st

import ui
from decision_tools import charts, uncertainty
from decision_tools.formatting import escape_markdown, format_mass, format_share
from decision_tools.indicators import (INDICATORS, circular_material_use_rate, collection_rate, eol_recycling_rate,
                                      mass_weighted_mean, secondary_supply_share)

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
materials_table = ui.reference_table(version, "materials")
material_name = materials_table.set_index("symbol").at[sel.material, "name"]
critical = tuple(materials_table.loc[materials_table["critical_2023"].astype(bool), "symbol"])

all_crms = st.toggle("All critical raw materials together (by mass)", key="all_crms", bind="query-params",
                     help="Off: the material picked in the sidebar. On: every material on the EU's 2023 critical list, summed in kg.")
materials = critical if all_crms else (sel.material,)
scope = "all critical raw materials" if all_crms else f"{material_name} ({sel.material})"
st.title(f"Circularity indicators · {escape_markdown(sel.city)} · {sel.year}")
st.caption(f"For {scope}. Ranges are the 5-95 % interval of {uncertainty.DEFAULT_SAMPLES:,} Monte Carlo draws of every "
           "input within the spread of its confidence label; the big number is the median.")

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

samples = uncertainty.indicator_samples(sim, sel.year)
provenance = ui.metric_table(version, sel.city, list(materials), sel.year, ()).set_index("metric")
stage_of = {"collection_rate": "routing", "hibernation_share": "routing", "urban_mine_per_inhabitant": "stock",
            "recycled_content": "stock"}
source_metric = {"routing": "separately_collected", "stock": "in_use_stock", "recovery": "secondary_supply"}


def shown(unit: str, value: float) -> str:
    if unit == "share":
        return format_share(value)
    if unit == "share_points":
        return f"{value * 100:+.1f} points"
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
        band = uncertainty.summarise(samples[key])
        stage = stage_of.get(key, "recovery")
        confidence = "medium" if key == "recycled_content" else sim.confidence[stage]
        sources = "EC_CRM_2023" if key == "recycled_content" else provenance.at[source_metric[stage], "source_ids"]
        with column:
            if pd.isna(band["median"]):
                st.metric(indicator.label, "n/a", help=f"{indicator.definition}. Undefined: nothing reaches this step yet.")
                st.caption(indicator.explanation)
                continue
            st.metric(indicator.label, shown(indicator.unit, band["median"]), help=f"{indicator.definition} ({indicator.source})")
            st.caption(f"**5-95 %: {shown(indicator.unit, band['p05'])} to {shown(indicator.unit, band['p95'])}** · "
                       f"confidence **{confidence}**{' · downscaled' if downscaled and key != 'recycled_content' else ''}  \n"
                       f"{indicator.explanation}")
            card_sources.add(sources)
st.caption("Sources of these indicators: " + ", ".join(sorted({s for group in card_sources for s in group.split(";")}))
           + (". Downscaled: ownership is an EU average scaled to the city." if downscaled else ".")
           + " Full citations on the Methods and sources page.")

st.subheader("Where the material goes")
chain = ui.chain(version, sel.city, sel.year, list(materials))
ui.plotly(charts.sankey_figure(chain, f"{scope} in {sel.city}, {sel.year} (kg per year)"), "sankey")

st.subheader("Over time, with uncertainty")
bands = uncertainty.quantity_bands(sim)
left, right = st.columns(2)
with left:
    ui.altair(charts.band_chart(bands, ("in_use_stock", "hibernating_stock"), "Stocks", sel.year, per_year=False), "stock_bands")
with right:
    ui.altair(charts.band_chart(bands, ("new_products", "end_of_life", "secondary_supply"), "Yearly flows", sel.year,
                                      per_year=True), "flow_bands")
ui.download_button(bands, f"bands_{sel.city}_{'all_crms' if all_crms else sel.material}", "dl_bands")

rate_labels = {INDICATORS[k].label: k for k in ("eol_recycling_rate", "collection_rate", "recovery_efficiency",
                                                "secondary_supply_share", "circular_material_use_rate")}
rate_label = st.selectbox("Rate to follow over time", list(rate_labels), key="rate", bind="query-params")
rate_key = rate_labels[rate_label]
rate_bands = uncertainty.indicator_bands(sim, (rate_key,))
targets = ui.reference_table(version, "targets")
applies = targets["materials"].map(lambda m: m == "all" or (not all_crms and sel.material in m.split(";")))
relevant = targets[(targets["indicator"] == rate_key) & applies]
ui.altair(charts.rate_chart(rate_bands, INDICATORS[rate_key].label, relevant, sel.year), "rate_chart")
if not relevant.empty:
    st.caption("EU targets: " + "; ".join(
        f"{r.description} ({r.instrument}, {r.year}, {r.confidence}){': ' + r.note if pd.notna(r.note) and r.note else ''}"
        for r in relevant.itertuples()))

st.subheader("Material Circularity Indicator by product")
year_index = int(list(sim.years).index(sel.year))
pair_values = uncertainty.pair_mci(sim, year_index)
new_mass = sim.by_pair["new_products"][:, year_index, :]
products = ui.reference_table(version, "products").set_index("product")["name"]
rows = []
for product in sorted({p for p, _ in sim.pairs}):
    columns = [i for i, (p, _) in enumerate(sim.pairs) if p == product]
    per_sample = mass_weighted_mean(pair_values[:, columns], new_mass[:, columns], axis=1)
    band = uncertainty.summarise(per_sample)
    if not pd.isna(band["median"]):
        rows.append({"name": products[product], "median": band["median"], "p05": band["p05"], "p95": band["p95"]})
mci_table = pd.DataFrame(rows, columns=["name", "median", "p05", "p95"]).round(3)
if mci_table.empty:
    st.write("No product has reached end of life yet, so the MCI is not defined.")
else:
    ui.altair(charts.mci_chart(mci_table), "mci_chart")
    st.dataframe(mci_table.rename(columns={"name": "product", "p05": "5 %", "p95": "95 %"}), hide_index=True, width="stretch")
    ui.download_button(mci_table, f"mci_{sel.city}_{sel.year}", "dl_mci")
    st.caption("Recycled feedstock = the EU end-of-life recycling input rate of each material; collection and recovery from the "
               "city model; average lifetime and intensity of use. Mass-weighted by material in new products.")

st.subheader("By district")
districts = ui.reference_table(version, "districts")
city_row = ui.reference_table(version, "cities").set_index("city").loc[sel.city]
by_district = ui.metric_table(version, sel.city, list(materials), sel.year, ("district",))
pivot = by_district.pivot_table(index="district", columns="metric", values="kg", dropna=False).fillna(0.0)
if (districts["city"] == sel.city).any():
    places = districts[districts["city"] == sel.city].rename(columns={"district": "name"}).set_index("name")
    note = "District populations and centroids are approximate (low confidence); the model splits the city by population share."
else:
    places = pd.DataFrame({"lat": [city_row["lat"]], "lon": [city_row["lon"]], "population": [city_row["population"]]},
                          index=pd.Index([sel.city], name="name"))
    pivot.index = [sel.city]
    note = f"No district data for {escape_markdown(sel.city)} yet: the city is shown as one point. A researcher can upload districts."
places = places.assign(stock_kg=pivot["in_use_stock"] + pivot["hibernating_stock"], eol_kg=pivot["end_of_life"]).reset_index()
st.pydeck_chart(charts.district_map(places, (float(city_row["lat"]), float(city_row["lon"]))), height=430, key="district_map")
st.caption("Circle area: urban-mine stock (in use + hibernating). Colour: end of life per inhabitant, from blue (low) to red (high). "
           + note)
district_table = places[["name", "population", "stock_kg", "eol_kg"]].rename(columns={
    "name": "district", "stock_kg": "urban-mine stock (kg)", "eol_kg": "end of life (kg per year)"}).round(3)
st.dataframe(district_table, hide_index=True, width="stretch", column_config=ui.kg_columns(district_table))
ui.download_button(district_table, f"districts_{sel.city}_{sel.year}", "dl_districts")
hotspot = places.assign(per_inhabitant=places["eol_kg"] / places["population"]).sort_values("per_inhabitant").iloc[-1]["name"]
ui.challenge_link(f"Recover {material_name.lower()} from end-of-life products in {hotspot}", sel.material,
                  f"Turn the hotspot {escape_markdown(hotspot)} into a challenge")

st.subheader("How the cities compare")
all_cities = ui.metric_table(version, None, list(materials), sel.year, ("city",)).pivot_table(index="city", columns="metric", values="kg")
population = ui.reference_table(version, "cities").set_index("city")["population"]
grams_per_inhabitant = 1000 / population
comparison = pd.DataFrame({
    "urban mine (g per inhabitant)": (all_cities["in_use_stock"] + all_cities["hibernating_stock"]) * grams_per_inhabitant,
    "end of life (g per inhabitant per year)": all_cities["end_of_life"] * grams_per_inhabitant,
    "secondary supply (g per inhabitant per year)": all_cities["secondary_supply"] * grams_per_inhabitant,
    "collection rate": collection_rate(all_cities["separately_collected"], all_cities["end_of_life"]),
    "end-of-life recycling rate": eol_recycling_rate(all_cities["secondary_supply"], all_cities["end_of_life"]),
    "secondary-supply share": secondary_supply_share(all_cities["secondary_supply"], all_cities["new_products"]),
    "circular material use rate": circular_material_use_rate(all_cities["secondary_supply"], all_cities["new_products"]),
}).reset_index()
compare_column = "urban mine (g per inhabitant)"
ui.altair(charts.comparison_chart(comparison.assign(highlight=comparison["city"] == sel.city), compare_column,
                                        f"{scope}: {compare_column}"), "compare_chart")
share_columns = ["collection rate", "end-of-life recycling rate", "secondary-supply share", "circular material use rate"]
st.dataframe(comparison.round(4), hide_index=True, width="stretch", column_config={
    **{c: st.column_config.NumberColumn(format="percent") for c in share_columns},
    **{c: st.column_config.NumberColumn(format="localized") for c in comparison.columns if "(g per" in c}})
st.caption("Central model values (no uncertainty draws), so all cities are computed alike. Ownership is the same EU average in "
           "every city, so per-inhabitant differences come from household sizes and the per-city count of wind turbines, "
           "not from measured behaviour.")
ui.download_button(comparison, f"city_comparison_{sel.year}", "dl_compare")
