"""Monte Carlo speed: 1,000 samples for one city, the way the Circularity indicators page runs them.

    .venv/bin/python bench/monte_carlo.py [--runs 7] [--db PATH]

Target (issue 3): under 2 s on this 2-core machine. Prints the median per case and its ratio to the
target, and writes bench/results/monte_carlo.csv. Uses a scratch database built from data/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import critical_materials, machine, project_tables, write_results  # noqa: E402
from decision_tools import uncertainty  # noqa: E402

TARGET_S = 2.0
CASES = (("Helsinki", "Co"), ("Helsinki", "Nd"), ("Krakow", "all critical raw materials"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", type=Path, help="an existing database (default: build a scratch one)")
    args = parser.parse_args()
    tables = project_tables(args.db)
    critical = critical_materials(tables)
    print(f"Monte Carlo, {uncertainty.DEFAULT_SAMPLES:,} samples per run, median of {args.runs} runs on {machine()}")
    rows = []
    for city, scope in CASES:
        materials = critical if scope.startswith("all") else [scope]
        uncertainty.simulate(tables, city, materials)  # warm-up: imports and caches, as a running app has them
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            sim = uncertainty.simulate(tables, city, materials)
            uncertainty.indicator_samples(sim, 2030)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        rows.append({"case": f"{city}, {scope}", "samples": uncertainty.DEFAULT_SAMPLES, "median_s": f"{median:.3f}",
                     "target_s": TARGET_S, "ratio_to_target": f"{median / TARGET_S:.2f}"})
        print(f"  {city + ', ' + scope:<45} median {median:6.3f} s   target {TARGET_S:.1f} s, ratio {median / TARGET_S:.2f}")
    out = write_results("monte_carlo", rows)
    print(f"Written to {out.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
