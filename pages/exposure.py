"""Supply chain exposure: how critical and concentrated the supply is, which countries the city's
demand depends on, what an export restriction would do, and how much the urban mine could cover."""

import streamlit as st

import ui
from decision_tools import disruption, exposure, exposure_charts, labels, maps
from decision_tools.indicators import aggregate_scope_note, critical_materials
from decision_tools.formatting import escape_markdown, format_mass, format_share
from decision_tools.uncertainty import quantity_frame

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
materials_table = ui.reference_table(version, "materials")
material_name = materials_table.set_index("symbol").at[sel.material, "name"]
critical = critical_materials(materials_table)
data = ui.exposure_data(version)
products = ui.reference_table(version, "products").set_index("product")
sectors = products["sector"].to_dict()

country_names = labels.country_names(data.countries)
stage_names = dict(exposure.STAGE_NAMES)
material_names = {s: f"{n} ({s})" for s, n in zip(materials_table["symbol"], materials_table["name"])}
st.title(f"Supply chain exposure · {escape_markdown(sel.city)} · {sel.year}")
ui.how_to_read("exposure")
all_crms = st.toggle("All critical raw materials together (by mass)", key="all_crms", bind="query-params",
                     help="Off: the material picked in the sidebar. On: every material on the list, its demand summed in kg "
                          f"(kg of demand per country add up by mass). {aggregate_scope_note(materials_table)}")
materials = critical if all_crms else (sel.material,)
scope = "all critical raw materials" if all_crms else f"{material_name} ({sel.material})"
st.caption(f"For {scope}. Supply shares: World Mining Data 2024 (mining, medium confidence); refining from the IEA (2021, top three "
           "refiners in 2019, medium), Johnson Matthey and the World Platinum Investment Council (platinum metals) and IEA/BGS figures via "
           "a third party (graphite, manganese, tungsten; low); heavy rare earth mining from the JRC dysprosium profile (low). "
           "Governance: World Bank WGI 2022 political stability.")

st.subheader("How critical is it?")
left, right = st.columns([3, 2])
with left:
    ui.altair("criticality", exposure_charts.criticality_chart, data.eu, tuple(sorted(materials)))
with right:
    row = data.materials.loc[sel.material]
    st.metric(f"{material_name}: EU supply risk", f"{row['supply_risk']:.1f}", help="European Commission, CRM study 2023 (transcribed)." + ui.glossary_help("supply-risk"))
    st.metric("Economic importance", f"{row['economic_importance']:.1f}", help=ui.glossary_help("economic-importance").strip())
    flags = [f for f, on in (("critical (2023)", row["critical_2023"]), ("strategic (CRMA 2024)", row["strategic_2024"])) if on]
    st.caption(f"{', '.join(flags) or 'not on the EU critical list'}; bottleneck: {row['bottleneck_stage']}; "
               f"confidence {row['confidence']} (transcribed). {ui.sources_line(row['source_id'], version)}.")
    if sel.material in data.by_products.index:
        st.warning(f"{material_name} is produced mostly as a by-product of {data.by_products.at[sel.material, 'host_metals']} "
                   "(Nassar et al. 2015): its supply cannot follow its own price.", icon="⚠️")
eu_table = data.eu.copy()
ui.download_button(eu_table, f"eu_criticality_v{version}", "dl_eu")

st.subheader(f"Who supplies {material_name}")
if not data.stages(sel.material):
    st.info(f"The project has no supplier shares for {material_name} yet.")
