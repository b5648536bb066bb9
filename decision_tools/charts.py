"""Chart builders: the Plotly Sankey of the chain and the Altair time series. No Streamlit here."""

from __future__ import annotations

import html
import json
import math

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
from pydeck.bindings import json_tools as pdk_json

from . import geography
from .formatting import format_mass, format_share
from .system import LOSS_PROCESSES, PROCESS_LABELS
from .storage import METRICS

_NODE_COLOURS = {
    "market": "#4c78a8", "use": "#4c78a8", "hibernation": "#b279a2", "end_of_life": "#9d755d",
    "separate_collection": "#54a24b", "recycling": "#54a24b", "secondary_supply": "#2e7d32",
    "residual_waste": "#e45756", "export_reuse_abroad": "#f58518", "recycling_loss": "#e45756",
    "use_stock_added": "#bab0ac", "use_stock_released": "#bab0ac",
}

# Node positions (0..1, x left to right along the chain, y top to bottom): losses leave at the top
# right, recovery at the bottom right, and nodes whose labels sit side by side are set apart in height
# (Plotly writes a label right of its node, left of it in the last column), so labels do not pile up.
_NODE_POSITIONS = {
    "market": (0.001, 0.45), "use": (0.2, 0.45), "hibernation": (0.36, 0.93), "end_of_life": (0.52, 0.45),
    "export_reuse_abroad": (0.999, 0.04), "residual_waste": (0.999, 0.26), "separate_collection": (0.64, 0.64),
    "recycling": (0.8, 0.76), "secondary_supply": (0.999, 0.5), "recycling_loss": (0.999, 0.96),
    "use_stock_added": (0.36, 0.07), "use_stock_released": (0.001, 0.95),
}
# Node labels on the chart are short (the full name and the masses are in the hover).
_SHORT_LABELS = {"market": "New products", "separate_collection": "Collected", "use_stock_added": "Added to stock",
                 "use_stock_released": "Taken from stock"}
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

    Nodes carry a short label with their mass; the hover gives the full name, what flows in and out and,
    from end of life on, the share of end of life. Losses are coloured red/orange so they stand out;
    links carry the formatted mass on hover.
    """
    totals = chain.groupby(["from_process", "to_process"], as_index=False)["kg"].sum()
    totals = pd.concat([_stock_change_links(totals), totals], ignore_index=True)
    totals = totals[totals["kg"] > 0]
    labels = {**PROCESS_LABELS, **_STOCK_LABELS}
    used = [p for p in labels if p in set(totals["from_process"]) | set(totals["to_process"])]
    index = {p: i for i, p in enumerate(used)}
    into = {p: totals.loc[totals["to_process"] == p, "kg"].sum() for p in used}
    out_of = {p: totals.loc[totals["from_process"] == p, "kg"].sum() for p in used}
    through = {p: max(into[p], out_of[p]) for p in used}
    eol = into.get("end_of_life", 0.0)
    downstream = {"end_of_life", "export_reuse_abroad", "residual_waste", "separate_collection", "recycling",
                  "secondary_supply", "recycling_loss"}

    def node_hover(p: str) -> str:
        lines = [labels[p]]
        if into[p] > 0:
            lines.append(f"in: {format_mass(into[p])} per year")
        if out_of[p] > 0:
            lines.append(f"out: {format_mass(out_of[p])} per year")
        if p in downstream and p != "end_of_life" and eol > 0:
            lines.append(f"{format_share(through[p] / eol)} of end of life")
        return "<br>".join(lines)

    figure = go.Figure(go.Sankey(
        arrangement="snap",
        valueformat=".4s",
        valuesuffix=" kg",
        node=dict(
            label=[f"{_SHORT_LABELS.get(p, labels[p])}: {format_mass(through[p])}" for p in used],
            color=[_NODE_COLOURS[p] for p in used],
            x=[_NODE_POSITIONS[p][0] for p in used], y=[_NODE_POSITIONS[p][1] for p in used],
            pad=20, thickness=16,
            customdata=[node_hover(p) for p in used],
            hovertemplate="%{customdata}<extra></extra>",
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
                         margin=dict(l=10, r=10, t=50, b=10), font=dict(size=13))
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


def _bar_rows_height(rows: int) -> int:
    """Height in pixels of a horizontal bar chart with ``rows`` bars: bars about 28 px thick, room for the
    axis title, and never a flat strip when there are only one or two bars."""
    return max(200, 44 * rows + 70)


def mci_chart(frame: pd.DataFrame) -> alt.Chart:
    """MCI per product (rows name, central, p05, p95): bars at the central run with the draws' 5-95 % range,
    the value written at the bar's end and the linear-economy floor (0.1) dashed."""
    y = alt.Y("name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=260), scale=alt.Scale(paddingInner=0.25))
    bars = alt.Chart(frame).mark_bar(color="#54a24b").encode(
        x=alt.X("central:Q", title="Material Circularity Indicator (0.1 = linear, 1 = fully restorative)",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(values=[i / 10 for i in range(11)], format=".1f")),
        y=y, tooltip=[alt.Tooltip("name:N", title="product"), alt.Tooltip("central:Q", format=".2f", title="central run"),
                      alt.Tooltip("p05:Q", format=".2f", title="5 %"), alt.Tooltip("p95:Q", format=".2f", title="95 %")])
    errors = alt.Chart(frame).mark_rule(color="#333", strokeWidth=2).encode(x="p05:Q", x2="p95:Q", y=y)
    values = alt.Chart(frame).mark_text(align="left", dx=6, color="#333").encode(
        x=alt.X("p95:Q"), y=y, text=alt.Text("central:Q", format=".2f"))
    linear = alt.Chart(pd.DataFrame({"x": [0.1]})).mark_rule(strokeDash=[3, 3], color="#888").encode(x="x:Q")
    return (bars + errors + values + linear).properties(height=_bar_rows_height(len(frame)))


def comparison_chart(frame: pd.DataFrame, value_column: str, title: str) -> alt.Chart:
    """Cities side by side (rows city, value, highlight): the picked city in blue, each value written beside its
    bar to 3 significant digits."""
    y = alt.Y("city:N", title=None, sort="-x", scale=alt.Scale(paddingInner=0.25))
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{value_column}:Q", title=title), y=y,
        color=alt.condition(alt.datum.highlight, alt.value("#4c78a8"), alt.value("#bab0ac")),
        tooltip=["city:N", alt.Tooltip(f"{value_column}:Q", format=",.3r")],
    )
    values = alt.Chart(frame).mark_text(align="left", dx=4, color="#333").encode(
        x=alt.X(f"{value_column}:Q"), y=y, text=alt.Text(f"{value_column}:Q", format=",.3r"))
    return (bars + values).properties(height=_bar_rows_height(len(frame)))


