"""Chart builders: the Plotly Sankey of the chain and the Altair time series. No Streamlit here."""

from __future__ import annotations

import altair as alt
import pandas as pd
import plotly.graph_objects as go

from .formatting import format_mass
from .model import EDGES, LOSS_PROCESSES, PROCESS_LABELS
from .storage import METRICS

NODE_ORDER = tuple(PROCESS_LABELS)
_NODE_COLOURS = {
    "market": "#4c78a8", "use": "#4c78a8", "hibernation": "#b279a2", "end_of_life": "#9d755d",
    "separate_collection": "#54a24b", "recycling": "#54a24b", "secondary_supply": "#2e7d32",
    "residual_waste": "#e45756", "export_reuse_abroad": "#f58518", "recycling_loss": "#e45756",
}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def sankey_figure(chain: pd.DataFrame, title: str) -> go.Figure:
    """Sankey of one year's chain (rows from_process, to_process, kg; summed over materials).

    Losses are coloured red/orange so they stand out; links carry the formatted mass on hover.
    """
    totals = chain.groupby(["from_process", "to_process"], as_index=False)["kg"].sum()
    totals = totals[totals["kg"] > 0]
    used = [p for p in NODE_ORDER if p in set(totals["from_process"]) | set(totals["to_process"])]
    index = {p: i for i, p in enumerate(used)}
    edge_rank = {(f, t): i for i, (f, t, _) in enumerate(EDGES)}
    totals = totals.assign(rank=[edge_rank[(f, t)] for f, t in zip(totals["from_process"], totals["to_process"])]).sort_values("rank")
    through = {p: max(totals.loc[totals["to_process"] == p, "kg"].sum(), totals.loc[totals["from_process"] == p, "kg"].sum()) for p in used}
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        valueformat=".4s",
        valuesuffix=" kg",
        node=dict(
            label=[f"{PROCESS_LABELS[p]}: {format_mass(through[p])}" for p in used],
            color=[_NODE_COLOURS[p] for p in used],
            pad=28, thickness=16,
            hovertemplate="%{label}<extra></extra>",
        ),
        link=dict(
            source=[index[f] for f in totals["from_process"]],
            target=[index[t] for t in totals["to_process"]],
            value=totals["kg"].tolist(),
            color=[_rgba(_NODE_COLOURS[t], 0.45 if t in LOSS_PROCESSES else 0.3) for t in totals["to_process"]],
            customdata=[f"{PROCESS_LABELS[f]} → {PROCESS_LABELS[t]}: {format_mass(v)} per year"
                        for f, t, v in zip(totals["from_process"], totals["to_process"], totals["kg"])],
            hovertemplate="%{customdata}<extra></extra>",
        ),
    ))
    figure.update_layout(title=dict(text=title, font=dict(size=15)), height=480, margin=dict(l=10, r=10, t=50, b=10),
                         font=dict(size=12))
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
