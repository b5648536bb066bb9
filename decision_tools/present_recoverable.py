"""Present versus recoverable: of each material, what is present in the city's waste in a year, what goes to
the compliant channel (separate collection), what goes to the non-compliant (complementary) channels, what is
recovered, and what sits in drawers, present in the city but not yet in waste.

The convention is the EU urban-mine inventories' (ProSUM's Urban Mine Platform, UNITAR's review of WEEE flows
for the WEEE Forum, FutuRaM; the Global E-waste Monitor splits alike): waste generated = documented compliant
collection + complementary flows (the waste bin, mixed metal scrap, exports), and what the recyclers recover
from the compliant part. decision_tools/methods.md gives the references.

Owns the stages of that view (``STAGES``, named after the processes of decision_tools.system) and the table
built from the model's headline quantities (``results.metric_table`` rows grouped by route), per material
and, when asked, per product. No streamlit here; the page and the CLI call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from . import system
from .provenance import join_sources, weakest

# The sources of data/sources.csv that state the convention (ProSUM and UNITAR's 2020 review, which no data row
# cites, are referenced in methods.md: data/sources.csv lists only sources that rows cite).
SOURCE_IDS = "FUTURAM_2025;GEM_2024"

PRESENT, COMPLIANT, NON_COMPLIANT, RECOVERED, NOT_YET_WASTE = (
    "present in waste", "compliant", "non-compliant", "recovered", "not yet in waste")
PER_YEAR, AT_YEAR_END = "kg per year", "kg at the end of the year"


@dataclass(frozen=True)
class Stage:
    """One line of the view: the process of decision_tools.system it is (the flow's destination, or the stock),
    the headline quantity (system.METRICS key) the store sums it in and, for a loss, its route."""

    process: str
    label: str
    role: str
    metric: str
    route: str | None = None

    @property
    def unit(self) -> str:
        return AT_YEAR_END if system.METRICS[self.metric].stock is not None else PER_YEAR


STAGES: tuple[Stage, ...] = (
    Stage("end_of_life", "Present in waste (end of life generated)", PRESENT, "end_of_life"),
    Stage("separate_collection", "Collected in compliant channels (separate collection)", COMPLIANT, "separately_collected"),
    Stage("residual_waste", "Residual waste (household bin)", NON_COMPLIANT, "lost", "residual_waste"),
    Stage("export_reuse_abroad", "Exported for reuse abroad", NON_COMPLIANT, "lost", "export_reuse_abroad"),
    Stage("secondary_supply", "Recovered (secondary supply)", RECOVERED, "secondary_supply"),
    Stage("hibernation", "Hibernating at home (present, not yet in waste)", NOT_YET_WASTE, "hibernating_stock"),
)
STAGE_OF: dict[str, Stage] = {stage.process: stage for stage in STAGES}
CHANNEL_ROLES = (COMPLIANT, NON_COMPLIANT)
# Channels of the inventories the model has no process for, and what becomes of that material in the model.
NOT_MODELLED: dict[str, str] = {
    "mixed metal scrap": "WEEE collected with mixed metal scrap is a complementary flow in the inventories; the model "
                         "has no such channel, so whatever goes that way is inside its residual waste (everything "
                         "neither collected separately nor exported)",
}


def _check_stages() -> None:
    """The stages must match the chain: every channel out of end of life placed once, each stage the flows (or the
    stock) its metric sums. Runs at import, so a new channel in system.EDGES cannot be left out silently."""
    channels = {to for frm, to, _ in system.EDGES if frm == "end_of_life"}
    placed = [s.process for s in STAGES if s.role in CHANNEL_ROLES]
    if sorted(placed) != sorted(channels):
        raise ValueError(f"The waste channels of the chain ({', '.join(sorted(channels))}) and those of the present-"
                         f"versus-recoverable view ({', '.join(sorted(placed))}) differ; place each channel once.")
    for stage in STAGES:
        metric = system.METRICS[stage.metric]
        if metric.stock is not None:
            ok = metric.stock == stage.process
        else:
            ends = {to for _, to in metric.flows}
            ok = (stage.process in ends and stage.route == stage.process) if stage.route else ends == {stage.process}
            ok = ok and (stage.route is None or stage.route in system.LOSS_PROCESSES)
        if not ok:
            raise ValueError(f"The stage {stage.process} does not match the metric {stage.metric} it is read from.")


_check_stages()


_PROVENANCE = ("kg", "confidence", "source_ids", "downscaled")


def _combine(group: pd.DataFrame) -> pd.Series:
    confidences = [c for c in group["confidence"] if isinstance(c, str)]
    return pd.Series({"kg": float(group["kg"].sum()),
                      "confidence": weakest(confidences) if confidences else None,
                      "source_ids": join_sources(s for s in group["source_ids"] if isinstance(s, str)),
                      "downscaled": bool(group["downscaled"].fillna(False).astype(bool).any())})


def stage_table(rows: pd.DataFrame, by: Sequence[str] = ("material",)) -> pd.DataFrame:
    """The view from metric_table rows (columns metric, route, kg, confidence, source_ids, downscaled and those of
    ``by``; several rows of one key are summed, so rows per material give their sum with ``by=()``).

    One row per key of ``by`` and stage, in STAGES order: the key, stage (a process of decision_tools.system),
    label, role, unit, kg, share_of_present (kg / kg present in waste, 0..1; empty for the hibernating stock,
    which is a stock and not part of the year's waste, and where nothing is present), and the provenance
    (weakest confidence, union of sources, downscaled). A stage the rows lack is 0 kg."""
    by = list(by)
    missing = [c for c in ("metric", "route", "kg", *by) if c not in rows.columns]
    if missing:
        raise ValueError(f"The model's rows lack {', '.join(missing)}: read them grouped by route"
                         f"{' and ' + ', '.join(by) if by else ''} to split the waste channels.")
    frame = rows.copy()
    for column, empty in (("confidence", None), ("source_ids", ""), ("downscaled", False)):
        if column not in frame.columns:
            frame[column] = empty
    pieces = []
    for stage in STAGES:
        chosen = frame[(frame["metric"] == stage.metric) & ((frame["route"] == stage.route) if stage.route else True)]
        if chosen.empty:
            continue
        if by:
            summed = chosen.groupby(by, dropna=False)[list(_PROVENANCE)].apply(_combine).reset_index()
        else:
            summed = _combine(chosen).to_frame().T
        pieces.append(summed.assign(stage=stage.process))
    found = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=[*by, *_PROVENANCE, "stage"])
    keys = frame[by].drop_duplicates().reset_index(drop=True) if by else pd.DataFrame(index=[0])
    # Every key has every stage (0 kg where the model has none), in the order of STAGES.
    table = keys.merge(pd.DataFrame({"stage": [s.process for s in STAGES]}), how="cross")
    table = table.merge(found, on=[*by, "stage"], how="left")
    table["kg"] = table["kg"].astype(float).fillna(0.0)
    table["downscaled"] = table["downscaled"].astype("boolean").fillna(False).astype(bool)
    table["source_ids"] = table["source_ids"].fillna("")
    for column in ("label", "role", "unit"):
        table[column] = [getattr(STAGE_OF[p], column) for p in table["stage"]]
    present = table.loc[table["stage"] == "end_of_life", [*by, "kg"]].rename(columns={"kg": "present_kg"})
    table = table.merge(present, on=by, how="left") if by else table.assign(present_kg=float(present["present_kg"].iloc[0]))
    share = table["kg"] / table["present_kg"].where(table["present_kg"] > 0)
    table["share_of_present"] = share.where(table["role"] != NOT_YET_WASTE).astype(float)
    columns = [*by, "stage", "label", "role", "unit", "kg", "share_of_present", "confidence", "source_ids", "downscaled"]
    return table[columns].reset_index(drop=True)


def closure(table: pd.DataFrame, by: Sequence[str] = ("material",)) -> pd.DataFrame:
    """Per key of ``by``: kg present in waste, kg in the compliant and in the non-compliant channels, their gap
    (present - channels, zero up to rounding), kg collected and kg recovered."""
    by = list(by)
    wide = table.pivot_table(index=by or None, columns="role", values="kg", aggfunc="sum") if by else \
        table.groupby("role")["kg"].sum().to_frame().T
    wide = wide.reindex(columns=[PRESENT, COMPLIANT, NON_COMPLIANT, RECOVERED]).fillna(0.0)
    result = pd.DataFrame({"present_kg": wide[PRESENT], "compliant_kg": wide[COMPLIANT],
                           "non_compliant_kg": wide[NON_COMPLIANT], "recovered_kg": wide[RECOVERED]})
    result["gap_kg"] = result["present_kg"] - result["compliant_kg"] - result["non_compliant_kg"]
    return result.reset_index() if by else result.reset_index(drop=True)


def check_closure(table: pd.DataFrame, by: Sequence[str] = ("material",), relative_tolerance: float = 1e-9) -> None:
    """Raise ValueError, naming the keys, where the channels do not add up to what is present in waste or more is
    recovered than collected (beyond ``relative_tolerance`` of what is present)."""
    sums = closure(table, by)
    scale = sums["present_kg"].abs().clip(lower=1e-12)
    open_rows = sums[(sums["gap_kg"].abs() > relative_tolerance * scale)
                     | (sums["recovered_kg"] - sums["compliant_kg"] > relative_tolerance * scale)]
    if len(open_rows):
        where = "; ".join(", ".join(str(row[c]) for c in by) or "the total" for _, row in open_rows.iterrows())
        raise ValueError(f"The present-versus-recoverable stages do not close for {where}: the channels must add up to "
                         "what is present in waste, and no more can be recovered than is collected.")


def chart_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of one key as the chart draws them: label, role, kg and the text written beside each bar
    (the mass with its unit and the percent of what is present in waste)."""
    from .formatting import format_mass, format_share

    frame = table[["label", "role", "unit", "kg", "share_of_present"]].copy()
    frame["text"] = [format_mass(kg) + ("" if pd.isna(share) else f" · {format_share(share)} of present")
                     + (" (stock)" if unit == AT_YEAR_END else "")
                     for kg, share, unit in zip(frame["kg"], frame["share_of_present"], frame["unit"])]
    return frame.reset_index(drop=True)


ROLE_COLOURS = {PRESENT: "#4c78a8", COMPLIANT: "#54a24b", NON_COMPLIANT: "#e45756", RECOVERED: "#2e7d32",
                NOT_YET_WASTE: "#bab0ac"}


def stage_chart(frame: pd.DataFrame, title: str):
    """Horizontal bars in kg, one per stage (rows of ``chart_frame``), in the order of the view, coloured by role,
    each with its mass and percent of what is present written beside it."""
    import altair as alt

    order = list(frame["label"])
    y = alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=320), scale=alt.Scale(paddingInner=0.25))
    bars = alt.Chart(frame).mark_bar().encode(
        # room right of the longest bar for its text
        x=alt.X("kg:Q", title=title, scale=alt.Scale(domain=[0, max(float(frame["kg"].max()), 1e-12) * 1.9], nice=False)),
        y=y,
        color=alt.Color("role:N", legend=None,  # the labels name the roles; no legend to squeeze a phone's bars
                        scale=alt.Scale(domain=list(ROLE_COLOURS), range=list(ROLE_COLOURS.values()))),
        tooltip=[alt.Tooltip("label:N", title="stage"), alt.Tooltip("kg:Q", format=",.4~g", title="kg"),
                 alt.Tooltip("unit:N", title="counted as"), alt.Tooltip("text:N", title="shown")],
    )
    values = alt.Chart(frame).mark_text(align="left", dx=4, color="#333").encode(x="kg:Q", y=y, text="text:N")

    return (bars + values).properties(height=max(200, 40 * len(frame) + 60))


def read(store, version_id: int, city: str, year: int, materials: Sequence[str], by_product: bool = False) -> pd.DataFrame:
    """The view per material (and per product) read from a Store, the command line's way; the pages read the same
    rows through ui's cached helpers."""
    by = ("product", "route") if by_product else ("route",)
    rows = pd.concat([store.metric_table(version_id, city, m, year, by).assign(material=m) for m in materials],
                     ignore_index=True)
    return stage_table(rows, ("material", "product") if by_product else ("material",))