# Districts whose end of life per inhabitant differs by less than this share of the highest get one colour:
# a colour scale stretched over rounding would paint false hotspots.
DISTRICT_COLOUR_MIN_DIFFERENCE = 0.05


def district_map(districts: pd.DataFrame, centre: tuple[float, float], city: str | None = None) -> pdk.Deck:
    """District circles sized by urban-mine stock and coloured by end of life per inhabitant (one colour
    when they differ by less than DISTRICT_COLOUR_MIN_DIFFERENCE), with their names, over the country
    outlines shipped in data/geo, and the city centre marked (named ``city``): rows name, lat, lon,
    stock_kg, eol_kg, population. Needs no network."""
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
    data["priority"] = _label_priority(data["stock_kg"])
    if len(data) > 1:  # fit the districts, with a margin for the circles and labels
        view = pdk.data_utils.compute_view(data[["lon", "lat"]].to_numpy().tolist(), view_proportion=1)
        view.zoom = max(8.0, view.zoom - 0.7)
    else:
        view = pdk.ViewState(latitude=centre[0], longitude=centre[1], zoom=11)
    layers = [
        *_geography_layers(_view_bounds(view)),
        pdk.Layer("ScatterplotLayer", data, id="districts", get_position=["lon", "lat"], get_radius="radius",
                  radius_units="'pixels'", get_fill_color="colour",
                  get_line_color=[40, 40, 40, 220], line_width_min_pixels=1, stroked=True, pickable=True),
        _text_layer(data, "district_labels", "name", size=12, offset=12, zoom=view.zoom,
                    taken=_city_label_box(city, centre, view.zoom)),
        *_city_layers(city, centre),
    ]
    return _OfflineDeck(layers=layers, initial_view_state=view,
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
        color=alt.Color("competence:N", title="city's competence", legend=alt.Legend(orient="bottom", direction="vertical"),  # narrow: a phone keeps the bars
                        scale=alt.Scale(domain=["direct", "partners", "advocacy"], range=["#2e7d32", "#4c78a8", "#f58518"])),
        tooltip=["lever:N", "competence:N", alt.Tooltip(f"{value_column}:Q", format=",.4~g")],
    ).properties(height=26 * len(ranking) + 30, autosize=_FIT_WIDTH)


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
        y=alt.Y("stage:N", title=None), color=alt.Color("country:N", title="country", sort="-x",
                                                        legend=alt.Legend(orient="bottom", direction="vertical")),  # narrow: phones
        order=alt.Order("share:Q", sort="descending"),
        tooltip=["stage:N", "country:N", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=110, autosize=_FIT_WIDTH)


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


