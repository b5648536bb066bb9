"""The city briefing as a PDF (fpdf2, pure Python, offline): title block, the plain narrative, the
headline numbers, the chain as a static Sankey drawn with the PDF's own vector paths, supplier
countries by name, the levers for the briefing's own year, short citations and confidence labels.

This module owns the PDF layout only; what the briefing says comes from ``briefing.gather``.
A heading is always kept on the page of the block that follows it (``BriefingPdf.section``).
"""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

import pandas as pd
from fpdf import FPDF, FontFace

from .briefing import CONFIDENCE_NOTE, BriefingData, _lever_table, headline_table, supplier_table
from .chain_charts import NODE_COLOURS, NODE_POSITIONS, STOCK_LABELS, stock_change_links
from .formatting import format_mass
from .system import LOSS_PROCESSES, PROCESS_LABELS

FONT = "BriefingSans"
HEADING_HEIGHT_MM = 9.0
# A splittable block (paragraph, table) must show at least this much under its heading on the same page.
MIN_KEEP_MM = 16.0


def _font_files() -> tuple[Path, Path] | None:
    """A Unicode TrueType font (DejaVu Sans, regular and bold): the copy shipped inside matplotlib
    (installed with flodym), else the system's. None: fall back to the PDF core font (Latin-1 only)."""
    candidates = []
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    candidates += [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]
    for folder in candidates:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def needs_new_page(y_mm: float, page_break_mm: float, heading_mm: float, keep_mm: float) -> bool:
    """Whether a heading at ``y_mm`` must move to the next page so that ``keep_mm`` of the block after
    it still fits above the page break (a heading never sits alone at the bottom of a page)."""
    return y_mm + heading_mm + keep_mm > page_break_mm


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two boxes (x, y, width, height) overlap."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


