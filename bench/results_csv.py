"""Writing a benchmark's results: bench/results/NAME.csv with a ratio column and the machine."""

from __future__ import annotations

import csv
import os
import platform
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_results(name: str, rows: list[dict]) -> Path:
    """Write ``rows`` (dicts with the same keys) and a trailing '# machine' line; return the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{name}.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        handle.write(f"# {machine()}\n")
    return out
