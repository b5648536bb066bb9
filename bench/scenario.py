"""Scenario recompute: one scenario for one city, the way a slider move on the Policy page runs it.

    .venv/bin/python bench/scenario.py [--runs 15] [--db PATH]

Target (issue 4): under 300 ms on this 2-core machine, so sliders feel live. Each run uses new lever
levels (no remembered result). Prints medians and ratios; writes bench/results/scenario.csv.
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
from decision_tools import scenarios  # noqa: E402

TARGET_S = 0.3
CASES = (("Helsinki", "Co"), ("Krakow", "all critical raw materials"), ("Ghent", "Nd"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--db", type=Path, help="an existing database (default: build a scratch one)")
    args = parser.parse_args()
    tables = project_tables(args.db)
    critical = critical_materials(tables)
    print(f"Scenario recompute, every lever moved, median of {args.runs} runs on {machine()}")
    rows = []
    for city, scope in CASES:
        engine = scenarios.ScenarioEngine(tables, city, critical if scope.startswith("all") else [scope])
        times = []
        for i in range(args.runs):
            fraction = (i + 1) / (args.runs + 1)  # new levels each run, so nothing is remembered
            settings = {k: lever.default + fraction * (lever.maximum - lever.default) for k, lever in engine.levers.items()}
            started = time.perf_counter()
            run = engine.run(settings)
            engine.indicators(run, 2035)
            engine.timeseries(run)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        rows.append({"case": f"{city}, {scope}", "median_s": f"{median:.3f}", "target_s": TARGET_S,
                     "ratio_to_target": f"{median / TARGET_S:.2f}"})
        print(f"  {city + ', ' + scope:<40} median {median * 1000:6.1f} ms   target {TARGET_S * 1000:.0f} ms, "
              f"ratio {median / TARGET_S:.2f}")
    print(f"Written to {write_results('scenario', rows).relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
