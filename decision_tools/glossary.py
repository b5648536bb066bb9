"""The dashboard's words, each declared once: a plain definition, where it comes from, and the anchor of
its entry on the Methods page (``/methods#<anchor>``). Also the short "how to read this page" text of
every page, whose glossary words are marked ``[[word]]`` (or ``[[shown text|anchor]]``) so the renderer
can link each of them to its entry. No Streamlit here.

The definitions follow decision_tools/methods.md (the formulas in use) and must not contradict it;
``methods`` names the section of that page a term belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS_PAGE = "methods"  # the url path of the Methods page (app.py's st.Page for pages/methods.py)


@dataclass(frozen=True)
class Term:
    anchor: str  # URL-safe id of the entry on the Methods page: lower case, digits and hyphens
    name: str  # as a heading
    definition: str  # one or two plain sentences
    methods: str = ""  # the Methods section it comes from ("" when it is only a word of the app)
    source: str = ""  # the published source of the definition, if any
    aliases: tuple[str, ...] = ()  # other ways pages write it (matched case-insensitively)


_TERMS: tuple[Term, ...] = (
    # The chain (Methods 1-3)
    Term("in-use-stock", "In-use stock",
         "The material inside products that people and organisations in the city are using at the end of the year "
         "(units in use times the material content per unit), in kg.",
         "2. The material chain", aliases=("in use", "stock in use")),
    Term("hibernating-stock", "Hibernating stock",
         "The material in retired products that are kept unused at home (old phones in drawers), in kg. A share of "
         "retired units goes to drawers and leaves them after some years, to end of life.",
         "2. The material chain", aliases=("hibernating", "hibernating at home", "hibernation")),
    Term("end-of-life", "End of life",
         "The material in products discarded in a year, directly or from drawers (end of life generated), in kg per "
         "year. It then goes to export, residual waste or separate collection.",
         "2. The material chain", aliases=("end of life generated", "eol", "discarded", "reaching end of life")),
    Term("export-reuse-abroad", "Export / reuse abroad",
         "End-of-life products that leave the city inside used goods (cars, devices), so their material is lost to "
         "the city's recycling.",
         "2. The material chain", aliases=("export", "export / reuse abroad")),
    Term("residual-waste", "Residual waste",
         "End-of-life products thrown away with mixed household waste, incinerated or landfilled: their material is "
         "lost.", "2. The material chain"),
    Term("separately-collected", "Separately collected",
         "End-of-life material collected for recycling (WEEE points, take-back, licensed vehicle treatment), in kg "
         "per year.", "2. The material chain", aliases=("separate collection", "collected")),
    Term("collection-rate", "Collection rate",
         "The share of what reaches end of life that is collected separately for recycling: separately collected / "
         "end of life generated.",
         "4. Circularity indicators", "UNEP International Resource Panel 2011"),
    Term("recovery-yield", "Recovery yield",
         "The share of the separately collected material that recycling recovers (pre-processing times "
         "end-processing); the Indicators page calls it recovery efficiency.",
         "2. The material chain; 4. Circularity indicators", "UNEP International Resource Panel 2011",
         aliases=("recovery efficiency", "processing yield")),
    Term("recycling-losses", "Recycling losses",
         "Material that is collected but not recovered by today's recycling processes: separately collected times "
         "(1 - recovery yield).", "2. The material chain", aliases=("recycling loss",)),
    Term("losses", "Losses",
         "Material that leaves the city's loop in a year: residual waste, export / reuse abroad and recycling losses "
         "together, in kg per year.", "2. The material chain", aliases=("lost", "loss")),
    Term("secondary-supply", "Secondary supply",
         "Material recovered from the city's end-of-life products as secondary raw material: separately collected "
         "times the recovery yield, in kg per year.",
         "2. The material chain", aliases=("recovered", "secondary raw material")),
    Term("new-products", "In new products",
         "The material in new products entering use in the city in a year: the city's demand for it, in kg per year.",
         "2. The material chain", aliases=("demand", "material in new products")),
    Term("transfer-coefficient", "Transfer coefficient",
         "The share of what enters a process that goes to each of its outputs; a process's coefficients sum to one. "
         "Collection rates, hibernation shares and recovery yields are transfer coefficients.",
         "2. The material chain", aliases=("transfer coefficients",)),
    Term("mass-balance", "Mass balance",
         "For every process and year, what goes in minus what goes out minus the change of its stock is zero; the "
         "build checks it.", "3. Mass balance"),
    Term("dynamic-stock-model", "Dynamic stock model",
         "The model that finds how many products are bought and retired each year so that the number in use matches "
         "ownership, given how long products last (flodym library, PIK).",
         "1. Products in use", "flodym (PIK)", aliases=("stock model",)),
    Term("urban-mine", "Urban mine",
         "The material the city holds in products, in use and hibernating; the Indicators page shows it per "
         "inhabitant.", "4. Circularity indicators", aliases=("urban mine per inhabitant",)),
    # Indicators (Methods 4)
    Term("eol-rr", "EOL-RR (end-of-life recycling rate)",
         "The share of the material reaching end of life that is recovered: secondary supply / end of life generated "
         "(= collection rate times recovery yield).",
         "4. Circularity indicators", "UNEP International Resource Panel 2011",
         aliases=("end-of-life recycling rate", "eol recycling rate")),
    Term("eol-rir", "EOL-RIR (end-of-life recycling input rate)",
         "The EU's share of a material's input to production that comes from recycled old (post-consumer) scrap. The "
         "city analogue is the secondary-supply share.",
         "4. Circularity indicators", "European Commission CRM methodology",
         aliases=("end-of-life recycling input rate",)),
    Term("secondary-supply-share", "Secondary-supply share",
         "The city's secondary supply divided by the material it puts into new products in the same year: the city "
         "analogue of the EU EOL-RIR.", "4. Circularity indicators", "European Commission CRM methodology"),
    Term("recycling-benchmark", "25 % recycling benchmark",
         "The Critical Raw Materials Act's aim that recycling covers 25 % of EU consumption of strategic raw "
         "materials by 2030; the gap is 25 % minus the secondary-supply share (positive: below the benchmark).",
         "4. Circularity indicators", "Regulation (EU) 2024/1252, art. 5",
         aliases=("gap to the 25 % recycling benchmark", "benchmark")),
    Term("cmu", "CMU (circular material use rate)",
         "Secondary supply / (new products + secondary supply): the city analogue of Eurostat's circular material "
         "use rate.", "4. Circularity indicators", "Eurostat", aliases=("circular material use rate",)),
    Term("recycled-content", "Recycled content",
         "The share of recycled old scrap in the material of new products; products are made elsewhere, so the "
         "dashboard takes the EU EOL-RIR of the material.",
         "4. Circularity indicators", "European Commission CRM study 2023"),
    Term("hibernation-share", "Hibernation share",
         "Hibernating stock / (in-use + hibernating stock): how much of the city's material lies unused at home.",
         "4. Circularity indicators"),
    Term("mci", "MCI (material circularity indicator)",
         "A score from 0 (fully linear: virgin material in, waste out) to 1 (fully restorative) for a product, from "
         "its recycled input, its collection and recycling, and its lifetime and use.",
         "4. Circularity indicators", "Ellen MacArthur Foundation and Granta Design, Circularity Indicators 2015/2019",
         aliases=("material circularity indicator", "portfolio mci")),
    Term("weighting", "Weighting of materials",
         "How a rate over several materials adds them up: by mass (every kg the same), by value (2024 price per kg) "
         "or by EU supply risk. Kilograms are always summed by mass.",
         "Aggregates of several materials", aliases=("weighting", "by mass", "by value", "by supply risk")),
    # Uncertainty and data honesty (Methods 5, 8)
    Term("central-run", "Central model run",
         "The model with every input at its value: the number every page shows, so the pages agree.",
         "5. Uncertainty (Monte Carlo)", aliases=("central run",)),
    Term("monte-carlo-range", "5-95 % range",
         "The range within which 90 % of 1,000 Monte Carlo draws of the inputs fall, each input drawn within the spread "
         "of its confidence label. It leaves out structural uncertainty.",
         "5. Uncertainty (Monte Carlo)", aliases=("monte carlo", "range", "uncertainty band")),
    Term("confidence-labels", "Confidence labels",
         "Every input row carries one: high, medium, low, derived or illustrative (an order of magnitude, for exploring, "
         "not for decisions). A computed number carries the weakest label of the rows it comes from.",
         "8. Confidence labels", aliases=("confidence", "confidence label")),
    Term("downscaled", "Downscaled",
         "A city figure made from an EU or national average times the city's population or households: good for "
         "exploring, not a measurement of this city.", "8. Confidence labels", aliases=("downscaling",)),
    Term("dataset-version", "Dataset version",
         "A numbered, unchangeable snapshot of all input tables and model results. Publishing an upload makes a new "
         "version; a link can pin one (?version=N).", aliases=("version", "dataset versions")),
    Term("sources", "Sources",
         "The publications every input row cites, listed with their confidence labels at the end of the Methods page.",
         aliases=("source",)),
    # Supply risk (Methods 7)
    Term("crm", "Critical raw material (CRM)",
         "A material the EU lists as critical: high economic importance and high supply risk. The dashboard's list is "
         "the one the CRMA adopted, copper included.", "Aggregates of several materials",
         "Regulation (EU) 2024/1252, Annex II", aliases=("critical raw materials", "critical", "crms")),
    Term("crma", "CRMA (EU Critical Raw Materials Act)",
         "Regulation (EU) 2024/1252: it lists critical and strategic raw materials and sets 2030 benchmarks (10 % "
         "extraction, 40 % processing, 25 % recycling, no more than 65 % from one third country).",
         "7. Supply chain exposure", "Regulation (EU) 2024/1252", aliases=("critical raw materials act",)),
    Term("supply-risk", "Supply risk",
         "The EU's score of how likely supply is to be disrupted: governance-weighted concentration of supply, "
         "import reliance, recycling and substitution. Critical from 1.0 (with economic importance 2.8 or more).",
         "7. Supply chain exposure", "European Commission / JRC 2017 method, 2023 study",
         aliases=("eu supply risk", "sr")),
    Term("economic-importance", "Economic importance",
         "The EU's score of how much the material matters to its economy's value added, corrected for substitutes; "
         "critical from 2.8 (with supply risk 1.0 or more).",
         "7. Supply chain exposure", "European Commission / JRC 2017 method, 2023 study"),
    Term("hhi", "HHI (Herfindahl-Hirschman index)",
         "A measure of how concentrated supply is: the sum of the squared supply shares of the countries (0..1). One "
         "country supplying everything gives 1.",
         "7. Supply chain exposure", aliases=("herfindahl-hirschman index", "concentration")),
    Term("geopolrisk", "GeoPolRisk score",
         "Concentration (HHI) times the supply-weighted political instability of the suppliers: how exposed imports "
         "are to unstable suppliers.", "7. Supply chain exposure", "Gemechu et al. 2015"),
    Term("by-product", "By-product metal",
         "A metal mined mainly as a by-product of another (gallium, germanium, indium, cobalt): its supply cannot "
         "follow its own price.", "7. Supply chain exposure", "Nassar, Graedel and Harper 2015",
         aliases=("by-product metals",)),
    Term("city-exposure", "City exposure",
         "The material in the city's new products times the supplying countries' shares at the material's bottleneck "
         "stage: which countries the city's demand depends on.", "7. Supply chain exposure",
         aliases=("exposure",)),
    Term("disruption-coverage", "Disruption coverage",
         "When a country cuts its supply, the shortfall is demand times its share times the cut; coverage is the "
         "city's secondary supply divided by the shortfall (at most 100 %).", "7. Supply chain exposure",
         aliases=("shortfall", "coverage", "disruption")),
    # Waste streams
    Term("weee", "WEEE (waste electrical and electronic equipment)",
         "Discarded electrical and electronic devices (phones, laptops, lamps, panels), collected under the EU WEEE "
         "Directive with producer responsibility.", "", "Directive 2012/19/EU",
         aliases=("waste electrical and electronic equipment",)),
    Term("elv", "ELV (end-of-life vehicle)",
         "A car at the end of its life, to be treated by licensed facilities under the EU End-of-Life Vehicles "
         "Directive; many leave the EU as used cars instead.", "", "Directive 2000/53/EC",
         aliases=("end-of-life vehicle", "end-of-life vehicles", "elvs")),
    Term("weee-category", "WEEE category",
         "One of the six groups of Annex III of the WEEE Directive every device falls in since 15 August 2018: 1 "
         "temperature exchange equipment, 2 screens above 100 cm², 3 lamps, 4 large equipment (above 50 cm), 5 small "
         "equipment, 6 small IT and telecommunications equipment.", "", "Directive 2012/19/EU, Annex III and IV",
         aliases=("weee categories", "annex iii category")),
    Term("batteries-regulation", "Batteries Regulation",
         "The EU law on batteries and waste batteries, Regulation (EU) 2023/1542: collection targets for portable and "
         "LMT batteries, recovery targets for lithium, cobalt, nickel and copper, recycled content in new batteries, "
         "removable batteries in devices and battery passports.", "", "Regulation (EU) 2023/1542",
         aliases=("battery regulation", "regulation (eu) 2023/1542")),
    Term("legal-basis", "Legal basis (of a lever)",
         "The EU or national rules that ask for a lever or back it, as listed on the Policy page; a lever without one "
         "is the city's own choice. The acting level says who can move it: EU, national, city or company.",
         "6. Policy levers and scenarios", aliases=("acting level", "rules that apply")),
    # Policy (Methods 6)
    Term("lever", "Lever",
         "Something the city can do (more collection points, repair vouchers, procurement rules) that moves one model "
         "parameter for some products from its start year on, ramping up; its cost is illustrative.",
         "6. Policy levers and scenarios", aliases=("levers", "policy lever")),
    Term("scenario", "Scenario",
         "A set of lever levels: the model is run again with them and compared with the baseline (no lever moved).",
         "6. Policy levers and scenarios", aliases=("scenarios", "baseline")),
    Term("leverage-ranking", "Leverage ranking",
         "Each lever alone, from its default to its maximum: how much it changes the chosen indicator in the target "
         "year, absolutely and per 1,000 EUR of yearly cost.", "6. Policy levers and scenarios",
         aliases=("ranking",)),
    Term("portfolio", "Portfolio",
         "The set of lever levels with the largest summed effect whose summed yearly cost fits a budget (an exact "
         "optimisation), then run together since levers interact.", "6. Policy levers and scenarios"),
    Term("value-creation-model", "Value-creation model",
         "A way a company can earn from keeping material in use (repair, reuse, remanufacturing, high-grade "
         "recycling, product as a service), applied to one product.", "6. Policy levers and scenarios",
         aliases=("value-creation models", "business model")),
    # Hub, sessions, data
    Term("industrial-symbiosis", "Industrial symbiosis",
         "One organisation's waste or by-product becomes another's input. The hub matches offers and needs of "
         "material streams with a score that says why.", aliases=("symbiosis", "matchmaking")),
    Term("challenge-market", "Challenge market",
         "Questions from organisations and the city posted as student assignments, each with its material."),
    Term("saved-view", "Saved view",
         "A page with its city, material, year and settings, pinned to a dataset version, stored under a short link.",
         aliases=("saved views", "view")),
    Term("discussion-session", "Discussion session",
         "An ordered list of saved views with notes and comments that participants step through together, "
         "optionally following a presenter.", aliases=("session", "sessions", "presenter")),
    Term("dry-run", "Dry run",
         "A check of an uploaded file that shows what publishing it would change (rows, headline numbers) without "
         "changing anything.", aliases=("upload", "publish")),
)

TERMS: dict[str, Term] = {t.anchor: t for t in _TERMS}

ANCHOR_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slug(text: str) -> str:
    """A URL-safe anchor from a word: lower case, runs of anything else than letters and digits become one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _lookup_table() -> dict[str, str]:
    table = {}
    for term in _TERMS:
        for word in (term.anchor, term.name, *term.aliases):
            table.setdefault(slug(word), term.anchor)
    return table


