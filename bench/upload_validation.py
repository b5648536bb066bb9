"""Upload validation at scale: a 1,000,000-row ownership upload (every product, every year 1980-2050, for
about 1,600 municipalities, as a national statistics office would send it) checked by
decision_tools.uploads.check_upload, what the Data page and `python -m decision_tools ingest` call, against a
pandas + pandera baseline with the same rules (columns, types, ranges, allowed values, known codes, unique
key) on the same CSV bytes. Two variants: every row valid, and 1 % bad rows (negative ownership, unknown
product, missing value); both sides must find the same number of bad rows. The file is about 100 MB, so the
upload limit ($URBAN_SYMBIOSIS_MAX_UPLOAD_MB, 20 MB by default) is raised for the run.

    .venv/bin/python bench/upload_validation.py [--rows 1000000] [--runs 3]

Each side runs in its own process, so its peak memory is its own. Our side does more than the baseline:
it also neutralises formula-like text and, on a valid upload, merges it into the current version, re-checks
every cross-table rule and counts the rows added, changed and removed (the dry run).
Prints medians, the ratio pandera / ours and peak memory; writes bench/results/upload_validation.csv.
Target (proposed for issue 9): a 1 M-row upload checked in under 10 s median.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import machine, peak_memory_mb, project_tables, write_results  # noqa: E402
from decision_tools import upload_limits, uploads  # noqa: E402
from decision_tools.table_specs import TABLES  # noqa: E402
from decision_tools.provenance import split_sources  # noqa: E402

TARGET_S = 10.0
YEARS = range(1980, 2051)  # the model's years, spin-up included
BAD_SHARE = 0.01


def municipalities(current: dict, count: int) -> dict:
    """The current tables with the cities copied under new names until there are ``count`` of them:
    an upload's geographies must be cities the current version knows."""
    cities = current["cities"]
    copies = math.ceil(count / len(cities))
    more = pd.concat([cities.assign(city=cities["city"] + ("" if i == 0 else f" {i}")) for i in range(copies)],
                     ignore_index=True)
    return {**current, "cities": more}


def ownership_upload(current: dict, rows: int, bad_share: float, seed: int = 9) -> bytes:
    """``rows`` valid ownership rows as CSV: the project's EU curves per product, interpolated over the years
    and scaled by a factor per city; then ``bad_share`` of the rows broken, a third of them each way."""
    rng = np.random.default_rng(seed)
    eu = current["ownership"].query("geography == 'EU'")
    curves = {product: np.interp(YEARS, g["year"], g["units_per_driver"]) for product, g in eu.groupby("product")}
    per_city = len(curves) * len(YEARS)
    cities = current["cities"]["city"].to_numpy()[: math.ceil(rows / per_city)]
    frame = pd.DataFrame({
        "geography": np.repeat(cities, per_city),
        "product": np.tile(np.repeat(list(curves), len(YEARS)), len(cities)),
        "year": np.tile(np.tile(YEARS, len(curves)), len(cities)),
        "units_per_driver": np.tile(np.concatenate(list(curves.values())), len(cities))
        * np.repeat(rng.uniform(0.7, 1.3, len(cities)), per_city),
        "source_id": "PROJECT_ASSUMPTION",
        "confidence": "illustrative",
        "basis": "EU curve scaled to the municipality",
    }).head(rows)
    frame["units_per_driver"] = frame["units_per_driver"].round(4)
    bad = rng.choice(rows, size=round(rows * bad_share), replace=False)
    negative, unknown, missing = np.array_split(bad, 3)
    frame.loc[negative, "units_per_driver"] = -1.0
    frame.loc[unknown, "product"] = [f"hoverboard {i}" for i in range(len(unknown))]  # distinct: no duplicate keys
    frame["units_per_driver"] = frame["units_per_driver"].astype(object)
    frame.loc[missing, "units_per_driver"] = ""
    return frame.to_csv(index=False).encode()


def ours(content: bytes, current: dict) -> int:
    """Bad rows found by the project's own path: the distinct rows its problems name one by one, plus the rows
    each grouped sentence counts ("column 'x': 3,334 rows: must be at least 0 (the first 20: ...)"; the
    benchmark breaks each bad row in one way only, so the groups do not overlap)."""
    check = uploads.check_upload("ownership", content, "ownership.csv", current)
    named, grouped = set(), 0
    for problem in check.report.problems:
        if group := re.match(r"[^:]*, column '[^']*': ([\d,]+) rows: ", problem):
            grouped += int(group.group(1).replace(",", ""))
        elif row := re.search(r", row (\d+)", problem):
            named.add(row.group(1))
    return len(named) + grouped