def world_exposure_map(frame: pd.DataFrame, city: tuple[str, float, float] | None = None) -> pdk.Deck:
    """The city's demand by supplying country (rows name, lat, lon, kg, stability 0..1, optionally
    country_iso3): circles sized by kg, red where political stability is weak, the supplying countries
    shaded in the same colour on the country outlines shipped in data/geo, and the city (name, lat,
    lon) marked. Only the labels of the largest suppliers that do not overlap are drawn; every circle
    has a tooltip. Needs no network."""
    data = frame.copy()
    largest = float(data["kg"].max()) or 1.0
    data["radius"] = 5 + 35 * (data["kg"] / largest) ** 0.5
    data["colour"] = [[int(60 + 195 * s), int(160 - 110 * s), int(90 - 40 * s), 200] for s in data["stability"].clip(0, 1)]
    data["kg_text"] = data["kg"].map(lambda kg: format_mass(kg) + " per year")
    data["priority"] = _label_priority(data["kg"])
    view = pdk.ViewState(latitude=22, longitude=15, zoom=0.9)  # the inhabited world across a 1000-pixel map
    shading = ({iso3: colour[:3] + [90] for iso3, colour in zip(data["country_iso3"], data["colour"])}
               if "country_iso3" in data else {})
    layers = [
        *_geography_layers(None, shading),
        pdk.Layer("ScatterplotLayer", data, id="suppliers", get_position=["lon", "lat"], get_radius="radius",
                  radius_units="'pixels'", get_fill_color="colour", get_line_color=[40, 40, 40, 220], stroked=True,
                  line_width_min_pixels=1, pickable=True),
        _text_layer(data, "supplier_labels", "name", size=12, offset=10, zoom=view.zoom,
                    taken=_city_label_box(*_city_parts(city), view.zoom)),
        *_city_layers(*_city_parts(city)),
    ]
    return _OfflineDeck(layers=layers, initial_view_state=view,
                        tooltip={"text": "{name}\n{kg_text}"})


