"""The city's CRM system: its processes, the flows between them, and the years reported.

Shared by the model (which computes the flows), the store (which checks their balance), the charts
and the CLI. Kept apart from the model so that reading results never imports the model's libraries.
"""

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
