"""Overview: the city's picture for one material and year: headline numbers with their provenance, what
to do first (the largest losses and the levers that avoid most of them per euro), the chain as a Sankey
(a list of steps on a phone), where the material is lost, and stocks and flows over time."""

import pandas as pd
import streamlit as st

import city_views
import ui
from decision_tools import priorities, time_charts
from decision_tools.formatting import escape_markdown, format_mass, format_share
from decision_tools.provenance import weakest
from decision_tools.results import metrics_wide
from decision_tools.system import METRICS, PROCESS_LABELS
from decision_tools.validation import measured_beside_model

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
material = ui.reference_table(version, "materials").set_index("symbol").loc[sel.material]
city = ui.reference_table(version, "cities").set_index("city").loc[sel.city]
product_names = dict(ui.reference_table(version, "products")[["product", "name"]].itertuples(index=False))

st.title(f"{escape_markdown(sel.city)} · {material['name']} ({sel.material}) · {sel.year}")
ui.how_to_read("overview")
briefing_row = st.container(horizontal=True, gap="small")  # the briefing's two formats side by side
briefing_row.download_button("City briefing (printable HTML)", lambda: ui.briefing(version, sel.city, sel.year, sel.material),
                             file_name=f"briefing_{sel.city}_{sel.material}_{sel.year}_v{version}.html", mime="text/html",
                             icon=":material/description:", on_click="ignore", key="briefing")
briefing_row.download_button("City briefing (PDF)", lambda: ui.briefing_pdf(version, sel.city, sel.year, sel.material),
                             file_name=f"briefing_{sel.city}_{sel.material}_{sel.year}_v{version}.pdf",
                             mime="application/pdf", icon=":material/picture_as_pdf:", on_click="ignore", key="briefing_pdf")
flags = [label for label, on in (("critical (EU 2023)", material["critical_2023"]), ("strategic (CRMA 2024)", material["strategic_2024"])) if on]
st.caption(
    f"{int(city['population']):,} inhabitants, {int(city['households']):,} households ({city['confidence']}: {escape_markdown(city['note'], 300)}). "
    f"{material['name']}: EU supply risk {material['supply_risk']:.1f}, economic importance {material['economic_importance']:.1f}"
    f"{', ' + ' and '.join(flags) if flags else ', not on the EU critical list'}"
    f"{'' if material['role'] == 'critical' else ' (' + material['role'] + ')'}; "
    f"confidence {material['confidence']}, transcribed from the EU 2023 criticality study."
)

figures = ui.headline(version, sel.city, sel.year, sel.material)
if sum(abs(f.kg) for f in figures.values()) == 0:
    st.info(
        f"No product in the city model contains {material['name']} in measurable amounts, so there is nothing to show "
        "for it yet. Its main uses lie outside the modelled product set; a researcher can add products and their "
        "composition through a data upload."
    )
    st.stop()


def show_metric(column, key: str) -> None:
    figure = figures[key]
    per_year = "" if key.endswith("_stock") else "/yr"
    # The Sankey's node "Hibernating at home" is this year's flow through the drawers; the card is their stock.
    label = f"{PROCESS_LABELS['hibernation']} (stock)" if key == "hibernating_stock" else figure.label
    with column:
        st.metric(label, format_mass(figure.kg) + per_year, help=METRICS[key].definition + ui.glossary_help(key))
        st.caption(ui.provenance_caption(figure.confidence, figure.source_ids, figure.downscaled))


st.subheader("At a glance")
for keys in (("in_use_stock", "hibernating_stock", "new_products"), ("end_of_life", "separately_collected", "secondary_supply", "lost")):
    for column, key in zip(st.columns(len(keys)), keys):
        show_metric(column, key)

