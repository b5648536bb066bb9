"""Page sections about the city as owner and buyer: "What the city itself owns" (Overview) and "Procurement
clauses" (Policy). Thin: they read widgets, call decision_tools.city_stock and decision_tools.procurement, and
render; every table has its download. Data and user text is escaped before it reaches Markdown."""

from __future__ import annotations

import streamlit as st

import ui
from decision_tools.formatting import escape_markdown


@ui.per_dataset(st.cache_data, max_entries=64)
def city_stock(version_id: int, city: str, year: int):
    """The municipal stock of ``city`` in ``year`` (decision_tools.city_stock.CityStock)."""
    from decision_tools import city_stock as stock

    return stock.city_stock_for(ui.input_tables(version_id), city, year)


def city_stock_section(version_id: int, city: str, year: int, material: str) -> None:
    """The Overview's "What the city itself owns": the register of the city and its companies for the year, set
    apart from the households' stock, with the kg of the chosen material, the share of the city's stock and the
    units reaching end of use (an estimate), or a sentence saying no register was uploaded."""
    from decision_tools import city_stock as stock_module
    from decision_tools.labels import short_citations

    st.subheader("What the city itself owns")
    stock = city_stock(version_id, city, year)
    if stock.empty:
        st.info(f"No asset register uploaded for {escape_markdown(city)}: upload one on the Data page "
                "(kind city_owned_stock).", icon=":material/inventory_2:")
        return
    materials = ui.reference_table(version_id, "materials").set_index("symbol")["name"]
    material_name = materials.get(material, material)
    product_names = dict(ui.reference_table(version_id, "products")[["product", "name"]].itertuples(index=False))
    citations = ui.citation_index(version_id)
    frame = stock.with_material(material)
    frame = frame.assign(sources=[short_citations(s, citations) for s in frame["source_id"]])
    st.caption(f"Kept apart from the households' stock above: what the municipality and its companies own (their asset "
               f"register), where the city acts directly through its own purchases and contracts. Counts of {year} or "
               "the latest year before it; kg of " + escape_markdown(material_name) + " at the composition of the year "
               "the units were counted; share = the owners' units over the city's whole modelled stock of the product.")
    ui.table(frame, "dl_city_stock", f"city_stock_{city}_{material}_{year}", {
        "owner": ("Owner", "text"), "product": "Product", "year_of_count": ("Counted in", "text"),
        "units": ("Units", "number"), "kg": (f"{material_name} ({{unit}})", "mass"),
        "share_of_city_stock": ("Share of the city's stock (%)", "share"),
        "end_of_use_units_per_year": ("Units reaching end of use per year (estimate)", "number"),
        "sources": ("Source", "text"), "confidence": "Confidence"},
        names={"product": product_names}, download=frame.drop(columns=["sources"]))
    notes = []
    over = frame[frame["exceeds_model"].astype(bool)]
    if not over.empty:
        notes.append("The register counts more " + escape_markdown(", ".join(over["product"].map(product_names)), 300)
                     + " than the model holds for the whole city: the model undercounts it here, so the share is shown "
                     "as 100 %.")
    notes.append(f"End of use: {stock_module.END_OF_USE_LABEL}. Shares are of the modelled stock, whose ownership figures "
                 "are often national or EU averages (see above).")
    st.caption(" ".join(notes))


def _unique_labels(pairs) -> dict[str, str]:
    """label -> id, a name repeated among the options carrying its id (a bound widget's URL holds the label)."""
    labels: dict[str, str] = {}
    for key, name in pairs:
        label = str(name)
        labels[label if label not in labels else f"{label} ({key})"] = key
    return labels