class BriefingPdf(FPDF):
    """A4 portrait pages with a footer; ``log`` records (kind, page, text) of every heading and block in
    order, so the layout can be checked (no heading is the last thing on its page)."""

    def __init__(self, footer_text: str = "") -> None:
        super().__init__(format="A4", unit="mm")
        self.footer_text = footer_text
        self.log: list[tuple[str, int, str]] = []
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=16)
        fonts = _font_files()
        self.unicode = fonts is not None
        if fonts:
            self.add_font(FONT, "", str(fonts[0]))
            self.add_font(FONT, "B", str(fonts[1]))
            self.family = FONT
        else:
            self.family = "Helvetica"
        self.set_font(self.family, size=10)

    def text_for_font(self, text: object) -> str:
        """The core font knows Latin-1 only: elsewhere letters lose their accents rather than break."""
        text = str(text)
        if self.unicode:
            return text
        folded = unicodedata.normalize("NFKD", text).encode("latin-1", "ignore").decode("latin-1")
        return folded.replace("…", "...")

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(self.family, size=7.5)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.text_for_font(f"{self.footer_text} · page {self.page_no()}"), align="C")
        self.set_text_color(0, 0, 0)

    # --- blocks ------------------------------------------------------------------------------
    def paragraph_height(self, text: str, size: float = 10, line_mm: float = 5.0) -> float:
        self.set_font(self.family, size=size)
        return float(self.multi_cell(0, line_mm, self.text_for_font(text), dry_run=True, output="HEIGHT"))

    def section(self, heading: str, keep_mm: float) -> None:
        """A heading, moved to a new page first if ``keep_mm`` of what follows would not fit under it."""
        if needs_new_page(self.get_y(), self.page_break_trigger, HEADING_HEIGHT_MM, keep_mm):
            self.add_page()
        self.log.append(("heading", self.page_no(), heading))
        self.ln(2)
        self.set_font(self.family, "B", 12.5)
        self.set_text_color(30, 60, 100)
        self.multi_cell(0, 6.5, self.text_for_font(heading), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(0.5)

    def paragraph(self, text: str, name: str = "paragraph", size: float = 10, colour=(0, 0, 0)) -> None:
        self.log.append(("block", self.page_no(), name))
        self.set_font(self.family, size=size)
        self.set_text_color(*colour)
        self.multi_cell(0, 5, self.text_for_font(text), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(1.5)

    def frame_table(self, frame: pd.DataFrame, name: str, col_widths: tuple[float, ...] | None = None, size: float = 8.5) -> None:
        self.log.append(("block", self.page_no(), name))
        self.set_font(self.family, size=size)
        headings = FontFace(emphasis="BOLD", fill_color=(236, 240, 245))
        with self.table(col_widths=col_widths, text_align="LEFT", line_height=4.6, headings_style=headings,
                        borders_layout="HORIZONTAL_LINES", padding=1) as table:
            row = table.row()
            for column in frame.columns:
                row.cell(self.text_for_font(column))
            for values in frame.itertuples(index=False):
                row = table.row()
                for value in values:
                    row.cell(self.text_for_font("" if value is None or (isinstance(value, float) and pd.isna(value)) else value))
        self.ln(2)

    def table_keep_mm(self) -> float:
        return 2 * 4.6 + 4 + 2  # the heading row and the first row

    # --- the Sankey ----------------------------------------------------------------------------
    def sankey(self, chain: pd.DataFrame, width_mm: float, height_mm: float) -> None:
        """The year's chain as a Sankey: nodes at the same places as on the Overview page, bands as
        filled Bezier paths as thick as their mass, losses in red and orange."""
        self.log.append(("block", self.page_no(), "sankey"))
        layout = sankey_layout(chain, width_mm, height_mm)
        x0, y0 = self.l_margin, self.get_y()
        for band in layout["bands"]:
            colour = NODE_COLOURS[band["to"]]
            with self.new_path() as path:
                path.style.fill_color = colour
                path.style.fill_opacity = 0.5 if band["to"] in LOSS_PROCESSES else 0.32
                path.style.stroke_color = None
                xa, xb, t = x0 + band["x_from"], x0 + band["x_to"], band["thickness"]
                ya, yb = y0 + band["y_from"], y0 + band["y_to"]
                middle = (xa + xb) / 2
                path.move_to(xa, ya)
                path.curve_to(middle, ya, middle, yb, xb, yb)
                path.line_to(xb, yb + t)
                path.curve_to(middle, yb + t, middle, ya + t, xa, ya + t)
                path.close()
        self.set_font(self.family, size=7)
        placed: list[tuple[float, float, float, float]] = []  # middle labels drawn so far (x, y, width, height)
        for node in layout["nodes"]:
            self.set_fill_color(*_hex_rgb(NODE_COLOURS[node["process"]]))
            self.rect(x0 + node["x"], y0 + node["y"], node["width"], max(node["height"], 0.4), style="F")
            label = self.text_for_font(f"{node['label']}\n{format_mass(node['kg'])}")
            self.set_text_color(40, 40, 40)
            middle_y = y0 + node["y"] + node["height"] / 2
            if node["align"] == "L":  # first column: left of the node
                self.set_xy(x0 + node["x"] - 31.5, middle_y - 3.2)
                self.multi_cell(30, 3.2, label, align="R", new_x="LMARGIN", new_y="NEXT")
            elif node["align"] == "R":  # last column: right of the node
                self.set_xy(x0 + node["x"] + node["width"] + 1, middle_y - 3.2)
                self.multi_cell(node["label_width"], 3.2, label, align="L", new_x="LMARGIN", new_y="NEXT")
            else:  # middle columns: above or below the node (alternating by column), the other side if that collides
                lines_mm = float(self.multi_cell(node["label_width"], 3.2, label, align="C", dry_run=True, output="HEIGHT"))
                left = x0 + node["x"] + node["width"] / 2 - node["label_width"] / 2
                above = y0 + node["y"] - lines_mm - 0.4
                below = y0 + node["y"] + node["height"] + 0.4
                sides = (above, below) if node["align"] == "above" else (below, above)
                top = next((t for t in sides if not any(_overlaps((left, t, node["label_width"], lines_mm), box)
                                                        for box in placed)), sides[0])
                placed.append((left, top, node["label_width"], lines_mm))
                self.set_xy(left, top)
                self.multi_cell(node["label_width"], 3.2, label, align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.set_fill_color(255, 255, 255)
        self.set_xy(self.l_margin, y0 + height_mm + 2)


def sankey_layout(chain: pd.DataFrame, width_mm: float, height_mm: float, node_width_mm: float = 2.5,
                  pad_mm: float = 10.0, label_room_mm: float = 10.0) -> dict:
    """Positions of the Sankey's nodes and bands in mm (origin top left). Nodes sit in columns at the
    Overview's x positions; within a column they keep the Overview's order, are as tall as their
    mass (one scale for all) and never overlap, with room for two-line labels above or below the middle
    columns' nodes (``label_room_mm`` at the top and bottom); bands leave a node in the order of their targets."""
    totals = chain.groupby(["from_process", "to_process"], as_index=False)["kg"].sum()
    totals = pd.concat([stock_change_links(totals), totals], ignore_index=True)
    totals = totals[totals["kg"] > 0].reset_index(drop=True)
    labels = {**PROCESS_LABELS, **STOCK_LABELS}
    used = [p for p in labels if p in set(totals["from_process"]) | set(totals["to_process"])]
    if not used:
        return {"nodes": [], "bands": []}
    through = {p: max(totals.loc[totals["to_process"] == p, "kg"].sum(), totals.loc[totals["from_process"] == p, "kg"].sum())
               for p in used}
    left_labels, right_labels = 32.0, 38.0  # room for the first and last columns' labels
    span = width_mm - left_labels - right_labels - node_width_mm
    columns: dict[float, list[str]] = {}
    for p in used:
        columns.setdefault(NODE_POSITIONS[p][0], []).append(p)
    # one scale: the fullest column (nodes plus gaps) fills the height
    usable_mm = height_mm - 2 * label_room_mm
    scale = min((usable_mm - pad_mm * (len(ps) - 1)) / max(sum(through[p] for p in ps), 1e-12)
                for ps in columns.values())
    xs = sorted(columns)
    nodes = {}
    for column_x, processes in columns.items():
        processes.sort(key=lambda p: NODE_POSITIONS[p][1])
        heights = [through[p] * scale for p in processes]
        # start each node at its preferred place, then push down past the one above and up from the bottom
        tops = [max(label_room_mm, label_room_mm + NODE_POSITIONS[p][1] * usable_mm - h / 2) for p, h in zip(processes, heights)]
        for i in range(1, len(tops)):
            tops[i] = max(tops[i], tops[i - 1] + heights[i - 1] + pad_mm)
        overflow = tops[-1] + heights[-1] - (height_mm - label_room_mm)
        if overflow > 0:
            tops[-1] -= overflow
            for i in range(len(tops) - 2, -1, -1):
                tops[i] = min(tops[i], tops[i + 1] - pad_mm - heights[i])
        next_x = [x for x in xs if x > column_x]
        index = xs.index(column_x)
        align = "L" if index == 0 else "R" if not next_x else ("above" if index % 2 == 0 else "below")
        for p, top, h in zip(processes, tops, heights):
            nodes[p] = {"process": p, "label": labels[p], "kg": through[p], "x": left_labels + column_x * span,
                        "y": top, "width": node_width_mm, "height": h, "align": align,
                        "label_width": right_labels - 2 if align == "R" else 30.0}
    out_offset = {p: 0.0 for p in used}
    in_offset = {p: 0.0 for p in used}
    bands = []
    order = totals.assign(target_y=[nodes[t]["y"] for t in totals["to_process"]],
                          source_y=[nodes[f]["y"] for f in totals["from_process"]])
    for row in order.sort_values(["from_process", "target_y"]).itertuples():
        bands.append({"from": row.from_process, "to": row.to_process, "kg": row.kg, "thickness": row.kg * scale,
                      "x_from": nodes[row.from_process]["x"] + node_width_mm, "x_to": nodes[row.to_process]["x"],
                      "y_from": nodes[row.from_process]["y"] + out_offset[row.from_process]})
        out_offset[row.from_process] += row.kg * scale
    for band in sorted(bands, key=lambda b: (b["to"], nodes[b["from"]]["y"])):
        band["y_to"] = nodes[band["to"]]["y"] + in_offset[band["to"]]
        in_offset[band["to"]] += band["thickness"]
    return {"nodes": list(nodes.values()), "bands": bands}


def render(data: BriefingData) -> bytes:
    """The briefing as PDF bytes."""
    return bytes(_laid_out(data).output())


def render_log(data: BriefingData) -> list[tuple[str, int, str]]:
    """The (kind, page, text) of every heading and block of the briefing, in order (for layout checks)."""
    return _laid_out(data).log


def _laid_out(data: BriefingData) -> BriefingPdf:
    title = f"{data.city}: {data.material_name} ({data.material}), {data.year}"
    pdf = BriefingPdf(footer_text=f"UrbanSymbiosis city briefing · {data.city} · {data.material_name} · {data.year} · "
                                  f"dataset version {data.version_id}")
    pdf.set_title(pdf.text_for_font(title))
    pdf.set_author("UrbanSymbiosis")
    pdf.set_subject(pdf.text_for_font(f"City briefing for {data.city}"))
    pdf.add_page()
    pdf.log.append(("title", pdf.page_no(), title))
    pdf.set_font(pdf.family, "B", 18)
    pdf.multi_cell(0, 8, pdf.text_for_font(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, size=9.5)
    pdf.set_text_color(90, 90, 90)
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    pdf.multi_cell(0, 5, pdf.text_for_font(
        f"UrbanSymbiosis city briefing · city {data.city} · year {data.year} · material {data.material_name} "
        f"({data.material}) · dataset version {data.version_id} of {data.dataset_date} · generated {stamp}"),
        new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    pdf.section("In short", min(pdf.paragraph_height(data.narrative), MIN_KEEP_MM))
    pdf.paragraph(data.narrative, "narrative")

    if data.figures:
        pdf.section("Headline numbers", pdf.table_keep_mm())
        pdf.frame_table(headline_table(data.figures), "headline", col_widths=(60, 44, 70))

    sankey_h = 78.0
    pdf.section(f"The chain of {data.material_name} in {data.year} (per year)", sankey_h + 4)
    if data.chain["kg"].abs().sum() > 0:
        pdf.sankey(data.chain, pdf.epw, sankey_h)
        pdf.paragraph("Band widths are proportional to mass. Red and orange bands are losses; green ones recovery.",
                      "sankey_note", size=8, colour=(90, 90, 90))
    else:
        pdf.paragraph(f"No flow of {data.material_name} in {data.city} in {data.year}.", "sankey_empty")

    if not data.losses.empty:
        pdf.section("Where it is lost", pdf.table_keep_mm())
        pdf.frame_table(pd.DataFrame({"route": data.losses["route"],
                                      "mass": data.losses["kg"].map(lambda kg: format_mass(kg) + " per year")}),
                        "losses", col_widths=(90, 84))

    pdf.section(f"Who supplies {data.material_name}", pdf.table_keep_mm())
    if data.suppliers.empty:
        pdf.paragraph(f"The project has no supplier shares for {data.material_name}.", "suppliers_empty")
    else:
        pdf.frame_table(supplier_table(data.suppliers), "suppliers", col_widths=(30, 70, 40, 34))

    lever_keep = pdf.table_keep_mm() if not data.levers.empty else min(pdf.paragraph_height(data.lever_note), MIN_KEEP_MM)
    pdf.section(data.lever_title, lever_keep)
    if not data.levers.empty:
        pdf.frame_table(_lever_table(data.levers), "levers", col_widths=(74, 24, 38, 38))
    if data.lever_note:
        pdf.paragraph(data.lever_note, "lever_note", size=9)

    pdf.section("Sources and confidence", min(pdf.paragraph_height(CONFIDENCE_NOTE, size=9), MIN_KEEP_MM))
    pdf.paragraph(CONFIDENCE_NOTE, "confidence_note", size=9)
    if not data.sources.empty:
        pdf.frame_table(data.sources.rename(columns={"source_id": "id", "short_citation": "source",
                                                     "confidence_labels": "confidence"}),
                        "sources", col_widths=(36, 104, 34), size=7.5)
    return pdf