eol_kg, recovered_kg, demand_kg = (figures[k].kg for k in ("end_of_life", "secondary_supply", "new_products"))
if eol_kg > 0:
    # The stored model run is the value (as on every page); the Monte Carlo gives the range beside it.
    from decision_tools import uncertainty

    draws = uncertainty.indicator_samples(ui.simulation(version, sel.city, (sel.material,)), sel.year)

    def with_range(value: float, key: str) -> str:
        band = uncertainty.summarise(draws[key])
        return f"**{format_share(value)}** (5-95 %: {format_share(band['p05'])} to {format_share(band['p95'])})"

    st.markdown(
        f"Of the {material['name'].lower()} reaching end of life in {sel.year}, {with_range(recovered_kg / eol_kg, 'eol_recycling_rate')} "
        f"is recovered as secondary raw material; the recovered amount equals "
        f"{with_range(recovered_kg / demand_kg, 'secondary_supply_share') if demand_kg else '**n/a**'} of what the city puts "
        f"into new products that year. The figures are the central model run; the ranges come from "
        f"{uncertainty.DEFAULT_SAMPLES:,} Monte Carlo draws of the inputs (Indicators page)."
    )
if any(f.downscaled for f in figures.values()):
    geographies = ui.ownership_geographies(version, sel.city)
    by_level = "; ".join(f"{escape_markdown(level)}: {escape_markdown(', '.join(group['name']), 600)}"
                         for level, group in geographies.groupby("level", sort=False))
    st.caption("Some figures are downscaled: the city's population or households times a national or EU figure "
               f"(good for exploring, not a measurement of this city). Ownership figures used: {by_level}.")
    with st.expander("Which ownership figures this city's numbers rest on"):
        st.dataframe(geographies, hide_index=True, width="stretch")
        ui.download_button(geographies, f"ownership_sources_{sel.city}", "dl_ownership_sources")

st.subheader("What to do first")
try:
    engine = ui.scenario_engine(version, sel.city, (sel.material,))
except ValueError:
    engine = None
if engine is not None:
    lever_year = priorities.effect_year(engine.levers, sel.year)
    route_rows = ui.metric_table(version, sel.city, sel.material, sel.year, ("route", "product"))
    discarded_kg = figures["end_of_life"].kg if "end_of_life" in figures else 0.0
    top_losses = priorities.largest_losses(route_rows[route_rows["metric"] == "lost"], discarded_kg)
    ranking = ui.loss_ranking(version, sel.city, sel.material, lever_year,
                              priorities.levers_addressing(engine.levers, top_losses))
    link_params = {"city": sel.city, "material": sel.material,
                   "version": version if version != ctx.latest_version_id else None}
    advice = priorities.do_first(top_losses, priorities.best_levers(ranking, top_losses, engine.levers), product_names,
                                 discarded_kg, material["name"].lower(), sel.year, lever_year, link_params)
    st.markdown("\n".join(f"- {sentence}" for sentence in advice.sentences))
    st.caption("Each lever alone at its maximum (the Policy page's leverage ranking), central model run; effect = kg of "
               "losses per year avoided, per 1,000 EUR of its yearly cost at full roll-out. Costs and most lever effects are "
               "illustrative: for comparing options, not for budgets. A link opens the Policy page with that lever set.")

st.subheader("Where the material goes")
chain = ui.chain(version, sel.city, sel.year, sel.material)
ui.chain_view(chain, f"{material['name']} flows in {sel.city}, {sel.year} (kg per year)", "sankey",
              f"chain_{sel.city}_{sel.material}_{sel.year}")

losses = ui.metric_table(version, sel.city, sel.material, sel.year, ("route", "product"))
losses = losses[(losses["metric"] == "lost") & (losses["kg"] > 0)].sort_values("kg", ascending=False)
left, right = st.columns([3, 2])
with left:
    st.markdown("**Where it is lost**")
    if losses.empty:
        st.write("No losses in this year.")
    else:
        loss_table = pd.DataFrame({
            "route": losses["route"].map(PROCESS_LABELS),
            "product": losses["product"].map(product_names),
            "kg per year": losses["kg"].round(3),
            "share of losses": (losses["kg"] / losses["kg"].sum()).round(3),
            "confidence": losses["confidence"],
        })
        ui.table(loss_table, "dl_losses", f"losses_{sel.city}_{sel.material}_{sel.year}", {
            "route": "Route", "product": "Product", "kg per year": ("Lost ({unit} per year)", "mass"),
            "share of losses": ("Share of losses (%)", "share"), "confidence": "Confidence"})
