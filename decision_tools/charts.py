"""Chart builders: the Plotly Sankey of the chain and the Altair time series. No Streamlit here."""

from __future__ import annotations

import html

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk

from .formatting import format_mass
from .system import LOSS_PROCESSES, PROCESS_LABELS
from .storage import METRICS

_NODE_COLOURS = {
    "market": "#4c78a8", "use": "#4c78a8", "hibernation": "#b279a2", "end_of_life": "#9d755d",
    "separate_collection": "#54a24b", "recycling": "#54a24b", "secondary_supply": "#2e7d32",
    "residual_waste": "#e45756", "export_reuse_abroad": "#f58518", "recycling_loss": "#e45756",
    "use_stock_added": "#bab0ac", "use_stock_released": "#bab0ac",
}

# Node positions (0..1, x left to right along the chain, y top to bottom): losses leave at the top
# right, recovery at the bottom right, so labels do not pile up.
_NODE_POSITIONS = {
    "market": (0.001, 0.45), "use": (0.2, 0.45), "hibernation": (0.38, 0.92), "end_of_life": (0.52, 0.5),
    "export_reuse_abroad": (0.999, 0.05), "residual_waste": (0.999, 0.25), "separate_collection": (0.68, 0.65),
    "recycling": (0.8, 0.7), "secondary_supply": (0.999, 0.66), "recycling_loss": (0.999, 0.92),
    "use_stock_added": (0.38, 0.08), "use_stock_released": (0.001, 0.95),
}
# The year's net change of the in-use stock, shown as a link so that what enters use visibly goes
# somewhere. (The drawers' change is small and shows in the stocks chart.)
_STOCK_LABELS = {"use_stock_added": "Added to the stock in use", "use_stock_released": "Taken from the stock in use"}


def _stock_change_links(totals: pd.DataFrame) -> pd.DataFrame:
    net = totals.loc[totals["to_process"] == "use", "kg"].sum() - totals.loc[totals["from_process"] == "use", "kg"].sum()
    rows = [("use", "use_stock_added", net)] if net > 0 else [("use_stock_released", "use", -net)] if net < 0 else []
    return pd.DataFrame(rows, columns=["from_process", "to_process", "kg"])


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def sankey_figure(chain: pd.DataFrame, title: str) -> go.Figure:
    """Sankey of one year's chain (rows from_process, to_process, kg; summed over materials).

    Losses are coloured red/orange so they stand out; links carry the formatted mass on hover.
    """
    totals = chain.groupby(["from_process", "to_process"], as_index=False)["kg"].sum()
    totals = pd.concat([_stock_change_links(totals), totals], ignore_index=True)
    totals = totals[totals["kg"] > 0]
    labels = {**PROCESS_LABELS, **_STOCK_LABELS}
    used = [p for p in labels if p in set(totals["from_process"]) | set(totals["to_process"])]
    index = {p: i for i, p in enumerate(used)}
    through = {p: max(totals.loc[totals["to_process"] == p, "kg"].sum(), totals.loc[totals["from_process"] == p, "kg"].sum()) for p in used}
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        valueformat=".4s",
        valuesuffix=" kg",
        node=dict(
            label=[f"{labels[p]}: {format_mass(through[p])}" for p in used],
            color=[_NODE_COLOURS[p] for p in used],
            x=[_NODE_POSITIONS[p][0] for p in used], y=[_NODE_POSITIONS[p][1] for p in used],
            pad=28, thickness=16,
            hovertemplate="%{label}<extra></extra>",
        ),
        link=dict(
            source=[index[f] for f in totals["from_process"]],
            target=[index[t] for t in totals["to_process"]],
            value=totals["kg"].tolist(),
            color=[_rgba(_NODE_COLOURS[t], 0.45 if t in LOSS_PROCESSES else 0.3) for t in totals["to_process"]],
            customdata=[f"{labels[f]} → {labels[t]}: {format_mass(v)} per year"
                        for f, t, v in zip(totals["from_process"], totals["to_process"], totals["kg"])],
            hovertemplate="%{customdata}<extra></extra>",
        ),
    ))
    # Plotly reads a few HTML tags and entities in titles (<a href> becomes a link): the title is plain text.
    figure.update_layout(title=dict(text=html.escape(title, quote=False), font=dict(size=15)), height=480,
                         margin=dict(l=10, r=10, t=50, b=10), font=dict(size=12))
    return figure


