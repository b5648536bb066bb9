"""The CRM chain of one year drawn: the Plotly Sankey, and the same flows as a list of steps for a phone.

This module owns the chain's node colours, positions and labels (the PDF briefing draws with the same ones).
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from .formatting import format_mass, format_share
from .system import LOSS_PROCESSES, PROCESS_LABELS


NODE_COLOURS = {
    "market": "#4c78a8", "use": "#4c78a8", "hibernation": "#b279a2", "end_of_life": "#9d755d",
    "separate_collection": "#54a24b", "recycling": "#54a24b", "secondary_supply": "#2e7d32",
    "residual_waste": "#e45756", "export_reuse_abroad": "#f58518", "recycling_loss": "#e45756",
    "use_stock_added": "#bab0ac", "use_stock_released": "#bab0ac",
}

# Node positions (0..1, x left to right along the chain, y top to bottom): losses leave at the top
# right, recovery at the bottom right, and nodes whose labels sit side by side are set apart in height
# (Plotly writes a label right of its node, left of it in the last column), so labels do not pile up.
NODE_POSITIONS = {
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
STOCK_LABELS = {"use_stock_added": "Added to the stock in use", "use_stock_released": "Taken from the stock in use"}


def stock_change_links(totals: pd.DataFrame) -> pd.DataFrame:
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
    totals = pd.concat([stock_change_links(totals), totals], ignore_index=True)
    totals = totals[totals["kg"] > 0]
    labels = {**PROCESS_LABELS, **STOCK_LABELS}
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
            color=[NODE_COLOURS[p] for p in used],
            x=[NODE_POSITIONS[p][0] for p in used], y=[NODE_POSITIONS[p][1] for p in used],
            pad=20, thickness=16,
            customdata=[node_hover(p) for p in used],
            hovertemplate="%{customdata}<extra></extra>",
        ),
        link=dict(
            source=[index[f] for f in totals["from_process"]],
            target=[index[t] for t in totals["to_process"]],
            value=totals["kg"].tolist(),
            color=[_rgba(NODE_COLOURS[t], 0.45 if t in LOSS_PROCESSES else 0.3) for t in totals["to_process"]],
            customdata=[f"{labels[f]} → {labels[t]}: {format_mass(v)} per year"
                        for f, t, v in zip(totals["from_process"], totals["to_process"], totals["kg"])],
            hovertemplate="%{customdata}<extra></extra>",
        ),
    ))
    # Plotly reads a few HTML tags and entities in titles (<a href> becomes a link): the title is plain text.
    figure.update_layout(title=dict(text=html.escape(title, quote=False), font=dict(size=15)), height=480,
                         margin=dict(l=10, r=10, t=50, b=10), font=dict(size=13))
    return figure


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
    totals = pd.concat([totals, stock_change_links(totals.reset_index()).set_index(["from_process", "to_process"])["kg"]])

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