_LOOKUP = _lookup_table()


def find(word: str) -> Term | None:
    """The glossary entry a word (its name, anchor or an alias, any case) stands for, or None."""
    anchor = _LOOKUP.get(slug(word))
    return TERMS[anchor] if anchor else None


def methods_link(anchor: str) -> str:
    """The relative address of a term's entry on the Methods page (works behind a proxy's path prefix)."""
    if anchor not in TERMS:
        raise ValueError(f"The glossary has no entry '{anchor}'; choose one of: {', '.join(TERMS)}.")
    return f"./{METHODS_PAGE}#{anchor}"


# "how to read this page": 3-5 short lines per page; [[word]] or [[shown text|anchor]] marks a glossary word.
HOW_TO_READ: dict[str, str] = {
    "overview": (
        "- The cards give one material, city and year (sidebar): the [[in-use stock]], the [[hibernating stock]] kept "
        "at home, and the yearly flows from new products to [[end of life]], [[separate collection|separately-collected]], "
        "[[secondary supply]] and [[losses]].\n"
        "- Under each number: its [[confidence label|confidence-labels]], its [[sources]] and whether it is "
        "[[downscaled]] from national or EU figures.\n"
        "- The Sankey follows the material along the chain; red and orange bands are where it is lost.\n"
        "- *What to do first* names the largest losses and the [[levers|lever]] that avoid most of them per euro."
    ),
    "indicators": (
        "- Each big number is a share (or the [[MCI]]) from the [[central model run|central-run]]; beside it the "
        "[[5-95 % range|monte-carlo-range]] of the Monte Carlo draws.\n"
        "- [[Collection rate]] times [[recovery yield]] gives the [[EOL-RR]]; the [[secondary-supply share]] is the "
        "city's analogue of the EU [[EOL-RIR]] and is set against the [[25 % recycling benchmark|recycling-benchmark]].\n"
        "- With all [[critical raw materials|crm]] together, the rates weigh the materials as chosen "
        "([[weighting]]); kg are always by mass."
    ),
    "policy": (
        "- Move a [[lever]] to build a [[scenario]]; the chart sets it against the baseline for the chosen indicator.\n"
        "- The [[leverage ranking]] runs each lever alone at its maximum: its effect, and its effect per 1,000 EUR of "
        "yearly cost.\n"
        "- The [[portfolio]] picks the lever levels that do most within a yearly budget. Costs are illustrative "
        "([[confidence labels]]): for comparing options, not for budgets."
    ),
    "exposure": (
        "- [[Supply risk]] and [[economic importance]] are the EU's scores; a material is critical above both "
        "thresholds ([[CRMA]]).\n"
        "- The [[HHI]] says how concentrated supply is per stage (mining, refining); [[GeoPolRisk]] adds the "
        "suppliers' political instability.\n"
        "- [[City exposure]] shows which countries the city's demand depends on; the what-if cuts one country's "
        "supply and shows how much the city's [[secondary supply]] would cover ([[disruption coverage]])."
    ),
    "hub": (
        "- Organisations post offers and needs of material streams (for instance [[WEEE]] or [[ELV]] parts); the map "
        "and the ranked list show possible [[industrial symbiosis]] matches, each with a score that says why.\n"
        "- A match adds to the city's [[secondary supply]]; the demo organisations are fictitious.\n"
        "- The [[challenge market]] turns questions into student assignments."
    ),
    "sessions": (
        "- A [[discussion session]] is an ordered list of [[saved views|saved-view]] with notes; pick it by title.\n"
        "- Each step shows its view's headline numbers, pinned to the view's [[dataset version]].\n"
        "- Share the link or QR code; participants who follow the presenter move with them."
    ),
    "data": (
        "- Every [[dataset version]] is kept; the sidebar can open any of them read-only.\n"
        "- Researchers upload better data; a [[dry run]] checks the file and shows what it would change before it is "
        "published as a new version.\n"
        "- Every row needs its [[sources]] and a [[confidence label|confidence-labels]]."
    ),
    "methods": (
        "- The *Glossary* explains each word the pages use; every underlined word elsewhere links here.\n"
        "- *How the numbers are made* gives the formulas ([[dynamic stock model]], [[mass balance]], indicators, "
        "[[levers|lever]], exposure), each with its source.\n"
        "- Then the [[confidence labels]], the [[sources]] of this [[dataset version]] and how the model compares with "
        "published figures."
    ),
}