def mass_unit(max_kg: float) -> tuple[float, str]:
    """A unit for an axis whose largest value is ``max_kg``: (kg per unit, unit name)."""
    if max_kg >= 1e6:
        return 1e6, "kt"
    if max_kg >= 1e3:
        return 1e3, "t"
    if max_kg >= 1.0 or max_kg == 0:
        return 1.0, "kg"
    return 1e-3, "g"


def timeseries_chart(series: pd.DataFrame, metrics: tuple[str, ...], title: str, selected_year: int,
                     per_year: bool) -> alt.Chart:
    """Lines of the given metrics over the years (rows year, metric, kg), with a rule at the selected year."""
    data = series[series["metric"].isin(metrics)].copy()
    factor, unit = mass_unit(float(data["kg"].abs().max()) if not data.empty else 0.0)
    data["value"] = data["kg"] / factor
    data["quantity"] = data["metric"].map(lambda m: METRICS[m][0])
    axis_title = f"{unit} per year" if per_year else unit
    order = [METRICS[m][0] for m in metrics]
    lines = alt.Chart(data).mark_line(strokeWidth=2.5).encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")),
        y=alt.Y("value:Q", title=axis_title),
        color=alt.Color("quantity:N", title=None, sort=order, legend=alt.Legend(orient="bottom", columns=2)),
        tooltip=[alt.Tooltip("year:Q", format="d"), alt.Tooltip("quantity:N"), alt.Tooltip("value:Q", title=axis_title, format=",.3~f")],
    )
    rule = alt.Chart(pd.DataFrame({"year": [selected_year]})).mark_rule(strokeDash=[4, 4], color="#888").encode(x="year:Q")
    return (lines + rule).properties(title=title, height=300)


def band_chart(bands: pd.DataFrame, metrics: tuple[str, ...], title: str, selected_year: int, per_year: bool) -> alt.Chart:
    """Central-run lines with the draws' 5-95 % band (rows year, metric, central, p05, p95 in kg)."""
    data = bands[bands["metric"].isin(metrics)].copy()
    factor, unit = mass_unit(float(data[["central", "p95"]].abs().max().max()) if not data.empty else 0.0)
    for column in ("central", "p05", "p95"):
        data[column] = data[column] / factor
    data["quantity"] = data["metric"].map(lambda m: METRICS[m][0])
    axis_title = f"{unit} per year" if per_year else unit
    order = [METRICS[m][0] for m in metrics]
    colour = alt.Color("quantity:N", title=None, sort=order, legend=alt.Legend(orient="bottom", columns=2))
    x = alt.X("year:Q", title="Year", axis=alt.Axis(format="d"))
    band = alt.Chart(data).mark_area(opacity=0.2).encode(x=x, y=alt.Y("p05:Q", title=axis_title), y2="p95:Q", color=colour)
    line = alt.Chart(data).mark_line(strokeWidth=2.5).encode(
        x=x, y="central:Q", color=colour,
        tooltip=[alt.Tooltip("year:Q", format="d"), "quantity:N", alt.Tooltip("central:Q", format=",.3~f", title=f"central run ({axis_title})"),
                 alt.Tooltip("p05:Q", format=",.3~f", title="5 %"), alt.Tooltip("p95:Q", format=",.3~f", title="95 %")],
    )
    rule = alt.Chart(pd.DataFrame({"year": [selected_year]})).mark_rule(strokeDash=[4, 4], color="#888").encode(x="year:Q")
    return (band + line + rule).properties(title=title, height=300)