def shortfall_chart(shortfall: pd.DataFrame) -> alt.Chart:
    """Shortfall by product, coloured by sector (rows product, sector, shortfall_kg)."""
    return alt.Chart(shortfall).mark_bar().encode(
        x=alt.X("sum(shortfall_kg):Q", title="shortfall (kg over the disruption)"),
        y=alt.Y("product:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
        color=alt.Color("sector:N", title="sector", legend=alt.Legend(orient="bottom", direction="vertical")),  # narrow: phones keep the bars
        tooltip=["product:N", "sector:N", alt.Tooltip("sum(shortfall_kg):Q", format=",.4~g", title="kg")],
    ).properties(height=34 * max(1, shortfall["product"].nunique()) + 30, autosize=_FIT_WIDTH)


def symbiosis_map(orgs: pd.DataFrame, arcs: pd.DataFrame, city: tuple[str, float, float] | None = None) -> pdk.Deck:
    """Organisations (rows name, org_type, lat, lon, short) and matches as arcs (rows from_lat,
    from_lon, to_lat, to_lon, score, label, optionally from_org, to_org) over the country outlines
    shipped in data/geo, with the selected city (name, lat, lon) marked. Short names are drawn only
    where they do not overlap, organisations with more matches first; every point has a tooltip."""
    palette = {"recycler": [46, 125, 50], "manufacturer": [76, 120, 168], "repair or reuse centre": [245, 133, 24],
               "data centre": [178, 121, 162], "hospital": [228, 87, 86], "municipality service": [157, 117, 93],
               "university": [114, 183, 178]}
    data = orgs.assign(colour=orgs["org_type"].map(lambda t: palette.get(t, [120, 120, 120]) + [220]))
    arcs = arcs.assign(width=2 + 6 * arcs["score"]) if len(arcs) else arcs
    matched = (pd.concat([arcs["from_org"], arcs["to_org"]]).value_counts()
               if len(arcs) and {"from_org", "to_org"} <= set(arcs.columns) else pd.Series(dtype=float))
    data["priority"] = _label_priority(data["name"].map(matched).fillna(0.0).astype(float))
    points = data[["lon", "lat"]].to_numpy().tolist()
    if city:
        points.append([city[2], city[1]])
    view = pdk.data_utils.compute_view(points, view_proportion=1) if len(points) > 1 else pdk.ViewState(latitude=55, longitude=15, zoom=3)
    view.zoom = max(2.5, view.zoom - 0.5)
    layers = [
        *_geography_layers(_view_bounds(view)),
        pdk.Layer("ArcLayer", arcs, id="matches", get_source_position=["from_lon", "from_lat"],
                  get_target_position=["to_lon", "to_lat"], get_source_color=[76, 120, 168, 200],
                  get_target_color=[46, 125, 50, 200], get_width="width", pickable=True),
        pdk.Layer("ScatterplotLayer", data, id="organisations", get_position=["lon", "lat"], get_radius=9,
                  radius_units="'pixels'", get_fill_color="colour", stroked=True, get_line_color=[30, 30, 30, 220],
                  line_width_min_pixels=1, pickable=True),
        _text_layer(data, "organisation_labels", "short", size=11, offset=10, zoom=view.zoom,
                    taken=_city_label_box(*_city_parts(city), view.zoom)),
        *_city_layers(*_city_parts(city)),
    ]
    return _OfflineDeck(layers=layers, initial_view_state=view, tooltip={"text": "{name}{label}"})


# Streamlit draws a Carto basemap (fetched from basemaps.cartocdn.com) under any pydeck map without a map style,
# map_style=None included; this marker, which its pydeck element removes before drawing, means "no basemap".
STREAMLIT_NO_BASEMAP = "__MAP_STYLE__"


class _OfflineDeck(pdk.Deck):
    """A pydeck Deck that asks for no basemap (so the browser fetches no tiles or styles: the country
    outlines are drawn as layers) and whose JSON has no indentation: pydeck indents every coordinate
    onto its own line, which made the world map's JSON six times larger (1.1 MB against 180 kB)."""

    def __init__(self, **kwargs):
        kwargs.update(map_style=STREAMLIT_NO_BASEMAP, map_provider=None)
        super().__init__(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=pdk_json.default_serialize, separators=(",", ":"))


# Map backgrounds: the sea as one rectangle and Natural Earth country outlines shipped in data/geo
# (decision_tools.geography), so maps read with no basemap tiles and no network.
_SEA_RGBA = [214, 230, 240, 255]
_LAND_RGBA = (241, 239, 232, 255)
_BORDER_RGBA = [150, 150, 150, 255]
_CITY_RGBA = [20, 20, 20, 255]


def _geography_layers(bounds: tuple[float, float, float, float] | None,
                      shading: dict[str, list[int]] | None = None) -> list[pdk.Layer]:
    """The sea and the country outlines meeting ``bounds`` (west, south, east, north; the whole world
    but Antarctica when None), countries in ``shading`` (alpha-3 code to RGBA) filled in that colour."""
    features = geography.country_outlines(bounds, skip=frozenset({"ATA"}))
    west, south, east, north = bounds or (-180, -85, 180, 85)
    # One rectangle per map, no larger than needed: deck.gl drew half of a whole-world rectangle at zoom 4.
    sea = [{"polygon": [[west, south], [east, south], [east, north], [west, north]]}]
    return [
        pdk.Layer("PolygonLayer", sea, id="sea", get_polygon="polygon", get_fill_color=_SEA_RGBA, stroked=False),
        pdk.Layer("GeoJsonLayer", geography.outline_layer_data(features, shading, _LAND_RGBA), id="country_outlines",
                  filled=True, stroked=True, get_fill_color="properties.fill", get_line_color=_BORDER_RGBA,
                  line_width_min_pixels=1, pickable=False),
    ]


def _view_bounds(view: pdk.ViewState) -> tuple[float, float, float, float]:
    """(west, south, east, north) of what a map of up to 1600 x 800 pixels shows at ``view``, with a
    margin: the countries and the sea drawn under it."""
    half_lon = 800 * 360 / (512 * 2 ** view.zoom) * 1.5
    half_lat = min(half_lon, 85.0)  # generous: a degree of latitude is at least as long as one of longitude
    return (view.longitude - half_lon, max(view.latitude - half_lat, -85.0),
            view.longitude + half_lon, min(view.latitude + half_lat, 85.0))


def _label_priority(values: pd.Series) -> pd.Series:
    """Label priority (where two labels would overlap, the higher is drawn): the rank of ``values``,
    scaled into -1000..1000 (ties keep their order)."""
    if values.empty:
        return values.astype(float)
    ranks = values.rank(method="first")
    return (-1000 + 2000 * (ranks - 1) / max(len(values) - 1, 1)).round(0)


def _pixel_xy(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixel position at ``zoom`` (deck.gl's 512-pixel world at zoom 0)."""
    world_px = 512 * 2 ** zoom
    lat = max(min(lat, 85.0), -85.0)
    x = (lon + 180) / 360 * world_px
    y = (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2 * world_px
    return x, y


def _label_boxes_free(data: pd.DataFrame, text_column: str, zoom: float, size: int, offset: int,
                      taken: list[tuple[float, float, float, float]] | None = None) -> pd.Series:
    """Which labels to draw so that none overlaps another at the map's first zoom: in order of
    ``priority`` (highest first) a label is kept when its box (centred under its point, ``offset``
    pixels down, about 0.6 ``size`` per character) meets no kept box nor a box in ``taken``.
    deck.gl's CollisionFilterExtension would do this in the browser, but in the deck.gl that
    Streamlit bundles (9.4) it culls every label on the first draw and hides labels drawn with a
    pixel offset (deck.gl issues 10333 and 8104). The hidden names stay in the tooltips."""
    kept = list(taken or [])
    show = pd.Series(False, index=data.index)
    for index in data.sort_values("priority", ascending=False, kind="stable").index:
        x, y = _pixel_xy(float(data.at[index, "lon"]), float(data.at[index, "lat"]), zoom)
        half_width = 0.3 * size * len(str(data.at[index, text_column])) + 2
        box = (x - half_width, y + offset, x + half_width, y + offset + 1.2 * size)
        if all(box[2] <= other[0] or box[0] >= other[2] or box[3] <= other[1] or box[1] >= other[3] for other in kept):
            kept.append(box)
            show[index] = True
    return show


def _city_label_box(city: str | None, position: tuple[float, float] | None, zoom: float) -> list[tuple[float, float, float, float]]:
    """The pixel box of the city's label (drawn above its marker by _city_layers), for _label_boxes_free."""
    if position is None:
        return []
    x, y = _pixel_xy(float(position[1]), float(position[0]), zoom)
    half_width = 0.3 * 14 * len(city or "city centre") + 6
    return [(x - half_width, y - 14 - 1.2 * 14 - 4, x + half_width, y + 2)]  # the ring's lower edge may be labelled over


# deck.gl's default label font is monospace; the page's own sans-serif reads better (a local font: no request).
_MAP_FONT = "'Source Sans, Source Sans Pro, Helvetica, Arial, sans-serif'"


def _text_layer(data: pd.DataFrame, layer_id: str, text_column: str, size: int, offset: int, zoom: float,
                taken: list[tuple[float, float, float, float]] | None = None) -> pdk.Layer:
    """Labels under points, only those that do not overlap at the first zoom (_label_boxes_free),
    so dense places do not stack into a blob."""
    shown = data[_label_boxes_free(data, text_column, zoom, size, offset, taken)] if len(data) else data
    return pdk.Layer("TextLayer", shown, id=layer_id, get_position=["lon", "lat"], get_text=text_column, get_size=size,
                     get_color=[20, 20, 20, 255], get_alignment_baseline="'top'", get_pixel_offset=[0, offset],
                     character_set="'auto'",  # names carry letters beyond ASCII (ä, Ö); quoted: pydeck evaluates strings
                     outline_width=2, outline_color=[255, 255, 255, 230], font_settings={"sdf": True},
                     font_family=_MAP_FONT)


def _city_parts(city: tuple[str, float, float] | None) -> tuple[str | None, tuple[float, float] | None]:
    """(name, (lat, lon)) of an optional (name, lat, lon)."""
    return (city[0], (city[1], city[2])) if city else (None, None)


def _city_layers(city: str | None, position: tuple[float, float] | None) -> list[pdk.Layer]:
    """The city marked as a dark ring with a dot and its name on a white box (rows of one: name,
    lat, lon). Nothing when no position is given."""
    if position is None:
        return []
    marker = pd.DataFrame({"name": [city or "city centre"], "lat": [float(position[0])], "lon": [float(position[1])]})
    return [
        pdk.Layer("ScatterplotLayer", marker, id="city_marker", get_position=["lon", "lat"], get_radius=9,
                  radius_units="'pixels'", get_fill_color=[255, 255, 255, 230], stroked=True, get_line_color=_CITY_RGBA,
                  line_width_min_pixels=3, pickable=True),
        pdk.Layer("ScatterplotLayer", marker, id="city_dot", get_position=["lon", "lat"], get_radius=3,
                  radius_units="'pixels'", get_fill_color=_CITY_RGBA),
        pdk.Layer("TextLayer", marker, id="city_label", get_position=["lon", "lat"], get_text="name", get_size=14,
                  get_color=_CITY_RGBA, font_weight="'bold'", get_alignment_baseline="'bottom'", get_pixel_offset=[0, -14],
                  background=True, get_background_color=[255, 255, 255, 220], background_padding=[4, 2],
                  character_set="'auto'", font_family=_MAP_FONT),
    ]


# The chain for narrow screens: the Sankey's flows as a short list of steps, in chain order. Each step is
# (key, label, from_process, to_process or None for a node's throughput, depth, kind, base): the share of
# the first part is of what passes through use, of the second part of what reaches end of life.
_CHAIN_STEPS = (
    ("new_products", "New products", "market", "use", 0, "input", "use"),
    ("use_stock_released", "Taken from the stock in use", "use_stock_released", "use", 0, "stock", "use"),
    ("use_stock_added", "Added to the stock in use", "use", "use_stock_added", 1, "stock", "use"),
    ("to_hibernation", "Put away at home (hibernating)", "use", "hibernation", 1, "stock", "use"),
    ("use_to_end_of_life", "Discarded from use", "use", "end_of_life", 1, "flow", "use"),
    ("end_of_life", "End of life (from use and from homes)", "end_of_life", None, 0, "flow", "end_of_life"),
    ("export_reuse_abroad", "Export / reuse abroad (lost)", "end_of_life", "export_reuse_abroad", 1, "lost", "end_of_life"),
    ("residual_waste", "Residual waste (lost)", "end_of_life", "residual_waste", 1, "lost", "end_of_life"),
    ("separate_collection", "Separately collected", "end_of_life", "separate_collection", 1, "flow", "end_of_life"),
    ("secondary_supply", "of which recovered (secondary supply)", "recycling", "secondary_supply", 2, "recovered", "end_of_life"),
    ("recycling_loss", "of which recycling losses (lost)", "recycling", "recycling_loss", 2, "lost", "end_of_life"),
    ("lost", "Lost in total", None, None, 0, "lost", "end_of_life"),
)


def chain_steps(chain: pd.DataFrame) -> pd.DataFrame:
    """The chain as a list of steps for a phone (rows from_process, to_process, kg; summed over materials).

    Returns one row per step with mass: step, label, kg (per year), share (0..1 of the step's base),
    share_of (the base in words), depth (0 a heading, 1 and 2 its parts), kind (input, stock, flow, lost,
    recovered) and text (label, mass and share, for the screen). Same flows as ``sankey_figure``: what
    passes through use (new products and stock taken out) splits into stock added, put away at home and
    discarded; end of life splits into export, residual waste and separate collection, whose recycling
    splits into secondary supply and recycling losses. Steps with no mass are left out.
    """
    totals = chain.groupby(["from_process", "to_process"])["kg"].sum()
    totals = pd.concat([totals, _stock_change_links(totals.reset_index()).set_index(["from_process", "to_process"])["kg"]])

    def flow(frm: str, to: str) -> float:
        return float(totals.get((frm, to), 0.0))

    eol = float(totals[totals.index.get_level_values("to_process") == "end_of_life"].sum())
    lost = sum(flow(frm, to) for frm, to in (("end_of_life", "export_reuse_abroad"), ("end_of_life", "residual_waste"),
                                               ("recycling", "recycling_loss")))
    through_use = flow("market", "use") + flow("use_stock_released", "use")
    bases = {"use": (through_use, "of new products" if flow("use_stock_released", "use") == 0 else "of what passes through use"),
             "end_of_life": (eol, "of end of life")}
    rows = []
    for key, label, frm, to, depth, kind, base in _CHAIN_STEPS:
        kg = eol if key == "end_of_life" else lost if key == "lost" else flow(frm, to)
        if kg <= 0:
            continue
        base_kg, share_of = bases[base]
        share = kg / base_kg if base_kg > 0 else float("nan")
        share_text = "under 0.1 %" if 0 < share < 0.001 else format_share(share)
        text = f"{label}: {format_mass(kg)}/yr" + ("" if depth == 0 and key != "lost" else f" · {share_text} {share_of}")
        rows.append((key, label, kg, share, share_of, depth, kind, text))
    return pd.DataFrame(rows, columns=["step", "label", "kg", "share", "share_of", "depth", "kind", "text"])


# Streamlit fits a chart to its container in both directions unless told otherwise: a legend below the bars
# (so a phone keeps the bars' width) would then take its height from the bars. Fit the width only.
_FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")