else:
    table = exposure.concentration(data, sel.material)
    ui.altair("suppliers", exposure_charts.supplier_chart, exposure.supplier_shares(data, sel.material))
    ui.table(table, "dl_concentration", f"concentration_{sel.material}", {
        "stage": "Stage", "largest_supplier": "Largest supplier", "largest_share": "Largest share (%)",
        "hhi_listed": "HHI of the listed shares", "hhi_published": "HHI published", "governance_weighted_hhi": "Governance-weighted HHI",
        "geopolrisk_score": "GeoPolRisk-style score", "above_65_percent": "Above 65 %", "bottleneck": "EU bottleneck stage"},
        names={"stage": stage_names, "largest_supplier": country_names})
    st.caption("HHI of the listed shares counts the unspecified rest of the world as many small suppliers (a lower bound); the "
               "published HHI covers every producing country. Governance-weighted HHI: share² x governance (0..10, here 10 x "
               "political stability). The CRMA asks that no single third country supply more than 65 %.")

    recomputed = exposure.recompute_supply_risk(data, sel.material)
    if recomputed:
        a, b = st.columns(2)
        a.metric("Supply risk, published (EU 2023)", f"{recomputed['published']:.2f}")
        b.metric("Supply risk, recomputed here", f"{recomputed['recomputed']:.2f}",
                 help=f"SR = [HHI_WGI x IR/2 + HHI_WGI x (1 - IR/2)] x (1 - EOL-RIR) x SI_SR with HHI_WGI "
                      f"{recomputed['governance_weighted_hhi']:.2f}, IR {recomputed['import_reliance']:.2f}, "
                      f"EOL-RIR {recomputed['eol_rir']:.2f}, SI_SR {recomputed['substitution_index']:.2f}")
        st.markdown("Why they differ: " + "; ".join(recomputed["reasons"]) + ".")
    eol_rir = float(row["eu_eol_rir_share"])
    if eol_rir < 1:
        curve = exposure.supply_risk_curve(float(row["supply_risk"]), eol_rir)
        ui.altair("sr_curve", exposure_charts.supply_risk_curve, curve, (eol_rir, float(row["supply_risk"])))
        below = curve.loc[curve["supply_risk"] < 1.0, "eol_rir"]
        st.caption(f"Today's EU EOL-RIR for {material_name}: {format_share(eol_rir)}. "
                   + (f"Supply risk would fall below the 1.0 threshold at an EOL-RIR of about {format_share(float(below.min()))}."
                      if not below.empty else "Even 60 % recycled input would not bring it below the 1.0 threshold."))

st.subheader(f"Where {escape_markdown(sel.city)}'s demand comes from")
try:
    engine = ui.scenario_engine(version, sel.city, materials)
except ValueError:
    st.info(f"No product in the city model contains {scope}.")
    st.stop()
demand_all = quantity_frame(engine.baseline.simulation, "new_products")
demand = demand_all[demand_all["year"] == sel.year]
stage_labels = {"bottleneck": "EU bottleneck stage of each material"} | {
    stage: f"{exposure.STAGE_NAMES[stage][0].upper()}{exposure.STAGE_NAMES[stage][1:]}" for stage in exposure.STAGES}
stage_choice = st.selectbox("Split the demand by the countries' shares at", list(stage_labels), format_func=stage_labels.get,
                            key="exposure_stage", bind="query-params")
city_exposure = exposure.city_exposure(data, demand, sectors, None if stage_choice == "bottleneck" else stage_choice)
by_country = exposure.demand_by_country(city_exposure, data.countries)
city_place = ui.reference_table(version, "cities").set_index("city").loc[sel.city]
st.pydeck_chart(maps.world_exposure_map(by_country.dropna(subset=["lat", "lon"]), (sel.city, float(city_place["lat"]), float(city_place["lon"]))),
                height=420, key="world_map")
unspecified = float(by_country.loc[by_country["country_iso3"] == exposure.REST_OF_WORLD, "kg"].sum())
stages_used = ", ".join(f"{exposure.STAGE_NAMES.get(stage, stage)} for {', '.join(sorted(group['material'].unique()))}"
                        for stage, group in city_exposure.dropna(subset=["stage"]).groupby("stage"))
