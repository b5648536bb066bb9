"""The city briefing: what it says (``gather``: headline numbers, the chain, losses, supplier countries,
the levers for the briefing's own year, sources, a plain narrative) and the printable HTML version
(``build_briefing``). The PDF version is drawn by ``pdf_briefing`` from the same ``BriefingData``.
Everything user-provided is escaped."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import exports, time_charts
from .exports import reference_entry
from .formatting import format_mass, format_share
from .provenance import split_sources
from .storage import Figure, Store
from .system import METRICS
from .system import LOSS_PROCESSES, PROCESS_LABELS

LEVER_OBJECTIVE = "secondary_supply_kg"
REST_OF_WORLD_NAME = "Rest of world (unspecified)"
CONFIDENCE_NOTE = ("Confidence labels: high and medium are official or peer-reviewed figures, low a weak or secondary "
                   "source, derived computed from other figures, illustrative an assumption for exploring, not for decisions.")


@dataclass
class BriefingData:
    """Everything a briefing shows, computed once for the HTML and the PDF."""

    city: str
    year: int
    material: str
    material_name: str
    version_id: int
    dataset_date: str
    figures: dict[str, Figure]
    chain: pd.DataFrame  # from_process, to_process, kg (this material, this year)
    losses: pd.DataFrame  # route, kg: largest first
    suppliers: pd.DataFrame  # stage, country (name), share 0..1, confidence: largest first per stage
    lever_title: str
    levers: pd.DataFrame  # the levers that raise secondary supply in ``year``, largest first
    lever_note: str  # what was left out, or why there is no lever
    sources: pd.DataFrame  # source_id, short_citation, confidence_labels
    narrative: str = ""
    series: pd.DataFrame = field(default_factory=pd.DataFrame)


def top_levers_section(ranking: pd.DataFrame, material_name: str, year: int, top: int = 5) -> tuple[str, str]:
    """The briefing's lever section from a leverage ranking on secondary supply (kg per year): only the
    levers that raise it (never those that lower it or do nothing for this material), largest first,
    with a sentence on what was left out, or a sentence saying no lever raises it."""
    title, raising, note = _raising_levers(ranking, material_name, year, top)
    if raising.empty:
        return title, exports.text_html(note)
    html = exports.table_html(_lever_table(raising))
    return title, html + (exports.text_html(note) if note else "")


def _raising_levers(ranking: pd.DataFrame, material_name: str, year: int, top: int = 5) -> tuple[str, pd.DataFrame, str]:
    from .scenarios import IMPROVES

    title = f"Top levers for secondary supply in {year} (illustrative)"
    raising = ranking[ranking["verdict"] == IMPROVES].sort_values("effect", ascending=False).head(top)
    left_out = len(ranking) - int((ranking["verdict"] == IMPROVES).sum())
    note = (f"{left_out} lever(s) that lower secondary supply of {material_name} or do nothing for it are left out."
            if left_out else "")
    if raising.empty:
        note = f"No lever raises the secondary supply of {material_name} in {year}. {note}".strip()
    return title, raising, note


def _lever_table(raising: pd.DataFrame) -> pd.DataFrame:
    return raising.assign(effect=raising["effect"].map(lambda kg: "+" + format_mass(kg) + " per year"),
                          cost=raising["cost_eur_per_year"].map(lambda v: f"{v:,.0f} EUR per year"))[
        ["lever", "competence", "effect", "cost"]]


def levers_for_year(tables: dict[str, pd.DataFrame], city: str, material: str, material_name: str,
                    year: int) -> tuple[str, pd.DataFrame, str]:
    """The levers that raise secondary supply of ``material`` in the briefing's own ``year`` (title,
    raising levers, note). Before the first lever starts, no lever is evaluated and the note says so."""
    from . import scenarios  # the model's libraries: only when a briefing is asked for

    try:
        engine = scenarios.ScenarioEngine(tables, city, [material])
    except ValueError as exc:
        return "Levers", pd.DataFrame(), str(exc)
    first_start = min((lever.start_year for lever in engine.levers.values()), default=None)
    if first_start is None or year < first_start:
        title = f"Top levers for secondary supply in {year} (illustrative)"
        when = f"No lever acts before {first_start}" if first_start else "No lever is defined"
        return title, pd.DataFrame(), (f"{when}, so none changes {material_name} in {year}. A briefing for a later "
                                       "year (for instance 2035) shows what they do.")
    return _raising_levers(engine.leverage_ranking(LEVER_OBJECTIVE, year), material_name, year)


def supplier_countries(tables: dict[str, pd.DataFrame], material: str, top: int = 6) -> pd.DataFrame:
    """Supplier countries of ``material`` by name at every stage with data (bottleneck stage first):
    the ``top`` largest named countries with their share 0..1, then the rest of the world."""
    from . import exposure

    data = exposure.ExposureData.from_tables(tables)
    names = data.countries["name"].to_dict()
    shares = tables["supplier_shares"]
    bottleneck = data.materials.at[material, "bottleneck_stage"] if material in data.materials.index else None
    rows = []
    for stage in sorted(data.stages(material), key=lambda s: (s != bottleneck, s)):
        _, by_country = data.supply(material, stage)
        named = by_country.drop(exposure.REST_OF_WORLD, errors="ignore").sort_values(ascending=False)
        labels = shares[(shares["material"] == material) & (shares["stage"] == stage)].set_index("country_iso3")["confidence"]
        for iso, share in named.head(top).items():
            rows.append({"stage": stage, "country": names.get(iso, iso), "share": float(share),
                         "confidence": str(labels.get(iso, ""))})
        rest = float(by_country.sum()) - float(named.head(top).sum())
        if rest > 1e-9:
            rows.append({"stage": stage, "country": REST_OF_WORLD_NAME, "share": rest, "confidence": ""})
    return pd.DataFrame(rows, columns=["stage", "country", "share", "confidence"])


def losses(chain: pd.DataFrame) -> pd.DataFrame:
    """Where the material is lost this year (route label, kg per year), largest first."""
    lost = chain[chain["to_process"].isin(LOSS_PROCESSES)].groupby("to_process", as_index=False)["kg"].sum()
    lost = lost[lost["kg"] > 0].sort_values("kg", ascending=False)
    return pd.DataFrame({"route": lost["to_process"].map(PROCESS_LABELS), "kg": lost["kg"]}).reset_index(drop=True)


def narrative(data: BriefingData) -> str:
    """One plain paragraph built from the numbers: stocks, recycled share, largest losses, top supplier,
    best levers."""
    figures, name, year = data.figures, data.material_name, data.year

    def kg(key: str) -> float:
        return figures[key].kg if key in figures else 0.0

    if sum(abs(f.kg) for f in figures.values()) == 0:
        return (f"No product in the city model contains {name} in measurable amounts, so {data.city} shows no stock "
                f"or flow of it in {year}.")
    parts = [f"In {year}, {data.city} held {format_mass(kg('in_use_stock'))} of {name} in products in use, and "
             f"{format_mass(kg('hibernating_stock'))} more lay hibernating in unused devices at home."]
    eol = kg("end_of_life")
    if eol > 0:
        parts.append(f"{format_mass(eol)} reached end of life that year; {format_share(kg('secondary_supply') / eol)} of it "
                     f"was recovered as secondary raw material ({format_mass(kg('secondary_supply'))}).")
    if not data.losses.empty:
        named = [f"{row.route.lower()} ({format_mass(row.kg)})" for row in data.losses.head(2).itertuples()]
        parts.append("The largest losses were " + " and ".join(named) + ".")
    if not data.suppliers.empty:
        top = data.suppliers[data.suppliers["country"] != REST_OF_WORLD_NAME].iloc[0]
        parts.append(f"{top['country']} is the largest supplier at the {top['stage']} stage, with "
                     f"{format_share(top['share'])} of world supply.")
    if not data.levers.empty:
        best = [f"{row.lever} (+{format_mass(row.effect)} per year)" for row in data.levers.head(2).itertuples()]
        parts.append(f"The lever{'s' if len(best) > 1 else ''} that raise{'' if len(best) > 1 else 's'} secondary supply most "
                     f"in {year}: " + " and ".join(best) + "; these effects are illustrative.")
    elif data.lever_note:
        parts.append(data.lever_note)
    return " ".join(parts)


def _cited_sources(store: Store, version_id: int, tables: dict[str, pd.DataFrame], figures: dict[str, Figure],
                   material: str, lever_ids: list[str]) -> pd.DataFrame:
    """The sources behind this briefing's numbers (headline figures, the material, its supplier shares,
    the levers shown), as short citations with the confidence labels of the rows citing them."""
    ids = set()
    for figure in figures.values():
        ids.update(split_sources(figure.source_ids))
    for name, column in (("materials", "symbol"), ("supplier_shares", "material")):
        frame = tables[name]
        for cited in frame.loc[frame[column] == material, "source_id"]:
            ids.update(split_sources(cited))
    levers = tables["levers"]
    for cited in levers.loc[levers["lever_id"].isin(lever_ids), "source_id"]:
        ids.update(split_sources(cited))
    sources = store.sources(version_id)
    sources = sources[sources["source_id"].isin(ids)]
    return pd.DataFrame({
        "source_id": sources["source_id"],
        "short_citation": [reference_entry(p, y, c) for p, y, c in zip(sources["publisher"], sources["year"], sources["citation"])],
        "confidence_labels": sources["confidence_labels"].fillna(""),
    }).reset_index(drop=True)


def gather(store: Store, version_id: int, city: str, year: int, material: str) -> BriefingData:
    """Everything the briefing shows for one city, year and material, from one dataset version."""
    tables = store.input_tables(version_id)
    name = tables["materials"].set_index("symbol").at[material, "name"]
    figures = store.headline(version_id, city, year, material)
    chain = store.chain(version_id, city, year, material)
    versions = store.versions().set_index("version_id")
    created = versions.at[version_id, "created_at"] if version_id in versions.index else None
    lever_title, levers, lever_note = levers_for_year(tables, city, material, name, year)
    data = BriefingData(
        city=city, year=year, material=material, material_name=name, version_id=version_id,
        dataset_date=f"{pd.Timestamp(created):%Y-%m-%d}" if created is not None and pd.notna(created) else "unknown",
        figures=figures, chain=chain[["from_process", "to_process", "kg"]], losses=losses(chain),
        suppliers=supplier_countries(tables, material), lever_title=lever_title, levers=levers, lever_note=lever_note,
        sources=_cited_sources(store, version_id, tables, figures, material,
                               list(levers["lever_id"]) if "lever_id" in levers else []),
        series=store.metric_table(version_id, city, material, None, ("year",)),
    )
    data.narrative = narrative(data)
    return data


def headline_table(figures: dict[str, Figure]) -> pd.DataFrame:
    """Headline numbers for reading; their sources are listed once, as short citations, at the end."""
    return pd.DataFrame([{
        "quantity": METRICS[key].label, "value": format_mass(f.kg) + ("" if key.endswith("_stock") else " per year"),
        "confidence": f.confidence + (" (downscaled from national or EU figures)" if f.downscaled else ""),
    } for key, f in figures.items()], columns=["quantity", "value", "confidence"])


def supplier_table(suppliers: pd.DataFrame) -> pd.DataFrame:
    """Supplier countries for reading: names, shares in percent."""
    return pd.DataFrame({"stage": suppliers["stage"], "country": suppliers["country"],
                         "share of world supply": suppliers["share"].map(format_share),
                         "confidence": suppliers["confidence"]})


def build_briefing(store: Store, version_id: int, city: str, year: int, material: str,
                   data: BriefingData | None = None) -> bytes:
    """The printable HTML briefing."""
    data = data or gather(store, version_id, city, year, material)
    name = data.material_name
    sections = [("Summary", exports.text_html(data.narrative)), ("Headline numbers", exports.table_html(headline_table(data.figures)))]

    chart = time_charts.timeseries_chart(data.series, ("in_use_stock", "hibernating_stock"), f"{name} in {city}: stocks", year, per_year=False)
    flows_chart = time_charts.timeseries_chart(data.series, ("new_products", "end_of_life", "secondary_supply"), "Yearly flows", year, per_year=True)
    sections.append(("Over time", exports.chart_svg(chart).decode("utf-8") + exports.chart_svg(flows_chart).decode("utf-8")))

    if data.levers.empty:
        sections.append((data.lever_title, exports.text_html(data.lever_note)))
    else:
        sections.append((data.lever_title, exports.table_html(_lever_table(data.levers))
                         + (exports.text_html(data.lever_note) if data.lever_note else "")))

    if not data.suppliers.empty:
        sections.append((f"Who supplies {name}", exports.table_html(supplier_table(data.suppliers))))

    sources = data.sources.rename(columns={"short_citation": "source"})
    sections.append(("Sources and confidence", exports.table_html(sources) + exports.text_html(CONFIDENCE_NOTE)))
    return exports.briefing_html(f"{city}: {name} ({material}), {year}",
                                 f"UrbanSymbiosis city briefing · dataset of {data.dataset_date}", version_id, sections)


def build_briefing_pdf(store: Store, version_id: int, city: str, year: int, material: str) -> bytes:
    """The same briefing as a PDF (decision_tools.pdf_briefing)."""
    from . import pdf_briefing

    return pdf_briefing.render(gather(store, version_id, city, year, material))
