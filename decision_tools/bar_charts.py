"""Bar charts that set things side by side (Altair): the MCI per product, cities, levers and business models.

This module also owns ``FIT_WIDTH``, the sizing every chart with a legend below its bars uses.
"""

from __future__ import annotations

import altair as alt
import pandas as pd


# Streamlit fits a chart to its container in both directions unless told otherwise: a legend below the bars
# (so a phone keeps the bars' width) would then take its height from the bars. Fit the width only.
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")


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


def tornado_chart(ranking: pd.DataFrame, value_column: str, title: str) -> alt.Chart:
    """Levers as horizontal bars around zero, largest effect on top (rows lever, competence, value)."""
    return alt.Chart(ranking).mark_bar().encode(
        x=alt.X(f"{value_column}:Q", title=title),
        y=alt.Y("lever:N", title=None, sort=alt.EncodingSortField(field=value_column, op="max", order="descending"),
                axis=alt.Axis(labelLimit=280)),
        color=alt.Color("competence:N", title="city's competence", legend=alt.Legend(orient="bottom", direction="vertical"),  # narrow: a phone keeps the bars
                        scale=alt.Scale(domain=["direct", "partners", "advocacy"], range=["#2e7d32", "#4c78a8", "#f58518"])),
        tooltip=["lever:N", "competence:N", alt.Tooltip(f"{value_column}:Q", format=",.4~g")],
    ).properties(height=26 * len(ranking) + 30, autosize=FIT_WIDTH)


def value_creation_chart(frame: pd.DataFrame, value_column: str, title: str) -> alt.Chart:
    """Business models side by side on one measure (rows business model, value)."""
    return alt.Chart(frame).mark_bar(color="#54a24b").encode(
        x=alt.X(f"{value_column}:Q", title=title),
        y=alt.Y("business model:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
        tooltip=["business model:N", alt.Tooltip(f"{value_column}:Q", format=",.4~g")],
    ).properties(height=30 * len(frame) + 20)