st.caption(f"Material in new products entering {escape_markdown(sel.city)} in {sel.year}, split by the supplying countries' shares at "
           f"one stage: {stages_used or 'no stage with data'}. Circle area: kg; colour: political stability (green stable, red unstable); "
           f"supplying countries are shaded in the same colour, and the ringed dot is {escape_markdown(sel.city)}. "
           f"{format_mass(unspecified)} per year comes from countries not listed (rest of the world). Confidence: illustrative "
           "(city demand) and medium to low (shares).")
left, right = st.columns(2)
with left:
    st.markdown("**By supplying country**")
    ui.table(by_country[["country_iso3", "name", "kg", "share"]], "dl_by_country", f"exposure_by_country_{sel.city}_{sel.year}",
             {"name": "Country", "kg": "Demand ({unit} per year)", "share": "Share of the demand (%)"})
with right:
    st.markdown("**By product and sector**")
    ui.table(exposure.demand_by_product(city_exposure, products["name"]), "dl_by_product", f"exposure_by_product_{sel.city}_{sel.year}",
             {"product": "Product", "sector": "Sector", "material": "Material", "kg": "Demand ({unit} per year)",
              "geopolrisk_score": "GeoPolRisk-style score", "by_product": "By-product"}, names={"material": material_names})
st.caption("GeoPolRisk-style score = HHI x the share-weighted political instability of the suppliers (Gemechu et al. 2015); "
           "By-product marks metals mined as by-products of other metals.")

st.subheader("What if a country restricts exports?")
controls = ui.reference_table(version, "export_controls")
presets = {"Custom": None} | {f"{r.date} · {data.countries['name'].get(r.country_iso3, r.country_iso3)}: {r.measure}": r
                              for r in controls.itertuples()}
preset_label = st.selectbox("Ready-made scenario (export-control timeline)", list(presets), key="preset", bind="query-params")
preset = presets[preset_label]
country_codes = sorted(set(data.shares["country_iso3"]) - {exposure.REST_OF_WORLD})
modelled = sorted(set(data.shares["material"]) & {m for _, m in engine.inputs.chain.pairs})
with st.container(border=True):
    a, b, c, d = st.columns(4)
    if preset is None:
        country = a.selectbox("Country", country_codes, index=country_codes.index("CHN"), key="disrupt_country",
                              format_func=lambda iso: f"{data.countries['name'].get(iso, iso)} ({iso})")
        chosen = b.multiselect("Materials", modelled, default=modelled[:1], key="disrupt_materials",
                               format_func=lambda m: material_names.get(m, m))
    else:
        country = preset.country_iso3
        listed = [m for m in preset.materials.split(";")]
        chosen = [m for m in listed if m in modelled]
        a.markdown(f"**Country:** {data.countries['name'].get(country, country)}")
        b.markdown(f"**Materials:** {', '.join(material_names.get(m, m) for m in chosen) or 'none modelled for this scope'}")
        not_modelled = [m for m in listed if m not in modelled]
        if not_modelled:
            st.caption(f"Not modelled for {scope} in {escape_markdown(sel.city)}: {', '.join(not_modelled)}. Confidence of the measure: {preset.confidence}.")
    cut = c.slider("Cut (share of the country's supply)", 0.0, 1.0, 0.5, 0.05, key="cut", bind="query-params")
    duration = d.number_input("Duration (years)", 1, 10, 2, key="duration", bind="query-params")
saved = ui.store().saved_scenarios()
scenario_name = st.selectbox("Compare with a saved policy scenario", ["(none)"] + list(saved["name"]), key="policy_scenario",
                             bind="query-params")