def procurement_section(ctx, engine, year: int) -> None:
    """The Policy page's "Procurement clauses": pick a purchase category (a product the city itself owns) and
    clauses (both bound to the URL, so a link shares them; an unknown value in the link falls back with a notice),
    see the lever settings they translate to and why, the indicators against the baseline and the cost, and save
    them as a scenario that "Saved scenarios side by side" lists."""
    from decision_tools import city_stock as stock_module
    from decision_tools import procurement
    from decision_tools.scenarios import format_indicator, indicator_comparison

    version, city = ctx.version_id, ctx.selection.city
    st.subheader("Procurement clauses")
    st.caption("Clauses the city writes into its own tenders, translated into the levers above. A clause's level is "
               "the lever's level when it covers all the city's own units of the category, times the city's own share of "
               "the city's stock of it (the Overview's \"What the city itself owns\"). Levels are illustrative.")
    clauses = ui.reference_table(version, "procurement_clauses")
    stock = city_stock(version, city, year)
    product_names = dict(ui.reference_table(version, "products")[["product", "name"]].itertuples(index=False))
    owned = list(dict.fromkeys(stock.units["product"])) if not stock.empty else []
    categories = [p for p in owned if not procurement.clauses_for_category(clauses, p).empty]
    if not owned:
        st.info(f"No asset register uploaded for {escape_markdown(city)}: the clause builder works on what the city itself "
                "owns. Upload one on the Data page (kind city_owned_stock).", icon=":material/inventory_2:")
        return
    if not categories:
        st.info(f"No clause in the catalogue is written for what {escape_markdown(city)} owns "
                f"({escape_markdown(', '.join(product_names.get(p, p) for p in owned), 300)}).")
        return
    category_labels = _unique_labels((p, product_names.get(p, p)) for p in categories)
    # A bound widget drops an unknown value from the link and reruns at once (as on the Methods page): the notices
    # are kept in the session until the category or the clauses are picked again.
    notices = st.session_state.setdefault("_procurement_notices", {})
    asked = st.query_params.get("proc_category")
    if asked is not None and asked not in category_labels:
        notices["category"] = (f"The link asked for the purchase category '{escape_markdown(asked)}', which "
                               f"{escape_markdown(city)} does not own or no clause is written for; showing "
                               f"{escape_markdown(next(iter(category_labels)))}.")

    def picked() -> None:
        st.session_state.pop("_procurement_notices", None)

    if notices.get("category"):
        st.warning(notices["category"], icon="⚠️")
    category_label = st.selectbox("Purchase category (what the city owns)", list(category_labels), key="proc_category",
                                  bind="query-params", on_change=picked)
    category = category_labels[category_label]
    offered = procurement.clauses_for_category(clauses, category)
    clause_labels = _unique_labels(zip(offered["clause_id"], offered["name"]))
    unknown = [c for c in st.query_params.get_all("proc_clauses") if c not in clause_labels]
    if unknown:
        notices["clauses"] = ("The link named clause(s) " + escape_markdown(", ".join(f"'{c}'" for c in unknown), 300)
                              + f" that are not written for {escape_markdown(category_label)}; they are left out.")
    if notices.get("clauses"):
        st.warning(notices["clauses"], icon="⚠️")
    chosen_labels = st.multiselect("Clauses", list(clause_labels), key="proc_clauses", bind="query-params",
                                   on_change=picked,
                                   help="Pick one or more; the table below says what each asks and which lever it moves.")
    chosen = [clause_labels[label] for label in chosen_labels]

    lever_names = {k: lever.name for k, lever in engine.levers.items()}
    with st.expander(f"The clauses written for {escape_markdown(category_label)}"):
        ui.table(offered, "dl_clauses", f"procurement_clauses_{category}", {
            "name": ("Clause", "text"), "description": "What it asks", "lever_id": "Lever",
            "lever_level": ("Lever level at full coverage", "number"), "legal_basis": "Legal basis",
            "source_id": ("Sources", "text"), "confidence": "Confidence", "note": "Note"},
            names={"lever_id": lever_names})
    if not chosen:
        st.caption("Pick clauses to see the lever settings they translate to.")
        return
    shares = stock_module.share_by_product(stock)
    try:
        translation = procurement.translate(clauses, chosen, category, shares, engine.levers)
    except ValueError as exc:  # a clause naming a lever this dataset version lacks
        st.error(escape_markdown(str(exc), 400))
        return
    st.markdown("**The lever settings they translate to**")
    ui.table(translation.table, "dl_clause_settings", f"procurement_settings_{city}_{category}_{year}", {
        "clause": ("Clause", "text"), "lever": ("Lever", "text"),
        "level_at_full_coverage": ("Level at full coverage", "number"),
        "city_share": ("City's own share of the stock (%)", "share"),
        "level_from_clause": ("Level from the clause", "number"), "level": ("Lever set to", "number"),
        "why": ("Why", "text")})
    for note in translation.notes:
        st.caption(escape_markdown(note, 400))
    run = engine.run(translation.settings)
    baseline_values = engine.indicators(engine.baseline, year)
    scenario_values = engine.indicators(run, year)
    comparison = indicator_comparison(baseline_values, scenario_values)
    left, right = st.columns([3, 1])
    with left:
        shown = comparison.assign(
            **{"baseline (shown)": [format_indicator(k, v) for k, v in zip(comparison["key"], comparison["baseline"])],
               "with the clauses (shown)": [format_indicator(k, v) for k, v in zip(comparison["key"], comparison["scenario"])]})
        st.dataframe(shown[["indicator", "baseline (shown)", "with the clauses (shown)"]], hide_index=True, width="stretch")
        ui.download_button(comparison, f"procurement_indicators_{city}_{category}_{year}", "dl_clause_indicators")
    with right:
        cost = run.cost_eur_per_year
        st.metric("Yearly cost at full roll-out", f"{cost:,.0f} EUR",
                  help="From the levers' illustrative cost model, linear in each lever's level.")
    st.caption(f"Indicators of {year} for the materials chosen at the top of the page, central model run, against the "
               "baseline. Confidence: **illustrative** (clause levels and lever costs are assumptions).")
    if not translation.settings:
        return
    if ctx.may("save_scenario"):
        with st.form("save_procurement", clear_on_submit=False, border=True):
            st.markdown("**Save these clauses as a scenario** (listed under \"Saved scenarios side by side\")")
            name = st.text_input("Scenario name", max_chars=80, placeholder="e.g. Take-back in IT tenders")
            if st.form_submit_button("Save as a scenario"):
                note = procurement.scenario_note(clauses, chosen, category_label)
                try:  # the store checks the account's role again and audits in the same transaction
                    ui.store().save_scenario(name, city, translation.settings, version, ctx.actor, note=note)
                    st.success(f"Saved “{escape_markdown(name.strip(), 80)}”: {escape_markdown(note, 300)}")
                except (ValueError, PermissionError) as exc:
                    st.error(escape_markdown(str(exc), 300))
    else:
        st.caption("Partners and researchers who sign in can save these clauses as a scenario.")
