"""Policy intervention points: the levers a city has, a scenario against the baseline, which lever
moves the chosen indicator most (leverage ranking), saved scenarios side by side, the best portfolio
within a budget, and the value-creation models companies could use."""

import pandas as pd
import streamlit as st

import city_views
import ui
from decision_tools import bar_charts, labels, time_charts
from decision_tools.formatting import difference_direction, escape_markdown, format_difference
from decision_tools.indicators import WEIGHTINGS, critical_materials
from decision_tools.scenarios import (NO_EFFECT, OBJECTIVES, format_indicator, indicator_comparison, indicator_label,
                                      objective_series)

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
materials_table = ui.reference_table(version, "materials")
material_name = materials_table.set_index("symbol").at[sel.material, "name"]
critical = critical_materials(materials_table)

st.title(f"Policy intervention points · {escape_markdown(sel.city)} · {sel.year}")
ui.how_to_read("policy")
all_crms, weighting = ui.aggregate_controls("every material on that list together; rates weigh the materials as "
                                             "chosen below, masses are summed in kg.")
materials = critical if all_crms else (sel.material,)
weighting_label = WEIGHTINGS[weighting][0]
scope = f"all critical raw materials, rates weighted {weighting_label}" if all_crms else f"{material_name} ({sel.material})"
st.caption(f"For {scope}. Move the levers the city has; every number is the central model run (no uncertainty draws: the "
           f"same numbers as the Overview and the big numbers of the Indicators page), and {sel.year} is the target year. "
           "Lever costs and effects are illustrative: good for comparing options, not for budgets.")

try:
    engine = ui.scenario_engine(version, sel.city, materials, weighting)
except ValueError:
    st.info(f"No product in the city model contains {scope}; there is nothing to steer yet.")
    st.stop()
levers = engine.levers

first_start = min(lever.start_year for lever in levers.values())
if sel.year < first_start:
    st.info(f"No lever acts before {first_start}: pick a later year in the sidebar (for instance 2035) to see what they do.")

objective_labels = {label: key for key, (label, _) in OBJECTIVES.items()}
objective_label = st.selectbox("Indicator to improve", list(objective_labels), key="objective", bind="query-params")
objective = objective_labels[objective_label]
objective_unit = OBJECTIVES[objective][1]


# Bound sliders drop values they cannot use; say so, as for the city, year and material.
for lever in levers.values():
    raw = st.query_params.get(lever.lever_id)
    if raw is not None:
        try:
            valid = lever.minimum <= float(raw) <= lever.maximum
        except ValueError:
            valid = False
        if not valid:
            st.warning(f"The link set the lever “{lever.name}” to '{escape_markdown(raw)}', outside {lever.minimum:g} to "
                       f"{lever.maximum:g}; it is left at {lever.default:g}.", icon="⚠️")

st.subheader("Levers")
settings = {}
groups = {"direct": "The city acts directly", "partners": "Through partners", "advocacy": "Advocacy only"}
for column, (competence, heading) in zip(st.columns(3), groups.items()):
    with column:
        st.markdown(f"**{heading}**")
        for lever in (lv for lv in levers.values() if lv.competence == competence):
            settings[lever.lever_id] = st.slider(
                lever.name, min_value=lever.minimum, max_value=lever.maximum, value=lever.default, step=lever.step,
                key=lever.lever_id, bind="query-params",
                help=f"{lever.description} Unit: {lever.unit}. Who acts: {lever.who_acts}. From {lever.start_year}, "
                     f"full effect after {lever.ramp_years} years. About {lever.cost_eur_per_inhabitant_at_max:.2f} EUR per "
                     f"inhabitant per year at the maximum ({lever.cost_confidence})."
                     + ui.lever_rules_help(version, sel.year, lever.lever_id),
            )
ui.rules_section(version, sel.year)
moved = {k: v for k, v in settings.items() if v != levers[k].default}
run = engine.run(moved)
baseline_values = engine.indicators(engine.baseline, sel.year)
scenario_values = engine.indicators(run, sel.year)

st.subheader("Scenario against the baseline")
left, right = st.columns([3, 2])
with left:
    ui.altair("scenario_chart", time_charts.scenario_chart, objective_series(engine, run, objective), objective_label, objective_unit,
              sel.year)
with right:
    # "10.8 points below the baseline", never a bare "+10.8 points"; green when the change is the better way.
    kind = "share" if objective_unit == "share" else "mass" if objective.endswith("_kg") else "number"
    arrow = difference_direction(scenario_values[objective], baseline_values[objective], kind)
    st.metric(f"{objective_label}, {sel.year}", format_indicator(objective, scenario_values[objective]),
              delta=format_difference(scenario_values[objective], baseline_values[objective], kind, "the baseline")
              + (" per year" if kind == "mass" and arrow != "off" else ""),
              delta_arrow=arrow, delta_color="gray" if arrow == "off" else "green" if arrow == "up" else "red",
              help=f"Baseline: {format_indicator(objective, baseline_values[objective])}")
    st.metric("Yearly cost at full roll-out", f"{run.cost_eur_per_year:,.0f} EUR",
              help="Sum of the levers' illustrative costs, linear in each lever's level.")
    st.caption("Confidence: **illustrative** (levers, their costs and most model inputs are assumptions)."
               + (f" Rates {weighting_label}; kg by mass." if all_crms else ""))