def pandera_schema(current: dict):
    """The ownership table's rules as a pandera schema: types, required cells, ranges and allowed values from
    the same column specs, plus the codes the current version knows and the unique key."""
    import pandera.pandas as pa

    cities = current["cities"]
    known = {"product": set(current["products"]["product"]),
             "geography": {"EU"} | set(cities["country_iso3"]) | set(cities["city"])}
    sources = set(current["sources"]["source_id"])
    spec = TABLES["ownership"]
    columns = {}
    for col in spec.columns:
        checks = []
        if col.min_value is not None:
            checks.append(pa.Check.ge(col.min_value))
        if col.max_value is not None:
            checks.append(pa.Check.le(col.max_value))
        if col.choices is not None:
            checks.append(pa.Check.isin(col.choices))
        if col.name in known:
            checks.append(pa.Check.isin(known[col.name]))
        if col.name == "source_id":  # ';'-separated lists: each distinct list checked once, as ours does
            checks.append(pa.Check(lambda s: s.isin([v for v in s.unique() if all(x in sources for x in split_sources(v))]),
                                   name="known_sources"))
        columns[col.name] = pa.Column({"str": str, "float": float, "int": int, "bool": bool}[col.kind], checks,
                                      nullable=not col.required, coerce=True)
    return pa.DataFrameSchema(columns, unique=list(spec.key), report_duplicates="exclude_first", strict=True)


def baseline(content: bytes, current: dict) -> int:
    """Bad rows found by pandas + pandera (lazy: every failure at once)."""
    import pandera.errors  # only in the pandera process, so it does not count in our peak memory

    frame = pd.read_csv(io.BytesIO(content))
    try:
        pandera_schema(current).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return exc.failure_cases["index"].dropna().nunique()
    return 0


def worker(side: str, upload: Path, current_path: Path, runs: int) -> None:
    """One side, in its own process: median seconds, bad rows found and this process's peak memory, as JSON."""
    content, current = upload.read_bytes(), pickle.loads(current_path.read_bytes())
    os.environ[upload_limits.MAX_UPLOAD_MB_ENV_VAR] = str(len(content) / 2**20 + 1)  # 1 M rows are more than the 20 MB default
    function = ours if side == "ours" else baseline
    times, found = [], None
    for _ in range(runs):
        started = time.perf_counter()
        found = function(content, current)
        times.append(time.perf_counter() - started)
    print(json.dumps({"median_s": statistics.median(times), "bad_rows": int(found), "peak_mb": peak_memory_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", choices=("ours", "pandera"), help=argparse.SUPPRESS)
    parser.add_argument("--upload", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--current", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.upload, args.current, args.runs)
        return
    import pandera

    print(f"Upload validation, {args.rows:,} ownership rows, median of {args.runs} runs, "
          f"pandera {pandera.__version__}, on {machine()}")
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        base = project_tables()
        current = municipalities(base, math.ceil(args.rows / (base["products"].shape[0] * len(YEARS))))
        current_path = Path(tmp) / "current.pickle"
        current_path.write_bytes(pickle.dumps(current))
        for variant, bad_share in (("valid", 0.0), ("1 % bad", BAD_SHARE)):
            upload = Path(tmp) / "ownership.csv"
            upload.write_bytes(ownership_upload(current, args.rows, bad_share))
            expected = round(args.rows * bad_share)
            print(f"  {variant}: {upload.stat().st_size / 2**20:.0f} MB CSV, {expected:,} bad rows, "
                  f"{len(current['cities']):,} cities in the current version")
            result = {}
            for side in ("ours", "pandera"):
                out = subprocess.run([sys.executable, __file__, "--worker", side, "--upload", str(upload),
                                      "--current", str(current_path), "--runs", str(args.runs)],
                                     check=True, capture_output=True, text=True).stdout
                result[side] = json.loads(out.splitlines()[-1])
            o, p = result["ours"], result["pandera"]
            ratio = p["median_s"] / o["median_s"]
            rows_out.append({"rows": args.rows, "variant": variant, "median_s": f"{o['median_s']:.2f}",
                             "pandera_median_s": f"{p['median_s']:.2f}", "ratio_pandera_over_ours": f"{ratio:.2f}",
                             "target_s": TARGET_S, "peak_mb": f"{o['peak_mb']:.0f}", "pandera_peak_mb": f"{p['peak_mb']:.0f}",
                             "bad_rows": o["bad_rows"], "pandera_bad_rows": p["bad_rows"]})
            same = "same" if o["bad_rows"] == p["bad_rows"] == expected else "DIFFERENT"
            print(f"    ours    {o['median_s']:6.2f} s  peak {o['peak_mb']:6,.0f} MB  bad rows {o['bad_rows']:,}")
            print(f"    pandera {p['median_s']:6.2f} s  peak {p['peak_mb']:6,.0f} MB  bad rows {p['bad_rows']:,}")
            print(f"    ratio pandera / ours {ratio:.2f}x, {o['median_s'] / TARGET_S:.2f} of the {TARGET_S:g} s target; "
                  f"bad rows {same}")
    print(f"Written to {write_results('upload_validation', rows_out).relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
