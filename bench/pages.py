"""Speed you can feel: warm page-ready time and interaction time per page in chromium, on the demo data,
against the floor of an empty Streamlit page served by the same Streamlit.

    .venv/bin/python bench/pages.py [--runs 10] [--quick]

A fresh demo database is built from data/*.csv in a temporary folder (``python -m decision_tools build
--db ...``; data/urban_symbiosis.duckdb is never touched), with one discussion session (an Overview view
and an Indicators view) so the Sessions page shows a step. A server runs the app on it.

For every page, after one warm-up visit (and one warm-up interaction): RUNS page loads (``page.goto`` of
the page's address in the same browser tab: the browser's files are cached, the server's results too) and
RUNS interactions (change the city in the sidebar, alternating between two cities; on Policy also move a
lever slider by one step, alternating right and left). A time ends when the app's last script run has
finished (tests/e2e's READY selector: ``data-test-script-state="notRunning"``) with the page's h1 drawn,
and no new run starts within QUIET_S (the quiet wait itself is not counted). Load times start at
navigation, interaction times just before the click or key press.

The floor is the same measurement on an empty app (a title, a selectbox in the sidebar, a slider) served
by the same Streamlit from a temporary folder: what any page costs before the project's own work.

Prints median and p95 (linear interpolation; with few runs p95 is close to the slowest) per page, the
ratio of each median to the floor's, and pass/fail against the targets (issue 16, on a quiet 2-core
machine: every page ready in at most 1.5 s warm, interactions at most 0.7 s; judged on the median).
Writes bench/results/pages.csv. ``--quick``: 3 runs, Overview and Policy only (and the floor).
"""

from __future__ import annotations

import argparse
import math
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

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import machine, write_results

from decision_tools import accounts, storage
from tests.e2e.conftest import CHROMIUM_ARGS, READY

TARGET_READY_S = 1.5  # issue 16: every page ready in at most 1.5 s warm
TARGET_INTERACTION_S = 0.7  # and an interaction (change city, move a lever) answered in at most 0.7 s
QUIET_S = 0.5  # a run counts as the last one when no other starts within this time (not counted in the times)
TIMEOUT_S = 180.0
LEVER_LABEL = "More WEEE collection points and campaigns"

# The pages as the app names them (url path, as st.navigation makes it from the file name).
PAGES = [("Overview", ""), ("Indicators", "indicators"), ("Exposure", "exposure"), ("Policy", "policy"),
         ("Hub", "hub"), ("Sessions", "sessions"), ("Data", "data"), ("Methods", "methods")]
QUICK_PAGES = {"Overview", "Policy"}

EMPTY_APP = '''import streamlit as st

st.title("Empty page")
with st.sidebar:
    st.selectbox("City", ["Helsinki", "Ghent"], key="city")
st.slider("Lever", 0.0, 1.0, 0.0, 0.05, key="lever")
'''