if all_crms and weighting != "mass":
    st.caption(f"The rates of this page, the lever ranking and the portfolio included, weigh the materials {weighting_label} "
               "(quantities in kg are by mass).")
comparison = indicator_comparison(baseline_values, scenario_values)
st.dataframe(comparison.assign(**{"baseline (shown)": [format_indicator(k, v) for k, v in zip(comparison["key"], comparison["baseline"])],
                                  "scenario (shown)": [format_indicator(k, v) for k, v in zip(comparison["key"], comparison["scenario"])]})
             [["indicator", "baseline (shown)", "scenario (shown)"]], hide_index=True, width="stretch")
ui.download_button(comparison, f"scenario_{sel.city}_{sel.year}", "dl_scenario")

if ctx.may("save_scenario"):
    with st.form("save_scenario", clear_on_submit=False, border=True):
        st.markdown("**Save this scenario**")
        name = st.text_input("Name", max_chars=80, placeholder="e.g. Collection push 2030")
        note = st.text_input("Note (optional)", max_chars=300)
        if st.form_submit_button("Save"):
            try:  # the store checks the account's role again, now, and audits in the same transaction
                ui.store().save_scenario(name, sel.city, moved, version, ctx.actor, note=note)
                st.success(f"Saved “{escape_markdown(name.strip(), 80)}” with {len(moved)} lever(s) moved.")
            except (ValueError, PermissionError) as exc:
                st.error(escape_markdown(str(exc), 300))
else:
    st.caption("Partners and researchers who sign in can save scenarios by name.")

city_views.procurement_section(ctx, engine, sel.year)

saved = ui.store().saved_scenarios()
if not saved.empty:
    st.subheader("Saved scenarios side by side")
    chosen = st.multiselect("Compare up to four", list(saved["name"]), max_selections=4, key="compare", bind="query-params")
    if chosen:
        columns = {"baseline": baseline_values}
        for scenario_name in chosen:
            row = saved.set_index("name").loc[scenario_name]
            try:
                columns[scenario_name] = engine.indicators(engine.run(row["settings"]), sel.year)
            except ValueError as exc:  # a lever renamed or narrowed since the scenario was saved
                st.warning(f"“{escape_markdown(scenario_name, 80)}” cannot run on this dataset version: {escape_markdown(exc, 300)}")
        side = pd.DataFrame({name: {k: format_indicator(k, v) for k, v in values.items()} for name, values in columns.items()})
        side.index = [indicator_label(k) for k in side.index]
        st.dataframe(side, width="stretch")
        ui.download_button(side.reset_index(names="indicator"), f"scenarios_{sel.city}_{sel.year}", "dl_side")
        st.caption("Saved scenarios are run for the city, year and materials picked now.")

st.subheader("Which lever moves it most")
with st.status("Running each lever alone at its maximum…", expanded=False) as status:
    bar = st.progress(0.0)
    ranking = engine.leverage_ranking(objective, sel.year, progress=bar.progress)
    status.update(label=f"Leverage ranking: {len(ranking)} levers, each alone at its maximum, {sel.year}", state="complete")
left, right = st.columns(2)
with left:
    ui.altair("tornado_effect", bar_charts.tornado_chart, ranking, "effect", f"change of {objective_label.lower()} ({objective_unit})")
with right:
    ui.altair("tornado_per_eur", bar_charts.tornado_chart, ranking.dropna(subset=["effect_per_1000_eur"]), "effect_per_1000_eur",
              "change per 1,000 EUR of yearly cost")
# The effect in the objective's unit: shares in percentage points, masses in one unit per column.
effect_scale = 100.0 if objective_unit == "share" else 1.0
effect_unit = "percentage points" if objective_unit == "share" else objective_unit
effect_kind = "mass" if objective.endswith("_kg") else "number"
effect_header = "Change ({unit} per year)" if effect_kind == "mass" else f"Change ({effect_unit})"
per_eur = (("Change per 1,000 EUR ({unit} per year)", "mass") if effect_kind == "mass"
           else (f"Change per 1,000 EUR ({effect_unit})", "number"))  # the same unit as the change beside it
ranking_columns = {"lever": "Lever", "competence": "City's competence", "effect": (effect_header, effect_kind), "verdict": "Verdict",
                   "cost_eur_per_year": ("Cost (EUR per year)", "number"), "effect_per_1000_eur": per_eur}