def rate_chart(bands: pd.DataFrame, label: str, targets: pd.DataFrame, selected_year: int,
               scoped: pd.DataFrame | None = None) -> alt.Chart:
    """One rate over the years (rows year, central or median, p05, p95 as shares) with its band; the
    same rate over fewer products (``scoped``: rows series, year, central, p05, p95), one line each;
    and EU targets (rows year, value_share, label: what it is and which rate it is compared with; see
    decision_tools.targets) as dashed red lines from their year on. Every line is named in the legend."""
    def percent(frame: pd.DataFrame) -> pd.DataFrame:
        value = "central" if "central" in frame.columns else "median"
        return frame.assign(value=frame[value] * 100, p05=frame["p05"] * 100, p95=frame["p95"] * 100)

    main = f"{label}, every product shown"
    data = percent(bands).assign(series=main)
    part = (percent(scoped[["series", "year", "central" if "central" in scoped.columns else "median", "p05", "p95"]])
            if scoped is not None and not scoped.empty else data.iloc[:0])
    first, last = int(data["year"].min()), int(data["year"].max())
    lines = pd.DataFrame({"series": targets["label"].astype(str) if not targets.empty else [],
                          "value": targets["value_share"].astype(float) * 100 if not targets.empty else [],
                          "year": targets["year"].astype(int) if not targets.empty else []})
    lines = lines.assign(start=lines["year"].clip(first, last), end=last)
    scoped_names = list(dict.fromkeys(part["series"]))
    target_names = list(dict.fromkeys(lines["series"]))
    palette = ["#f58518", "#54a24b", "#b279a2", "#9d755d"]
    colour = alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=900),
                       scale=alt.Scale(domain=[main, *scoped_names, *target_names],
                                       range=["#4c78a8", *palette[:len(scoped_names)], *["#e45756"] * len(target_names)]))
    x = alt.X("year:Q", title="Year", axis=alt.Axis(format="d"), scale=alt.Scale(domain=[first, last]))
    y_title = f"{label} (%)"
    band_tooltip = [alt.Tooltip("value:Q", format=".1f", title="value %"), alt.Tooltip("p05:Q", format=".1f", title="5 %"),
                    alt.Tooltip("p95:Q", format=".1f", title="95 %")]
    rates = pd.concat([data, part], ignore_index=True)
    layers = [
        alt.Chart(rates).mark_area(opacity=0.15).encode(x=x, y=alt.Y("p05:Q", title=y_title), y2="p95:Q", color=colour),
        alt.Chart(rates).mark_line(strokeWidth=2.5).encode(
            x=x, y="value:Q", color=colour, tooltip=["series:N", alt.Tooltip("year:Q", format="d"), *band_tooltip]),
        alt.Chart(pd.DataFrame({"year": [selected_year]})).mark_rule(strokeDash=[4, 4], color="#888").encode(x="year:Q"),
    ]
    if not lines.empty:
        layers.append(alt.Chart(lines).mark_rule(strokeDash=[6, 3], strokeWidth=2).encode(
            x="start:Q", x2="end:Q", y="value:Q", color=colour,
            tooltip=[alt.Tooltip("series:N", title="target"), alt.Tooltip("value:Q", format=".1f", title="target %"),
                     alt.Tooltip("year:Q", format="d", title="applies from")]))
        layers.append(alt.Chart(lines).mark_point(filled=True, size=60).encode(x="start:Q", y="value:Q", color=colour))
    return alt.layer(*layers).properties(title=f"{label} over time, with the EU targets it can be compared with (red)",
                                         height=300)


