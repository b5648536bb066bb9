"""The city briefing: one printable HTML document with the headline indicators, the key chart, the
top levers, the supply exposure and the sources with their confidence, dated and stamped with the
dataset version. Everything user-provided is escaped."""

from __future__ import annotations

import pandas as pd

from . import charts, exports
from .formatting import format_mass
from .storage import METRICS, Store


def top_levers_section(ranking: pd.DataFrame, material_name: str, year: int, top: int = 5) -> tuple[str, str]:
    """The briefing's lever section from a leverage ranking on secondary supply (kg per year): only the
    levers that raise it (never those that lower it or do nothing for this material), largest first,
    with a sentence on what was left out, or a sentence saying no lever raises it."""
    from .scenarios import IMPROVES

    title = f"Top levers for secondary supply in {year} (illustrative)"
    raising = ranking[ranking["verdict"] == IMPROVES].sort_values("effect", ascending=False).head(top)
    left_out = len(ranking) - int((ranking["verdict"] == IMPROVES).sum())
    note = (f"{left_out} lever(s) that lower secondary supply of {material_name} or do nothing for it are left out."
            if left_out else "")
    if raising.empty:
        return title, exports.text_html(f"No lever raises the secondary supply of {material_name} in {year}. {note}".strip())
    levers = raising.assign(effect=raising["effect"].map(lambda kg: "+" + format_mass(kg) + " per year"),
                            cost=raising["cost_eur_per_year"].map(lambda v: f"{v:,.0f} EUR per year"))
    html = exports.table_html(levers[["lever", "competence", "effect", "cost"]])
    return title, html + (exports.text_html(note) if note else "")


def build_briefing(store: Store, version_id: int, city: str, year: int, material: str) -> bytes:
    from . import exposure, scenarios  # the model's libraries: only when a briefing is asked for

    tables = store.input_tables(version_id)
    name = tables["materials"].set_index("symbol").at[material, "name"]
    figures = store.headline(version_id, city, year, material)
    headline = pd.DataFrame([{
        "quantity": METRICS[key][0], "value": format_mass(f.kg) + ("" if key.endswith("_stock") else " per year"),
        "confidence": f.confidence + (" (downscaled from national or EU figures)" if f.downscaled else ""),
        "sources": f.source_ids.replace(";", ", "),
    } for key, f in figures.items()])
    sections = [("Headline numbers", exports.table_html(headline))]

    series = store.metric_table(version_id, city, material, None, ("year",))
    chart = charts.timeseries_chart(series, ("in_use_stock", "hibernating_stock"), f"{name} in {city}: stocks", year, per_year=False)
    flows_chart = charts.timeseries_chart(series, ("new_products", "end_of_life", "secondary_supply"), "Yearly flows", year, per_year=True)
    sections.append(("Over time", exports.chart_svg(chart).decode("utf-8") + exports.chart_svg(flows_chart).decode("utf-8")))

    try:
        engine = scenarios.ScenarioEngine(tables, city, [material])
        target_year = max(year, 2035)
        sections.append(top_levers_section(engine.leverage_ranking("secondary_supply_kg", target_year), name, target_year))
    except ValueError as exc:
        sections.append(("Levers", exports.text_html(str(exc))))

    data = exposure.ExposureData.from_tables(tables)
    if data.stages(material):
        concentration = exposure.concentration(data, material)[["stage", "largest_supplier", "largest_share", "hhi_listed",
                                                                "above_65_percent"]]
        sections.append((f"Who supplies {name}", exports.table_html(concentration)))

    sources = store.sources(version_id)[["source_id", "citation", "year", "confidence_labels"]]
    sections.append(("Sources and confidence", exports.table_html(sources) + exports.text_html(
        "Confidence labels: high and medium are official or peer-reviewed figures, low a weak or secondary source, derived "
        "computed from other figures, illustrative an assumption for exploring, not for decisions.")))
    return exports.briefing_html(f"{city}: {name} ({material}), {year}", "UrbanSymbiosis city briefing", version_id, sections)