ui.table(ranking.assign(effect=ranking["effect"] * effect_scale, effect_per_1000_eur=ranking["effect_per_1000_eur"] * effect_scale),
         "dl_ranking", f"leverage_{objective}_{sel.city}_{sel.year}", ranking_columns,
         names={"competence": groups}, download=ranking)
idle = ranking[ranking["verdict"] == NO_EFFECT]
if not idle.empty:
    st.caption(f"No effect on this indicator for {scope} in {sel.year} (changes below rounding count as none): "
               + escape_markdown(", ".join(idle["lever"]), 2000) + ".")

st.subheader("The best portfolio within a budget")
budget = st.number_input("Yearly budget (EUR)", min_value=0, max_value=100_000_000, value=500_000, step=50_000,
                         key="budget", bind="query-params")
with st.status("Measuring every level of every lever…", expanded=False) as status:
    bar = st.progress(0.0)
    portfolio = engine.portfolio(objective, sel.year, float(budget), progress=bar.progress)
    status.update(label=f"Portfolio for {float(budget):,.0f} EUR per year: {len(portfolio.choices)} lever(s) chosen", state="complete")
st.markdown(escape_markdown(portfolio.explanation(), 4000))
choices = portfolio.choices
ui.table(choices.assign(effect_alone=choices["effect_alone"] * effect_scale,
                        effect_per_1000_eur=choices["effect_per_1000_eur"] * effect_scale),
         "dl_portfolio", f"portfolio_{objective}_{sel.city}_{sel.year}",
         {"lever": "Lever", "level": ("Level", "number"), "effect_alone": (effect_header.replace("Change", "Change alone"), effect_kind),
          "cost_eur_per_year": ("Cost (EUR per year)", "number"),
          "effect_per_1000_eur": per_eur},
         download=choices)


def apply_portfolio() -> None:
    for lever_id, lever in levers.items():
        st.session_state[lever_id] = portfolio.settings.get(lever_id, lever.default)


st.button("Set the levers to this portfolio", on_click=apply_portfolio, disabled=portfolio.choices.empty)

st.subheader("Value-creation models for companies")
products = ui.reference_table(version, "products").set_index("product")["name"]
product_names = {products[p]: p for p in engine.inputs.chain.products}
product_name = st.selectbox("Product", list(product_names), key="product", bind="query-params")
models = ui.value_creation(version, sel.city, materials, weighting, product_names[product_name], sel.year)
left, right = st.columns(2)
with left:
    ui.altair("vc_value", bar_charts.value_creation_chart, models, "value_retained_eur_per_year", "material value kept or recovered (EUR per year)")
with right:
    ui.altair("vc_demand", bar_charts.value_creation_chart, models, "demand_avoided_kg", "material demand avoided against linear use (kg per year)")
ui.table(models, "dl_models", f"value_creation_{product_names[product_name]}_{sel.city}_{sel.year}", {
    "business model": "Business model", "demand_kg": "Demand ({unit} per year)", "secondary_supply_kg": "Secondary supply ({unit} per year)",
    "demand_avoided_kg": "Demand avoided ({unit} per year)", "mci": ("MCI", "number"),
    "value_retained_eur_per_year": ("Value retained (EUR per year)", "number"), "description": "What changes",
    "confidence": "Confidence"})
prices = ui.reference_table(version, "material_prices")
st.caption(f"For {scope} in the product “{escape_markdown(product_name)}” in {escape_markdown(sel.city)}, {sel.year}; each model applies to this product alone from "
           "2026, ramping up over three years. Value = (demand avoided + secondary supply) x a 2024 price per kg "
           f"(confidence {', '.join(sorted(set(prices['confidence'])))}; sources on the Methods page). Confidence: illustrative.")

st.subheader("What each lever means and who acts")
catalogue = ui.reference_table(version, "levers")
product_labels = ui.reference_table(version, "products").set_index("product")["name"].to_dict()
material_labels = dict(zip(materials_table["symbol"], materials_table["name"]))
readable_catalogue = labels.readable_levers(catalogue, product_labels, material_labels, ui.citation_index(version))
ui.table(readable_catalogue, "dl_levers", f"levers_v{version}", {
    "name": "Lever", "description": "What it does", "competence": "Who decides", "who_acts": "Who acts", "products": "Products",
    "materials": "Materials", "unit": "Unit", "minimum": ("Minimum", "number"), "default": ("Default", "number"),
    "maximum": ("Maximum", "number"), "start_year": ("From", "text"), "ramp_years": ("Years to full effect", "integer"),
    "cost_eur_per_inhabitant_at_max": ("Cost at maximum (EUR per inhabitant per year)", "number"),
    "cost_confidence": "Cost confidence", "confidence": "Confidence", "sources": "Sources"},
    names={"competence": groups}, download=catalogue)
st.caption(f"Full citations of the sources: [Methods and sources]({ui.METHODS_SOURCES_LINK}).")
