"""Charts of quantities over the years (Altair): masses, Monte Carlo bands, rates with EU targets, scenario
against baseline, each with a rule at the selected year; and the mass unit an axis is written in.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from .system import METRICS


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
    data["quantity"] = data["metric"].map(lambda m: METRICS[m].label)
    axis_title = f"{unit} per year" if per_year else unit
    order = [METRICS[m].label for m in metrics]
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
    data["quantity"] = data["metric"].map(lambda m: METRICS[m].label)
    axis_title = f"{unit} per year" if per_year else unit
    order = [METRICS[m].label for m in metrics]
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
