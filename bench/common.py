"""What the benchmarks share: the project's tables from a scratch database, the machine, and writing
results to bench/results/NAME.csv (with a ratio column and the machine)."""

from __future__ import annotations

import csv
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from decision_tools import storage  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def peak_memory_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    parent across exec, so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def project_tables(db: Path | None = None) -> dict:
    """The input tables of the current version of ``db``, or of a scratch database built from data/."""
    with tempfile.TemporaryDirectory() as tmp:
        path = db or Path(tmp) / "bench.duckdb"
        if db is None:
            storage.build_database(path)
        with storage.Store.open(path) as store:
            return store.input_tables(store.current_version())


def critical_materials(tables: dict) -> list[str]:
    return list(tables["materials"].loc[tables["materials"]["critical_2023"].astype(bool), "symbol"])