# Records every change of the app's script state and every message from the server with its time (ms since
# navigation), so that the end of the last run is known, however many reruns a load or an interaction causes. The
# messages are needed too: a rerun that takes a few ms can finish before the page ever draws the "running" state.
RUN_RECORDER = """
window.__usRuns = [];
window.__usMsgs = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new NativeWebSocket(...args);
  socket.addEventListener('message', () => window.__usMsgs.push(performance.now()));
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, NativeWebSocket);
const mark = () => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return;
  const state = app.getAttribute('data-test-script-state');
  const runs = window.__usRuns;
  if (!runs.length || runs[runs.length - 1].state !== state) runs.push({state: state, t: performance.now()});
};
new MutationObserver(mark).observe(document, {subtree: true, childList: true, attributes: true,
                                              attributeFilter: ['data-test-script-state']});
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(script: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`streamlit run script` with the flags of tests/e2e's start_server (from the project folder, so its
    .streamlit/config.toml applies to the floor app too); returns (process, url) once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=PROJECT_DIR, env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"The Streamlit server for {script.name} did not start within 120 s.")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def settled(page, since_ms: float) -> float:
    """Wait until the app has an h1 and the work started after ``since_ms`` is done: the script is not running,
    and neither a new run nor a message from the server comes within QUIET_S. Returns when the last run finished
    or the last message arrived, whichever is later (ms since navigation)."""
    deadline = time.monotonic() + TIMEOUT_S
    page.wait_for_selector("h1", timeout=TIMEOUT_S * 1000)
    while time.monotonic() < deadline:
        page.wait_for_selector(READY, timeout=TIMEOUT_S * 1000)
        runs, messages = page.evaluate("[window.__usRuns, window.__usMsgs]")
        ends = [r["t"] for r in runs if r["t"] >= since_ms and r["state"] == "notRunning"]
        ends += [t for t in messages if t >= since_ms]
        if not ends or runs[-1]["state"] != "notRunning":  # the click's run has not begun, or not ended, yet
            page.wait_for_timeout(20)
            continue
        page.wait_for_timeout(QUIET_S * 1000)
        if page.evaluate("[window.__usRuns.length, window.__usMsgs.length]") == [len(runs), len(messages)]:
            return max(ends)
    raise PlaywrightError(f"the page did not settle within {TIMEOUT_S:.0f} s")


def load_time(page, url: str) -> float:
    page.goto(url)
    return settled(page, 0.0) / 1000


def choose_city(page, city: str) -> float:
    start = page.evaluate("performance.now()")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="City").click()
    page.get_by_role("option", name=city, exact=True).click()
    return (settled(page, start) - start) / 1000


def move_lever(page, key: str, label: str | None) -> float:
    sliders = page.locator('[data-testid="stMain"] [data-testid="stSlider"]')
    slider = sliders.filter(has_text=label).first if label and sliders.filter(has_text=label).count() else sliders.first
    handle = slider.get_by_role("slider")
    handle.focus()
    start = page.evaluate("performance.now()")
    page.keyboard.press(key)
    return (settled(page, start) - start) / 1000


def measure(page, url: str, runs: int, cities: tuple[str, str], lever: str | None) -> dict[str, list[float]]:
    """A warm-up visit and interaction, then ``runs`` loads, city changes and (with ``lever``) lever moves."""
    times: dict[str, list[float]] = {"page ready": [], "change city": []}
    load_time(page, url)  # warm-up: the server computes and caches, the browser caches the files
    choose_city(page, cities[1])
    choose_city(page, cities[0])
    for _ in range(runs):
        times["page ready"].append(load_time(page, url))
    for run in range(runs):
        times["change city"].append(choose_city(page, cities[(run + 1) % 2]))
    if lever is not None:
        times["move a lever"] = []
        load_time(page, url)
        move_lever(page, "ArrowRight", lever)  # warm-up
        move_lever(page, "ArrowLeft", lever)
        for run in range(runs):
            times["move a lever"].append(move_lever(page, "ArrowRight" if run % 2 == 0 else "ArrowLeft", lever))
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    at = (len(ordered) - 1) * share
    low, high = math.floor(at), math.ceil(at)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def demo_database(folder: Path) -> tuple[Path, str, tuple[str, str]]:
    """A fresh demo database from the CSVs, with a discussion session; returns (path, session id, two cities)."""
    db = folder / "pages_bench.duckdb"
    subprocess.run([sys.executable, "-m", "decision_tools", "build", "--db", str(db)], cwd=PROJECT_DIR, check=True,
                   capture_output=True)
    bench = accounts.Actor.cli("bench")
    with storage.Store.open(db, read_only=False) as store:
        version = store.current_version()
        cities = list(store.table("cities", version)["city"])
        first = "Helsinki" if "Helsinki" in cities else cities[0]
        second = next(c for c in cities if c != first)
        views = [store.save_view("Cobalt in Helsinki today", "", {"city": first, "year": 2025, "material": "Co"}, version, bench),
                 store.save_view("Indicators 2030", "indicators", {"city": first, "year": 2030, "material": "Co"}, version, bench)]
        session_id = store.create_session("Benchmark session", [(view, "A note") for view in views], bench)
    return db, session_id, (first, second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured loads and interactions per page (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 runs, Overview and Policy only")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    pages = [p for p in PAGES if not args.quick or p[0] in QUICK_PAGES]

    results: dict[str, dict[str, list[float]]] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        started = time.perf_counter()
        db, session_id, cities = demo_database(folder)
        print(f"Demo database built in {time.perf_counter() - started:.1f} s; measuring {runs} run(s) per page on {machine()}")
        empty = folder / "empty_app.py"
        empty.write_text(EMPTY_APP)
        env = {storage.DB_ENV_VAR: str(db), accounts.CREDENTIALS_ENV_VAR: str(folder / "credentials.yaml")}
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            for name, script, paths in (("floor", empty, [("Empty page", "")]), ("app", PROJECT_DIR / "app.py", pages)):
                process, url = serve(script, env)
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                context.add_init_script(RUN_RECORDER)
                context.set_default_timeout(TIMEOUT_S * 1000)  # a loaded machine: slow is measured, not an error
                page = context.new_page()
                try:
                    for title, path in paths:
                        query = f"?session={session_id}&step=1" if path == "sessions" else ""
                        lever = LEVER_LABEL if path == "policy" else ("Lever" if name == "floor" else None)
                        label = "Empty page (floor)" if name == "floor" else title
                        try:
                            results[label] = measure(page, f"{url}/{path}{query}", runs,
                                                     cities if name == "app" else ("Helsinki", "Ghent"), lever)
                        except PlaywrightError as exc:  # one page that fails is said; the others are still measured
                            failed.append(f"{label}: {str(exc).splitlines()[0]}")
                            print(f"  {label:<20} FAILED: {failed[-1]}", flush=True)
                            continue
                        summary = "; ".join(f"{kind} median {statistics.median(v):.2f} s" for kind, v in results[label].items())
                        print(f"  {label:<20} {summary}", flush=True)
                finally:
                    context.close()
                    stop(process)
        finally:
            browser.close()

    if "Empty page (floor)" not in results:
        raise SystemExit("The floor (an empty page) could not be measured: " + "; ".join(failed))
    floor = {kind: statistics.median(values) for kind, values in results.pop("Empty page (floor)").items()}
    rows = [{"page": "Empty page (floor)", "measure": kind, "runs": runs, "median_s": f"{value:.3f}", "p95_s": "",
             "ratio_to_floor": "1.00", "target_s": "", "pass": ""} for kind, value in floor.items()]
    print(f"\nWarm times over {runs} run(s) (median / p95), floor = an empty Streamlit page on the same server setup")
    print(f"  {'page':<12} {'measure':<13} {'median':>7} {'p95':>7} {'x floor':>8} {'target':>7}  result")
    for kind, value in floor.items():
        print(f"  {'(floor)':<12} {kind:<13} {value:6.2f}s {'':>7} {'1.00':>8}")
    misses = []
    for label, measured in results.items():
        for kind, values in measured.items():
            median, p95 = statistics.median(values), percentile(values, 0.95)
            target = TARGET_READY_S if kind == "page ready" else TARGET_INTERACTION_S
            ok = median <= target
            if not ok:
                misses.append(f"{label} ({kind} {median:.2f} s)")
            ratio = median / floor[kind] if floor.get(kind) else float("nan")
            rows.append({"page": label, "measure": kind, "runs": runs, "median_s": f"{median:.3f}", "p95_s": f"{p95:.3f}",
                         "ratio_to_floor": f"{ratio:.2f}", "target_s": target, "pass": "pass" if ok else "FAIL"})
            print(f"  {label:<12} {kind:<13} {median:6.2f}s {p95:6.2f}s {ratio:7.2f}x {target:6.1f}s  {'pass' if ok else 'FAIL'}")
    if results:
        slowest = max(results.items(), key=lambda item: statistics.median(item[1]["page ready"]))
        print(f"\nSlowest page to be ready: {slowest[0]} ({statistics.median(slowest[1]['page ready']):.2f} s median).")
    print("Missing the target: " + (", ".join(misses) if misses else "none"))
    if failed:
        print("Not measured (failed): " + "; ".join(failed))
        rows += [{"page": f.split(":")[0], "measure": "failed", "runs": runs, "median_s": "", "p95_s": "", "ratio_to_floor": "",
                  "target_s": "", "pass": "FAIL"} for f in failed]
    out = write_results("pages", rows)
    print(f"Written to {out.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
