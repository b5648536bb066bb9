"""The city's CRM system: its processes, the flows between them, and the years reported.

Shared by the model (which computes the flows), the store (which checks their balance), the charts
and the CLI. Kept apart from the model so that reading results never imports the model's libraries.
"""

from dataclasses import dataclass

REPORT_START = 2000
REPORT_END = 2050

# (from_process, to_process, stage). The stage says which inputs a flow depends on (provenance).
EDGES: tuple[tuple[str, str, str], ...] = (
    ("market", "use", "use"),
    ("use", "hibernation", "routing"),
    ("use", "end_of_life", "routing"),
    ("hibernation", "end_of_life", "routing"),
    ("end_of_life", "export_reuse_abroad", "routing"),
    ("end_of_life", "residual_waste", "routing"),
    ("end_of_life", "separate_collection", "routing"),
    ("separate_collection", "recycling", "routing"),
    ("recycling", "secondary_supply", "recovery"),
    ("recycling", "recycling_loss", "recovery"),
)
STOCK_PROCESSES: dict[str, str] = {"use": "use", "hibernation": "routing"}
BALANCED_PROCESSES = ("use", "hibernation", "end_of_life", "separate_collection", "recycling")
LOSS_PROCESSES = ("residual_waste", "export_reuse_abroad", "recycling_loss")
PROCESS_LABELS: dict[str, str] = {
    "market": "New products (market)",
    "use": "In use",
    "hibernation": "Hibernating at home",
    "end_of_life": "End of life",
    "export_reuse_abroad": "Export / reuse abroad",
    "residual_waste": "Residual waste",
    "separate_collection": "Separately collected",
    "recycling": "Recycling",
    "secondary_supply": "Secondary supply",
    "recycling_loss": "Recycling losses",
}


@dataclass(frozen=True)
class Metric:
    """A headline quantity and what makes it: a stock (kg at the end of the year) or a sum of flows (kg per
    year). Declared once here; the store's SQL (results.py), the Monte Carlo (uncertainty.Simulation) and the
    upload's dry run (upload_effect.py) all derive their sums from these declarations."""

    key: str
    label: str
    definition: str
    stock: str | None = None  # a key of STOCK_PROCESSES
    flows: tuple[tuple[str, str], ...] = ()  # (from_process, to_process) edges of EDGES, added up

    def __post_init__(self):
        if (self.stock is None) == (not self.flows):
            raise ValueError(f"The metric {self.key} must be either one stock or a sum of flows.")
        if self.stock is not None and self.stock not in STOCK_PROCESSES:
            raise ValueError(f"The metric {self.key} names an unknown stock {self.stock!r}.")
        unknown = [edge for edge in self.flows if edge not in {(a, b) for a, b, _ in EDGES}]
        if unknown:
            raise ValueError(f"The metric {self.key} names flows the system does not have: {unknown}.")


METRICS: dict[str, Metric] = {metric.key: metric for metric in (
    Metric("in_use_stock", "In-use stock", "kg in products in use at the end of the year", stock="use"),
    Metric("hibernating_stock", "Hibernating at home", "kg in retired devices kept unused at home", stock="hibernation"),
    Metric("new_products", "In new products", "kg per year entering use in new products (the city's demand)",
           flows=(("market", "use"),)),
    Metric("end_of_life", "Reaching end of life", "kg per year discarded, directly or from drawers",
           flows=(("use", "end_of_life"), ("hibernation", "end_of_life"))),
    Metric("separately_collected", "Separately collected", "kg per year collected for recycling",
           flows=(("end_of_life", "separate_collection"),)),
    Metric("secondary_supply", "Recovered (secondary supply)", "kg per year recovered as secondary raw material",
           flows=(("recycling", "secondary_supply"),)),
    Metric("lost", "Lost", "kg per year to residual waste, export or reuse abroad, and recycling losses",
           flows=(("end_of_life", "residual_waste"), ("end_of_life", "export_reuse_abroad"), ("recycling", "recycling_loss"))),
)}
# Which metric each flow or stock counts towards (a flow in none of them, such as use -> hibernation, counts in no metric).
METRIC_OF_FLOW: dict[tuple[str, str], str] = {edge: m.key for m in METRICS.values() for edge in m.flows}
METRIC_OF_STOCK: dict[str, str] = {m.stock: m.key for m in METRICS.values() if m.stock is not None}