_MARK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")


def marked_terms(text: str) -> list[tuple[str, str]]:
    """Every [[...]] mark of a text as (shown text, the word or anchor it refers to)."""
    return [(m.group(1), m.group(2) or m.group(1)) for m in _MARK.finditer(text)]


def linked_markdown(text: str) -> str:
    """The text with each [[word]] mark as a Markdown link to its Methods entry; ValueError for an unknown word
    (a page must never show a glossary link that leads nowhere)."""
    def link(match: re.Match) -> str:
        shown, ref = match.group(1), match.group(2) or match.group(1)
        term = TERMS.get(ref) or find(ref)
        if term is None:
            raise ValueError(f"The glossary has no entry for '{ref}'; add it to decision_tools/glossary.py.")
        return f"[{shown}]({methods_link(term.anchor)})"

    return _MARK.sub(link, text)


def how_to_read(page: str) -> str:
    """The page's how-to-read text as Markdown with glossary links; ValueError for a page without one."""
    if page not in HOW_TO_READ:
        raise ValueError(f"No 'how to read this page' text for '{page}'; pages with one: {', '.join(HOW_TO_READ)}.")
    return linked_markdown(HOW_TO_READ[page])


# The headline quantities (system.METRICS keys) and the glossary entry each stands for.
METRIC_TERMS: dict[str, str] = {
    "in_use_stock": "in-use-stock", "hibernating_stock": "hibernating-stock", "new_products": "new-products",
    "end_of_life": "end-of-life", "separately_collected": "separately-collected", "secondary_supply": "secondary-supply",
    "lost": "losses",
}


def term_of(word: str) -> Term | None:
    """The glossary entry of a METRICS key, an anchor, a name or an alias; None when there is none."""
    return TERMS.get(METRIC_TERMS.get(word, word)) or find(word)
