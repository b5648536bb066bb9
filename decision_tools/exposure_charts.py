"""Charts of supply exposure (Altair): EU criticality, supply shares by country, supply risk against
recycling, and a disruption's shortfall by product.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .bar_charts import FIT_WIDTH


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
    ).properties(height=110, autosize=FIT_WIDTH)


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


def shortfall_chart(shortfall: pd.DataFrame) -> alt.Chart:
    """Shortfall by product, coloured by sector (rows product, sector, shortfall_kg)."""
    return alt.Chart(shortfall).mark_bar().encode(
        x=alt.X("sum(shortfall_kg):Q", title="shortfall (kg over the disruption)"),
        y=alt.Y("product:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
        color=alt.Color("sector:N", title="sector", legend=alt.Legend(orient="bottom", direction="vertical")),  # narrow: phones keep the bars
        tooltip=["product:N", "sector:N", alt.Tooltip("sum(shortfall_kg):Q", format=",.4~g", title="kg")],
    ).properties(height=34 * max(1, shortfall["product"].nunique()) + 30, autosize=FIT_WIDTH)
