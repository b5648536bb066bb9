"""Cold start: build the demo database from the CSVs, start the server, and render the Overview in
chromium until its numbers and Sankey are visible. Prints each phase's median over a few runs.

    .venv/bin/python bench/cold_start.py [--runs 3]

Writes bench/results/cold_start.csv (phase, median seconds, target seconds, ratio to target).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import machine, write_results  # noqa: E402
from decision_tools import storage  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: E402

TARGET_TOTAL_S = 30.0  # issue 2: build the database and open the Overview in under 30 s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run(browser) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "decision_tools", "build", "--db", str(db)], cwd=PROJECT_DIR,
                       check=True, capture_output=True)
        built = time.perf_counter()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
            cwd=PROJECT_DIR, env=dict(os.environ, **{storage.DB_ENV_VAR: str(db)}),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.1)
            serving = time.perf_counter()
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/?city=Helsinki&year=2030&material=Co")
            page.locator('[data-testid="stMetricValue"]').nth(6).wait_for(state="visible", timeout=120_000)
            page.locator('[data-testid="stPlotlyChart"] g.sankey').first.wait_for(state="visible", timeout=120_000)
            rendered = time.perf_counter()
            context.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {"build database": built - started, "server start": serving - built,
            "first Overview render": rendered - serving, "total": rendered - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        runs = [one_run(browser) for _ in range(args.runs)]
        browser.close()
    print(f"Cold start over {args.runs} runs on {machine()}")
    rows = []
    for phase in runs[0]:
        median = statistics.median(r[phase] for r in runs)
        target = TARGET_TOTAL_S if phase == "total" else None
        ratio = f"{median / target:.2f}" if target else ""
        rows.append({"phase": phase, "median_s": f"{median:.2f}", "target_s": target or "", "ratio_to_target": ratio})
        print(f"  {phase:<22} median {median:6.2f} s" + (f"   target {target:.0f} s, ratio {ratio}" if target else ""))
    out = write_results("cold_start", rows)
    print(f"Written to {out.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