with right:
    st.markdown("**Loss routes**")
    st.markdown(
        "- *Residual waste*: discarded with mixed household waste, incinerated or landfilled.\n"
        "- *Export / reuse abroad*: leaves the city inside used products (cars, devices).\n"
        "- *Recycling losses*: collected, but not recovered by today's processes."
    )

st.subheader("Over time")
series = ui.metric_table(version, sel.city, sel.material, None, ("year",))
left, right = st.columns(2)
with left:
    ui.altair("stocks_chart", time_charts.timeseries_chart, series, ("in_use_stock", "hibernating_stock"), "Stocks in the city", sel.year, per_year=False)
with right:
    ui.altair("flows_chart", time_charts.timeseries_chart, series, ("new_products", "end_of_life", "separately_collected", "secondary_supply"),
              "Yearly flows", sel.year, per_year=True)
series_table = metrics_wide(series, "year")
ui.download_button(series_table, f"timeseries_{sel.city}_{sel.material}", "dl_series")

st.subheader("By product")
by_product = ui.metric_table(version, sel.city, sel.material, sel.year, ("product",))
confidence = by_product.groupby("product")["confidence"].agg(weakest)
product_table = metrics_wide(by_product, "product", labelled=True).round(3)
product_table["confidence"] = product_table["product"].map(confidence)
product_table["product"] = product_table["product"].map(product_names)
st.dataframe(product_table, hide_index=True, width="stretch", column_config=ui.kg_columns(product_table))
ui.download_button(product_table, f"by_product_{sel.city}_{sel.material}_{sel.year}", "dl_products")

districts = ui.reference_table(version, "districts")
if (districts["city"] == sel.city).any():
    st.subheader("By district")
    by_district = ui.metric_table(version, sel.city, sel.material, sel.year, ("district",))
    district_table = metrics_wide(by_district, "district", labelled=True).round(3).sort_values(
        f"{METRICS['in_use_stock'].label} (kg)", ascending=False)
    st.dataframe(district_table, hide_index=True, width="stretch", column_config=ui.kg_columns(district_table))
    st.caption("District figures split the city by population share; district populations and centroids are approximate (low confidence).")
    ui.download_button(district_table, f"by_district_{sel.city}_{sel.material}_{sel.year}", "dl_districts")

measured = ui.reference_table(version, "measured_flows")
measured = measured[measured["city"] == sel.city]
if not measured.empty:
    # Measured flows are kg of whole products or waste; the model counts only the materials it models inside
    # products. So they are set side by side, never divided: where the category is a modelled product, the model's
    # kg of its materials in the same flow and year must stay below the measured mass of the products.
    st.subheader("Measured flows beside the model")
    every_material = tuple(ui.reference_table(version, "materials")["symbol"])
    first_year, last_year = ui.year_range(version)
    model_rows = {int(year): ui.metric_table(version, sel.city, every_material, int(year), ("product", "route"))
                  for year in sorted(set(measured["year"])) if first_year <= year <= last_year}
    measured_table = measured_beside_model(measured, model_rows, product_names)
    st.dataframe(measured_table, hide_index=True, width="stretch", column_config=ui.kg_columns(measured_table))
    st.caption(
        f"Measured flows of {escape_markdown(sel.city)} as uploaded (kg of products or waste per year). The model counts "
        f"materials, not product mass: only the {len(every_material)} materials it covers, inside the products it covers. "
        "So a measured kg and the model's kg are not the same quantity and are not compared as a ratio. Where the "
        "category is a modelled product, the model's kg of its materials in the same flow and year stands beside it: "
        "it should be a small part of the measured mass, and a model figure above the measured one means the model "
        "overstates that flow for this city. Elsewhere (a WEEE category, a year outside the model) the model column is empty."
    )
    ui.download_button(measured_table, f"measured_flows_{sel.city}", "dl_measured")

city_views.city_stock_section(version, sel.city, sel.year, sel.material)