if chosen:
    event = disruption.Disruption(country, tuple(chosen), float(cut), sel.year, int(duration))
    runs = {"baseline": engine.baseline}
    if scenario_name != "(none)":
        try:
            runs[scenario_name] = engine.run(saved.set_index("name").at[scenario_name, "settings"])
        except ValueError as exc:
            st.warning(f"“{escape_markdown(scenario_name, 80)}” cannot run on this dataset version: {escape_markdown(exc, 300)}")
    country_name = data.countries["name"].get(country, country)
    run_frames = {label: (demand_all if run is engine.baseline else quantity_frame(run.simulation, "new_products"),
                          quantity_frame(run.simulation, "secondary_supply")) for label, run in runs.items()}
    outcome = disruption.disruption_outcome(data, event, run_frames, sectors, country_name)
    total = outcome.total_kg
    st.metric(f"Shortfall over {int(duration)} year(s) from {sel.year}", format_mass(total),
              help="Counted at every stage (mining and refining); each material's shortfall is its largest stage loss.")
    st.markdown(escape_markdown(outcome.explanation, 2000))
    with st.expander("Shortfall at each stage", expanded=True):
        stage_table = outcome.by_stage.assign(stage=outcome.by_stage["stage"].map(lambda v: exposure.STAGE_NAMES.get(v, v)))
        ui.table(stage_table, "dl_shortfall_stages", f"shortfall_by_stage_{country}_{sel.city}_{sel.year}", {
            "material": "Material", "stage": "Stage", "country_share": f"{country_name}'s share of world supply (%)",
            "demand_kg": "Demand over the disruption", "shortfall_kg": "Shortfall", "binding": "Binding stage"},
            names={"material": material_names})
        st.caption("Shortfall at a stage = the city's demand over the disruption x the country's share of world supply at that stage "
                   "x the cut. Stages are in series and the same kilogram may pass the country at both, so the material's "
                   "shortfall is the largest stage figure, not their sum. Other suppliers are assumed not to make up the loss.")
    if total > 0:
        left, right = st.columns(2)
        with left:
            shown = outcome.by_product.assign(product=outcome.by_product["product"].map(products["name"]))
            ui.altair("shortfall_chart", exposure_charts.shortfall_chart, shown)
            ui.table(shown, "dl_shortfall", f"shortfall_{country}_{sel.city}_{sel.year}", {
                "product": "Product", "year": ("Year", "text"), "sector": "Sector", "material": "Material", "stage": "Stage",
                "country_share": f"{country_name}'s share (%)", "shortfall_kg": "Shortfall",
                **{f"shortfall_{stage}_kg": f"Shortfall at {exposure.STAGE_NAMES[stage].split(' (')[0]}" for stage in exposure.STAGES}},
                names={"material": material_names, "stage": stage_names})
        with right:
            st.markdown("**How much the city's own secondary supply could cover**")
            ui.table(outcome.coverage, "dl_coverage", f"coverage_{country}_{sel.city}_{sel.year}", {
                "run": "Run", "year": ("Year", "text"), "material": "Material", "shortfall_kg": "Shortfall",
                "secondary_supply_kg": "City's secondary supply", "covered_share": "Covered (%)"},
                names={"material": material_names})
            st.caption("Covered = the city's secondary supply of the material in that year / the shortfall, at most 100 %: what the "
                       "urban mine could replace if its recovered material stayed in the region.")
else:
    st.info("Pick at least one material the city model contains.")

if chosen:
    ui.challenge_link(f"Cover a {data.countries['name'].get(country, country)} export cut of {', '.join(chosen)} from {sel.city}'s urban mine",
                      chosen[0], "Turn this disruption into a challenge")

st.subheader("Critical Raw Materials Act: no more than 65 % from one country")
checks = ui.single_country_checks(version)
ui.table(checks, "dl_checks", f"crma_checks_v{version}", {
    "material": "Material", "stage": "Stage", "largest_supplier": "Largest supplier",
    "largest_share": "Largest single-country share (%)", "above_65_percent": "Above 65 %"},
    names={"material": material_names, "stage": stage_names, "largest_supplier": country_names})
st.caption("World supply shares stand in for the EU's consumption mix that the benchmark refers to.")
