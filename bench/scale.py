"""Scale: the flows table at 1 M rows (and, on request, 10 M or 50 M), built with the same code path as
the real data (the project CSVs with the cities copied under new names), then each page's main query
through decision_tools against a plain pandas implementation of the same query on the same data.

    .venv/bin/python bench/scale.py [--rows 1000000 10000000] [--runs 5]

Prints medians, the ratio pandas / decision_tools and peak memory; writes bench/results/scale.csv.
Targets (issue 9, at 10 M rows): every page's data under 250 ms median and at least 5x faster than pandas.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import machine, write_results  # noqa: E402
from decision_tools import storage  # noqa: E402

ROWS_PER_CITY_COPY = 723_690 / 7  # flow rows per city of the demo data (districts included)


def synthetic_data(target_rows: int, folder: Path) -> Path:
    """The project CSVs with every city copied ``n`` times under new names (districts too)."""
    data = folder / "data"
    shutil.copytree(PROJECT_DIR / "data", data, ignore=shutil.ignore_patterns("*.duckdb*"))
    copies = max(1, round(target_rows / (ROWS_PER_CITY_COPY * 7)))
    cities = pd.read_csv(data / "cities.csv", dtype=str, keep_default_na=False)
    districts = pd.read_csv(data / "districts.csv", dtype=str, keep_default_na=False)
    organisations = pd.read_csv(data / "organisations.csv", dtype=str, keep_default_na=False)
    pd.concat([cities.assign(city=cities["city"] + ("" if i == 0 else f" {i}")) for i in range(copies)]).to_csv(
        data / "cities.csv", index=False)
    pd.concat([districts.assign(city=districts["city"] + ("" if i == 0 else f" {i}")) for i in range(copies)]).to_csv(
        data / "districts.csv", index=False)
    organisations.to_csv(data / "organisations.csv", index=False)
    return data


def timed(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows_out = []
    print(f"Scale benchmark on {machine()}")
    for target in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            data = synthetic_data(target, Path(tmp))
            db = Path(tmp) / "scale.duckdb"
            started = time.perf_counter()
            storage.build_database(db, data)
            build_s = time.perf_counter() - started
            with storage.Store.open(db) as store:
                flows = store._frame("SELECT * FROM flows")  # the pandas baseline works on the same rows
                stocks = store._frame("SELECT * FROM stocks")
                n = len(flows)
                queries = {
                    "Overview chain": (lambda: store.chain(1, "Helsinki", 2030, "Co"),
                                       lambda: flows[(flows.city == "Helsinki") & (flows.year == 2030) & (flows.material == "Co")]
                                       .groupby(["material", "from_process", "to_process"])["kg"].sum()),
                    "Overview headline": (lambda: store.metric_table(1, "Helsinki", "Co", 2030),
                                          lambda: (flows[(flows.city == "Helsinki") & (flows.year == 2030) & (flows.material == "Co")]
                                                   .groupby("to_process")["kg"].sum(),
                                                   stocks[(stocks.city == "Helsinki") & (stocks.year == 2030) & (stocks.material == "Co")]
                                                   .groupby("process")["kg"].sum())),
                    "Over time": (lambda: store.metric_table(1, "Helsinki", "Co", None, ("year",)),
                                  lambda: flows[(flows.city == "Helsinki") & (flows.material == "Co")]
                                  .groupby(["year", "to_process"])["kg"].sum()),
                    "City comparison": (lambda: store.metric_table(1, None, "Co", 2030, ("city",)),
                                        lambda: flows[(flows.year == 2030) & (flows.material == "Co")]
                                        .groupby(["city", "to_process"])["kg"].sum()),
                }
                print(f"  {n:,} flow rows (build {build_s:.1f} s)")
                for name, (ours, baseline) in queries.items():
                    ours_s, pandas_s = timed(ours, args.runs), timed(baseline, args.runs)
                    rows_out.append({"rows": n, "query": name, "median_ms": f"{ours_s * 1000:.1f}",
                                     "pandas_median_ms": f"{pandas_s * 1000:.1f}", "ratio_pandas_over_ours": f"{pandas_s / ours_s:.1f}",
                                     "target_ms": 250})
                    print(f"    {name:<20} {ours_s * 1000:8.1f} ms   pandas {pandas_s * 1000:8.1f} ms   ratio {pandas_s / ours_s:5.1f}x")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory of this process {peak_mb:,.0f} MB (the pandas baseline holds the whole table)")
    print(f"Written to {write_results('scale', rows_out).relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