def mci_chart(frame: pd.DataFrame) -> alt.Chart:
    """MCI per product (rows name, central, p05, p95): bars at the central run with the draws' 5-95 % range."""
    y = alt.Y("name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=260))
    bars = alt.Chart(frame).mark_bar(color="#54a24b").encode(
        x=alt.X("central:Q", title="Material Circularity Indicator (0.1 linear ... 1 restorative)", scale=alt.Scale(domain=[0, 1])),
        y=y, tooltip=["name:N", alt.Tooltip("central:Q", format=".2f", title="central run"), alt.Tooltip("p05:Q", format=".2f", title="5 %"),
                      alt.Tooltip("p95:Q", format=".2f", title="95 %")])
    errors = alt.Chart(frame).mark_rule(color="#333").encode(x="p05:Q", x2="p95:Q", y=y)
    linear = alt.Chart(pd.DataFrame({"x": [0.1]})).mark_rule(strokeDash=[3, 3], color="#888").encode(x="x:Q")
    return (bars + errors + linear).properties(height=max(120, 32 * len(frame)))


def comparison_chart(frame: pd.DataFrame, value_column: str, title: str) -> alt.Chart:
    """Cities side by side (rows city, value, highlight)."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{value_column}:Q", title=title), y=alt.Y("city:N", title=None, sort="-x"),
        color=alt.condition(alt.datum.highlight, alt.value("#4c78a8"), alt.value("#bab0ac")),
        tooltip=["city:N", alt.Tooltip(f"{value_column}:Q", format=",.3~f")],
    ).properties(height=32 * len(frame) + 20)


# Districts whose end of life per inhabitant differs by less than this share of the highest get one colour:
# a colour scale stretched over rounding would paint false hotspots.
DISTRICT_COLOUR_MIN_DIFFERENCE = 0.05


def district_map(districts: pd.DataFrame, centre: tuple[float, float]) -> pdk.Deck:
    """District circles sized by urban-mine stock and coloured by end of life per inhabitant (one colour
    when they differ by less than DISTRICT_COLOUR_MIN_DIFFERENCE), with their names: rows name, lat,
    lon, stock_kg, eol_kg, population. No basemap is needed."""
    data = districts.copy()
    largest = float(data["stock_kg"].max()) or 1.0
    data["radius"] = 6 + 26 * (data["stock_kg"] / largest) ** 0.5  # pixels; area follows the stock
    per_inhabitant = data["eol_kg"] / data["population"].where(data["population"] > 0)
    span = float(per_inhabitant.max() - per_inhabitant.min())
    if span <= DISTRICT_COLOUR_MIN_DIFFERENCE * float(per_inhabitant.abs().max() or 0.0):
        shade = pd.Series(0.5, index=data.index)  # no district stands out
    else:
        shade = ((per_inhabitant - per_inhabitant.min()) / span).fillna(0.0)
    data["colour"] = [[int(80 + 175 * s), int(140 - 90 * s), int(200 - 150 * s), 190] for s in shade]
    data["stock_text"] = data["stock_kg"].map(format_mass)
    data["eol_text"] = data["eol_kg"].map(lambda kg: format_mass(kg) + " per year")
    layers = [
        pdk.Layer("ScatterplotLayer", data, get_position=["lon", "lat"], get_radius="radius", radius_units="'pixels'",
                  get_fill_color="colour",
                  get_line_color=[40, 40, 40, 220], line_width_min_pixels=1, stroked=True, pickable=True),
        pdk.Layer("TextLayer", data, get_position=["lon", "lat"], get_text="name", get_size=12,
                  get_color=[20, 20, 20, 255], get_alignment_baseline="'top'", get_pixel_offset=[0, 12],
                  character_set="'auto'"),  # names carry letters beyond ASCII (ä, Ö); quoted: pydeck evaluates strings
    ]
    if len(data) > 1:  # fit the districts, with a margin for the circles and labels
        view = pdk.data_utils.compute_view(data[["lon", "lat"]].to_numpy().tolist(), view_proportion=1)
        view.zoom = max(8.0, view.zoom - 0.7)
    else:
        view = pdk.ViewState(latitude=centre[0], longitude=centre[1], zoom=11)
    return pdk.Deck(layers=layers, initial_view_state=view, map_style=None,
                    tooltip={"text": "{name}\nurban mine: {stock_text}\nend of life: {eol_text}"})


def scenario_chart(series: pd.DataFrame, label: str, unit: str, selected_year: int) -> alt.Chart:
    """Baseline against scenario over the years (rows year, run, value)."""
    data = series.copy()
    if unit == "share":
        data["value"] = data["value"] * 100
        unit = "%"
    return (alt.Chart(data).mark_line(strokeWidth=2.5).encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")), y=alt.Y("value:Q", title=f"{label} ({unit})"),
        color=alt.Color("run:N", title=None, scale=alt.Scale(domain=["baseline", "scenario"], range=["#9d9d9d", "#2e7d32"]),
                        legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("run:N", scale=alt.Scale(domain=["baseline", "scenario"], range=[[5, 4], [1, 0]]), legend=None),
        tooltip=[alt.Tooltip("year:Q", format="d"), "run:N", alt.Tooltip("value:Q", format=",.4~g")],
    ) + alt.Chart(pd.DataFrame({"year": [selected_year]})).mark_rule(strokeDash=[4, 4], color="#888").encode(x="year:Q")
    ).properties(title=f"{label}: scenario against the baseline", height=300)


def tornado_chart(ranking: pd.DataFrame, value_column: str, title: str) -> alt.Chart:
    """Levers as horizontal bars around zero, largest effect on top (rows lever, competence, value)."""
    return alt.Chart(ranking).mark_bar().encode(
        x=alt.X(f"{value_column}:Q", title=title),
        y=alt.Y("lever:N", title=None, sort=alt.EncodingSortField(field=value_column, op="max", order="descending"),
                axis=alt.Axis(labelLimit=280)),
        color=alt.Color("competence:N", title="city's competence",
                        scale=alt.Scale(domain=["direct", "partners", "advocacy"], range=["#2e7d32", "#4c78a8", "#f58518"])),
        tooltip=["lever:N", "competence:N", alt.Tooltip(f"{value_column}:Q", format=",.4~g")],
    ).properties(height=26 * len(ranking) + 30)


def value_creation_chart(frame: pd.DataFrame, value_column: str, title: str) -> alt.Chart:
    """Business models side by side on one measure (rows business model, value)."""
    return alt.Chart(frame).mark_bar(color="#54a24b").encode(
        x=alt.X(f"{value_column}:Q", title=title),
        y=alt.Y("business model:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
        tooltip=["business model:N", alt.Tooltip(f"{value_column}:Q", format=",.4~g")],
    ).properties(height=30 * len(frame) + 20)


def criticality_chart(eu: pd.DataFrame, highlight: set[str]) -> alt.Chart:
    """Supply risk against economic importance for every assessed material, with the EU thresholds
    (SR 1.0, EI 2.8); critical and strategic materials marked, the modelled ones labelled."""
    data = eu.assign(
        status=np.where(eu["strategic_2024"].astype(bool), "strategic and critical",
                        np.where(eu["critical_2023"].astype(bool), "critical", "not critical")),
        label=eu["symbol"].fillna(""), chosen=eu["symbol"].isin(highlight))
    colour = alt.Color("status:N", title=None, scale=alt.Scale(domain=["strategic and critical", "critical", "not critical"],
                                                               range=["#e45756", "#f58518", "#9d9d9d"]),
                       legend=alt.Legend(orient="bottom"))
    base = alt.Chart(data).encode(x=alt.X("economic_importance:Q", title="Economic importance (EI)", scale=alt.Scale(domain=[0, 9.5])),
                                  y=alt.Y("supply_risk:Q", title="Supply risk (SR)", scale=alt.Scale(domain=[0, 6])))
    points = base.mark_circle(opacity=0.85).encode(
        color=colour, size=alt.condition(alt.datum.chosen, alt.value(260), alt.value(60)),
        stroke=alt.condition(alt.datum.chosen, alt.value("#111"), alt.value(None)),
        tooltip=["material_name:N", "symbol:N", "supply_risk:Q", "economic_importance:Q", "bottleneck_stage:N", "status:N"])
    labels = base.mark_text(dx=8, align="left", fontSize=11).encode(text="label:N", color=alt.value("#333"))
    thresholds = (alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[5, 4], color="#555").encode(y="y:Q")
                  + alt.Chart(pd.DataFrame({"x": [2.8]})).mark_rule(strokeDash=[5, 4], color="#555").encode(x="x:Q"))
    return (thresholds + points + labels).properties(height=420, title="EU criticality 2023: critical when SR >= 1.0 and EI >= 2.8")


def supplier_chart(shares: pd.DataFrame) -> alt.Chart:
    """Supply shares by country for each stage (rows stage, country, share)."""
    return alt.Chart(shares).mark_bar().encode(
        x=alt.X("share:Q", title="share of world supply", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("stage:N", title=None), color=alt.Color("country:N", title="country", sort="-x"),
        order=alt.Order("share:Q", sort="descending"),
        tooltip=["stage:N", "country:N", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=110)


def supply_risk_curve(curve: pd.DataFrame, current: tuple[float, float]) -> alt.Chart:
    """EU supply risk against the EOL-RIR (rows eol_rir, supply_risk), the published point marked,
    with the 1.0 criticality threshold."""
    line = alt.Chart(curve).mark_line(color="#4c78a8", strokeWidth=2.5).encode(
        x=alt.X("eol_rir:Q", title="End-of-life recycling input rate", axis=alt.Axis(format="%")),
        y=alt.Y("supply_risk:Q", title="Supply risk"), tooltip=[alt.Tooltip("eol_rir:Q", format=".0%"), alt.Tooltip("supply_risk:Q", format=".2f")])
    point = alt.Chart(pd.DataFrame({"eol_rir": [current[0]], "supply_risk": [current[1]]})).mark_point(
        color="#e45756", size=90, filled=True).encode(x="eol_rir:Q", y="supply_risk:Q")
    threshold = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[5, 4], color="#555").encode(y="y:Q")
    return (line + point + threshold).properties(height=260, title="What if more came from recycling?")


def world_exposure_map(frame: pd.DataFrame) -> pdk.Deck:
    """The city's demand by supplying country (rows name, lat, lon, kg, stability 0..1): circles sized
    by kg, red where political stability is weak; a graticule so it reads without basemap tiles."""
    data = frame.copy()
    largest = float(data["kg"].max()) or 1.0
    data["radius"] = 5 + 35 * (data["kg"] / largest) ** 0.5
    data["colour"] = [[int(60 + 195 * s), int(160 - 110 * s), int(90 - 40 * s), 200] for s in data["stability"].clip(0, 1)]
    data["kg_text"] = data["kg"].map(lambda kg: format_mass(kg) + " per year")
    graticule = [{"path": [[lon, lat] for lat in range(-80, 81, 5)]} for lon in range(-180, 181, 30)] + \
                [{"path": [[lon, lat] for lon in range(-180, 181, 5)]} for lat in range(-60, 61, 30)]
    layers = [
        pdk.Layer("PathLayer", graticule, get_path="path", get_color=[200, 200, 200, 160], width_min_pixels=1),
        pdk.Layer("ScatterplotLayer", data, get_position=["lon", "lat"], get_radius="radius", radius_units="'pixels'",
                  get_fill_color="colour", get_line_color=[40, 40, 40, 220], stroked=True, line_width_min_pixels=1, pickable=True),
        pdk.Layer("TextLayer", data, get_position=["lon", "lat"], get_text="name", get_size=12, get_color=[20, 20, 20, 255],
                  get_alignment_baseline="'top'", get_pixel_offset=[0, 10], character_set="'auto'"),
    ]
    return pdk.Deck(layers=layers, initial_view_state=pdk.ViewState(latitude=20, longitude=20, zoom=0.25),
                    map_style=None, tooltip={"text": "{name}\n{kg_text}"})


def shortfall_chart(shortfall: pd.DataFrame) -> alt.Chart:
    """Shortfall by product, coloured by sector (rows product, sector, shortfall_kg)."""
    return alt.Chart(shortfall).mark_bar().encode(
        x=alt.X("sum(shortfall_kg):Q", title="shortfall (kg over the disruption)"),
        y=alt.Y("product:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)), color=alt.Color("sector:N", title="sector"),
        tooltip=["product:N", "sector:N", alt.Tooltip("sum(shortfall_kg):Q", format=",.4~g", title="kg")],
    ).properties(height=34 * max(1, shortfall["product"].nunique()) + 30)


def symbiosis_map(orgs: pd.DataFrame, arcs: pd.DataFrame) -> pdk.Deck:
    """Organisations (rows name, org_type, lat, lon) and matches as arcs (rows from_lat, from_lon,
    to_lat, to_lon, score, label). Reads without basemap tiles."""
    palette = {"recycler": [46, 125, 50], "manufacturer": [76, 120, 168], "repair or reuse centre": [245, 133, 24],
               "data centre": [178, 121, 162], "hospital": [228, 87, 86], "municipality service": [157, 117, 93],
               "university": [114, 183, 178]}
    data = orgs.assign(colour=orgs["org_type"].map(lambda t: palette.get(t, [120, 120, 120]) + [220]))
    arcs = arcs.assign(width=2 + 6 * arcs["score"]) if len(arcs) else arcs
    layers = [
        pdk.Layer("ArcLayer", arcs, get_source_position=["from_lon", "from_lat"], get_target_position=["to_lon", "to_lat"],
                  get_source_color=[76, 120, 168, 200], get_target_color=[46, 125, 50, 200], get_width="width", pickable=True),
        pdk.Layer("ScatterplotLayer", data, get_position=["lon", "lat"], get_radius=9, radius_units="'pixels'",
                  get_fill_color="colour", stroked=True, get_line_color=[30, 30, 30, 220], line_width_min_pixels=1, pickable=True),
        pdk.Layer("TextLayer", data, get_position=["lon", "lat"], get_text="short", get_size=11, get_color=[20, 20, 20, 255],
                  get_alignment_baseline="'top'", get_pixel_offset=[0, 10], character_set="'auto'"),
    ]
    points = data[["lon", "lat"]].to_numpy().tolist()
    view = pdk.data_utils.compute_view(points, view_proportion=1) if len(points) > 1 else pdk.ViewState(latitude=55, longitude=15, zoom=3)
    view.zoom = max(2.5, view.zoom - 0.5)
    return pdk.Deck(layers=layers, initial_view_state=view, map_style=None, tooltip={"text": "{name}{label}"})
