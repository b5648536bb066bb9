"""Scale: each page's main data query at 1 M, 10 M and 50 M flow rows, through decision_tools against
a plain pandas implementation of the same query on the same rows, with peak memory of each.

    .venv/bin/python bench/scale.py [--rows 1000000 10000000 50000000] [--runs 5]

The database is built with the real path (`storage.build_database` on the project CSVs: the model runs
for the seven demo cities); it is then grown to the requested size by copying every city under new
names ("Helsinki 1", "Helsinki 2", ...). The model is deterministic, so a copied city's rows are exactly
what the model would produce for it; copying with SQL saves running it hundreds of times. The copies are
stored in the same order as a publish stores them (storage.RESULT_ORDER).

Each side runs in its own process, so its peak memory (max RSS) is its own. The pandas baseline gets
the flows and stocks columns it needs with dictionary-encoded (categorical) text, the fastest and
smallest form a careful pandas user would pick. Prints medians, the ratio pandas / decision_tools
and peak memory; writes bench/results/scale.csv. Targets (issue 9, at 10 M rows): every page's data
under 250 ms median, at least 5x faster than pandas, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import machine, peak_memory_mb, write_results  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
from decision_tools import storage, system  # noqa: E402
from decision_tools.provenance import join_sources, weakest  # noqa: E402

TARGET_MS, TARGET_RATIO, TARGET_PEAK_MB = 250, 5, 2048
CITY, YEAR, MATERIAL = "Helsinki", 2030, "Co"
QUERIES = ("Overview chain", "Overview headline", "Over time", "City comparison")


def build_scaled(db: Path, target_rows: int) -> int:
    """Build the demo database at ``db`` and grow it to about ``target_rows`` flow rows; return the count."""
    storage.build_database(db)
    con = storage.connect(db, read_only=False)
    try:
        con.execute("SET enable_progress_bar = false")
        base_rows = con.execute("SELECT count(*) FROM flows").fetchone()[0]
        copies = max(1, math.ceil(target_rows / base_rows))
        renamed = "CASE WHEN copy = 0 THEN city ELSE city || ' ' || copy END AS city"
        con.execute("BEGIN TRANSACTION")
        for table in ("cities", "districts", *storage.RESULT_TABLES):
            order = f" ORDER BY {storage.RESULT_ORDER[table]}" if table in storage.RESULT_ORDER else ""
            con.execute(f"CREATE TEMP TABLE base AS SELECT * FROM {table}")
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT base.* REPLACE ({renamed}) FROM base, range({copies}) r(copy){order}")
            con.execute("DROP TABLE base")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        return con.execute("SELECT count(*) FROM flows").fetchone()[0]
    finally:
        con.close()


def median_s(function, runs: int) -> float:
    function()  # warm: the first call pays for opening files and loading code, not for the query
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ours(db: Path) -> dict:
    store = storage.Store.open(db)
    return {
        "Overview chain": lambda: store.chain(1, CITY, YEAR, MATERIAL),
        "Overview headline": lambda: store.metric_table(1, CITY, MATERIAL, YEAR),
        "Over time": lambda: store.metric_table(1, CITY, MATERIAL, None, ("year",)),
        "City comparison": lambda: store.metric_table(1, None, MATERIAL, YEAR, ("city",)),
    }


def pandas_baseline(db: Path) -> dict:
    """The same queries on frames held in memory: boolean masks, then group, sum and combine the
    provenance (weakest confidence, union of sources, any downscaled) exactly as metric_table does."""
    con = storage.connect(db)
    provenance = "confidence, source_ids, downscaled"

    def frame(sql: str):
        table = con.sql(sql).to_arrow_table()
        for index, name in enumerate(table.column_names):  # dictionary-encode text: categoricals, not strings
            if pa.types.is_string(table.schema.field(name).type) or pa.types.is_large_string(table.schema.field(name).type):
                table = table.set_column(index, name, table[name].dictionary_encode())
        return table.to_pandas()

    flows = frame(f"SELECT city, year, material, from_process, to_process, kg, {provenance} FROM flows")
    stocks = frame(f"SELECT city, year, material, process, kg, {provenance} FROM stocks")
    con.close()

    def selected(data, city=None, year=None):
        mask = data.material == MATERIAL
        if city is not None:
            mask &= data.city == city
        if year is not None:
            mask &= data.year == year
        return data[mask]

    def metric_rows(city=None, year=None):
        """The rows metric_table adds up, labelled with their metric (the same mapping as its SQL)."""
        stock_rows = selected(stocks, city, year)
        stock_rows = stock_rows.assign(metric=np.where(stock_rows.process == "use", "in_use_stock", "hibernating_stock"))
        flow_rows = selected(flows, city, year)
        to = flow_rows.to_process.astype(str)
        flow_rows = flow_rows.assign(metric=np.select(
            [flow_rows.from_process == "market", to == "end_of_life", to == "separate_collection", to == "secondary_supply",
             to.isin(["residual_waste", "export_reuse_abroad", "recycling_loss"])],
            ["new_products", "end_of_life", "separately_collected", "secondary_supply", "lost"], default=""))
        flow_rows = flow_rows[flow_rows.metric != ""]
        rows = pd.concat([stock_rows[stock_rows.year >= system.REPORT_START], flow_rows], ignore_index=True)
        return rows.astype({"confidence": str, "source_ids": str})

    def metric_table(by: tuple[str, ...] = (), **where):
        grouped = metric_rows(**where).groupby(["metric", *by]).agg(
            kg=("kg", "sum"), confidences=("confidence", "unique"), source_lists=("source_ids", "unique"),
            downscaled=("downscaled", "any")).reset_index()
        grouped["confidence"] = [weakest(labels) for labels in grouped.confidences]
        grouped["source_ids"] = [join_sources(lists) for lists in grouped.source_lists]
        return grouped.drop(columns=["confidences", "source_lists"])

    return {
        "Overview chain": lambda: selected(flows, CITY, YEAR).groupby(["material", "from_process", "to_process"], observed=True)["kg"].sum(),
        "Overview headline": lambda: metric_table(city=CITY, year=YEAR),
        "Over time": lambda: metric_table(("year",), city=CITY),
        "City comparison": lambda: metric_table(("city",), year=YEAR),
    }


def measure(side: str, db: Path, runs: int) -> dict:
    """Run one side's queries in this process; medians in ms and this process's peak memory in MB."""
    queries = (ours if side == "ours" else pandas_baseline)(db)
    medians = {name: median_s(function, runs) * 1000 for name, function in queries.items()}
    return {"median_ms": medians, "peak_mb": peak_memory_mb()}


def in_subprocess(side: str, db: Path, runs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", side, "--db", str(db), "--runs", str(runs)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--measure", choices=["ours", "pandas"], help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.db, args.runs)))
        return
    rows_out = []
    print(f"Scale benchmark on {machine()}")
    for target in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "scale.duckdb"
            started = time.perf_counter()
            n = build_scaled(db, target)
            print(f"  {n:,} flow rows (built in {time.perf_counter() - started:.0f} s, "
                  f"{db.stat().st_size / 2**20:,.0f} MB on disk)")
            mine, baseline = in_subprocess("ours", db, args.runs), in_subprocess("pandas", db, args.runs)
            for name in QUERIES:
                ours_ms, pandas_ms = mine["median_ms"][name], baseline["median_ms"][name]
                rows_out.append({"rows": n, "query": name, "median_ms": f"{ours_ms:.1f}", "pandas_median_ms": f"{pandas_ms:.1f}",
                                 "ratio_pandas_over_ours": f"{pandas_ms / ours_ms:.1f}", "target_ms": TARGET_MS,
                                 "target_ratio": TARGET_RATIO, "peak_mb": f"{mine['peak_mb']:.0f}",
                                 "pandas_peak_mb": f"{baseline['peak_mb']:.0f}", "target_peak_mb": TARGET_PEAK_MB})
                print(f"    {name:<18} {ours_ms:7.1f} ms   pandas {pandas_ms:8.1f} ms   ratio {pandas_ms / ours_ms:5.1f}x")
            print(f"    peak memory: decision_tools {mine['peak_mb']:,.0f} MB, pandas {baseline['peak_mb']:,.0f} MB "
                  f"(target {TARGET_PEAK_MB:,} MB)")
    print(f"Written to {write_results('scale', rows_out).relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
