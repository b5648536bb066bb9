"""Load: readers while a researcher publishes, and several browser sessions at once, on a scratch database.

    .venv/bin/python bench/load.py [--threads 8] [--seconds 20] [--sessions 4] [--rounds 3]

(a) THREADS threads run each page's data calls through decision_tools (what ui.py caches for the
pages) on one database for SECONDS, and on until they have read a version published meanwhile, while
another thread publishes new versions (the current inputs with every product's material content
scaled a little). Errors are counted, and every read must see one version whole: a version's chain
sums to the same kg in every read, and to what it sums to afterwards.
(b) SESSIONS chromium sessions (a browser context each) open the pages of a server on that database,
ROUNDS times each, timed from navigation until the app is ready (tests/e2e wait_ready's check).

Prints medians and p95; writes bench/results/load.csv. Never touches data/urban_symbiosis.duckdb.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from common import critical_materials, machine, write_results  # noqa: E402
from decision_tools import accounts, exposure, scenarios, storage, symbiosis, uncertainty  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS, ERROR_BOXES, READY, start_server, stop_server  # noqa: E402

CITIES = ("Helsinki", "Ghent", "Krakow", "Delft")  # reader or session i works on city i mod 4
YEAR, MATERIAL = 2030, "Co"
PAGE_PATHS = {"Overview": "", "Indicators": "indicators", "Policy": "policy", "Exposure": "exposure", "Hub": "hub"}
SETTLE_MS = 300  # wait_ready looks twice, this far apart: a fresh page says 'notRunning' before its first run


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def summary(part: str, what: str, seconds: list[float], errors: int) -> dict:
    """One result row; median and p95 are blank when nothing finished."""
    return {"part": part, "what": what, "n": len(seconds), "median_s": f"{statistics.median(seconds):.3f}" if seconds else "",
            "p95_s": f"{p95(seconds):.3f}" if seconds else "", "errors": errors}


# --- (a) threads on decision_tools ---------------------------------------------------------------
class PageCalls:
    """Each page's data calls for one city, cached per version as ui.py caches them."""

    def __init__(self, store: storage.Store):
        self.store = store
        self.inputs = functools.lru_cache(maxsize=None)(store.input_tables)  # versions never change
        self.engine = functools.lru_cache(maxsize=None)(
            lambda version, city: scenarios.ScenarioEngine(self.inputs(version), city, [MATERIAL]))
        self.exposure_data = functools.lru_cache(maxsize=None)(lambda version: exposure.ExposureData.from_tables(self.inputs(version)))

    def overview(self, version: int, city: str) -> float:
        """The Overview's queries; returns the chain's total kg (the whole-version check)."""
        self.store.headline(version, city, YEAR, MATERIAL)
        for by in (("route", "product"), ("product",), ("district",)):
            self.store.metric_table(version, city, MATERIAL, YEAR, by)
        self.store.metric_table(version, city, MATERIAL, None, ("year",))
        return float(self.store.chain(version, city, YEAR, MATERIAL)["kg"].sum())

    def indicators(self, version: int, city: str) -> None:
        sim = uncertainty.simulate(self.inputs(version), city, [MATERIAL])
        uncertainty.indicator_samples(sim, YEAR)
        critical = critical_materials(self.inputs(version))
        self.store.chain(version, city, YEAR, critical)
        self.store.metric_table(version, None, critical, YEAR, ("city",))

    def policy(self, version: int, city: str) -> None:
        engine = self.engine(version, city)
        settings = {key: lever.default + 0.5 * (lever.maximum - lever.default) for key, lever in engine.levers.items()}
        run = engine.run(settings)
        engine.indicators(run, YEAR)
        engine.timeseries(run)

    def exposure(self, version: int, city: str) -> None:
        demand = uncertainty.quantity_frame(self.engine(version, city).baseline.simulation, "new_products")
        sectors = self.inputs(version)["products"].set_index("product")["sector"].to_dict()
        exposure.city_exposure(self.exposure_data(version), demand[demand["year"] == YEAR], sectors)

    def hub(self, version: int, city: str) -> None:
        symbiosis.match_candidates(self.inputs(version), city, None)
        symbiosis.public_view(self.inputs(version)["offers"])


def run_readers(db: Path, threads: int, seconds: float) -> list[dict]:
    store = storage.Store.open(db, read_only=False)  # one connection, a cursor per query: as the app
    calls = PageCalls(store)
    timings, errors, publishes = defaultdict(list), [], []
    chain_totals = defaultdict(list)  # (version, city) -> the chain's total kg in every read
    stop, new_version_read = threading.Event(), threading.Event()
    first_version = store.current_version()

    def reader(index: int) -> None:
        city = CITIES[index % len(CITIES)]
        for page in itertools.cycle(PAGE_PATHS):
            if stop.is_set():
                return
            started = time.perf_counter()
            try:
                version = store.current_version()  # app.py, on every page: the latest version and the picker's list
                store.versions()
                total = getattr(calls, page.lower())(version, city)
                if total is not None:
                    chain_totals[version, city].append(total)
                    if version > first_version:
                        new_version_read.set()
            except Exception as exc:  # noqa: BLE001 - every error is counted and shown
                errors.append((page, repr(exc)))
            timings[page].append(time.perf_counter() - started)

    def publisher() -> None:
        for step in itertools.count(1):
            if stop.is_set():
                return
            tables = {name: frame.copy() for name, frame in calls.inputs(store.current_version()).items()}
            tables["product_content"]["grams_per_unit"] *= 1 + 0.01 * step
            started = time.perf_counter()
            try:
                store.publish(tables, f"Load benchmark {step}", "bench/load.py", accounts.Actor.cli("bench"))
            except Exception as exc:  # noqa: BLE001
                errors.append(("publish", repr(exc)))
            publishes.append(time.perf_counter() - started)

    run_started = time.monotonic()
    workers = [threading.Thread(target=reader, args=(i,)) for i in range(threads)] + [threading.Thread(target=publisher)]
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    while not (new_version_read.wait(timeout=1) or errors):  # go on until a version published meanwhile was read
        pass
    stop.set()
    for worker in workers:
        worker.join()

    # Whole versions: one total per version and city, equal to the committed version's total now.
    torn = []
    for (version, city), totals in chain_totals.items():
        committed = float(store.chain(version, city, YEAR, MATERIAL)["kg"].sum())
        torn += [total for total in totals if not math.isclose(total, committed, rel_tol=1e-9)]
    versions_read = sorted({version for version, _ in chain_totals})
    store.close()
    print(f"(a) {threads} reader threads for {time.monotonic() - run_started:.0f} s, one publisher: {len(publishes)} version(s) published, "
          f"versions read {versions_read}, {len(errors)} error(s), {len(torn)} read(s) of a version not whole")
    for page, error in errors[:5]:
        print(f"    {page}: {error}")
    failed = Counter(page for page, _ in errors)
    rows = [summary("threads", f"{page} data calls", timings[page], failed[page]) for page in PAGE_PATHS]
    rows.append(summary("threads", "every page", [t for page in PAGE_PATHS for t in timings[page]],
                        sum(failed[page] for page in PAGE_PATHS) + len(torn)))
    rows.append(summary("threads", "publish a version", publishes, failed["publish"]))
    return rows


# --- (b) chromium sessions ---------------------------------------------------------------------
async def open_until_ready(page, url: str) -> float:
    """Seconds from navigation until tests/e2e wait_ready's check holds (its settle pause not counted)."""
    started = time.perf_counter()
    await page.goto(url)
    await page.wait_for_selector("h1", timeout=60_000)
    await page.wait_for_selector(READY, timeout=60_000)
    await page.wait_for_timeout(SETTLE_MS)
    await page.wait_for_selector(READY, timeout=60_000)
    return time.perf_counter() - started - SETTLE_MS / 1000


async def session(browser, url: str, index: int, rounds: int, timings: dict, errors: list) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    names = list(PAGE_PATHS)
    city = CITIES[index % len(CITIES)]
    for step in range(rounds * len(names)):
        name = names[(index + step) % len(names)]  # sessions start on different pages
        try:
            timings[name].append(await open_until_ready(page, f"{url}/{PAGE_PATHS[name]}?city={city}&year={YEAR}&material={MATERIAL}"))
            errors.extend((name, text) for text in await page.locator(ERROR_BOXES).all_inner_texts())
        except PlaywrightError as exc:  # a page that never got ready: counted, not timed
            errors.append((name, exc.message.splitlines()[0]))
    await context.close()


async def run_sessions(url: str, sessions: int, rounds: int) -> tuple[dict, list]:
    timings, errors = defaultdict(list), []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        await asyncio.gather(*(session(browser, url, i, rounds, timings, errors) for i in range(sessions)))
        await browser.close()
    return timings, errors


def run_browsers(db: Path, sessions: int, rounds: int) -> list[dict]:
    process, url = start_server(db)
    try:
        timings, errors = asyncio.run(run_sessions(url, sessions, rounds))
    finally:
        stop_server(process)
    print(f"(b) {sessions} chromium sessions, each opening every page {rounds} time(s): {len(errors)} error(s)")
    for name, error in errors[:5]:
        print(f"    {name}: {error}")
    failed = Counter(name for name, _ in errors)
    rows = [summary("browsers", f"{name} ready", timings[name], failed[name]) for name in PAGE_PATHS]
    rows.append(summary("browsers", "every page", [t for name in PAGE_PATHS for t in timings[name]], len(errors)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.duckdb"
        os.environ[accounts.CREDENTIALS_ENV_VAR] = str(Path(tmp) / "credentials.yaml")  # the server's, never config/
        storage.build_database(db)
        print(f"Load on {machine()}")
        rows = run_readers(db, args.threads, args.seconds) + run_browsers(db, args.sessions, args.rounds)
    print(f"  {'part':<9} {'what':<26} {'n':>5} {'median':>9} {'p95':>9} {'errors':>7}")
    for row in rows:
        print(f"  {row['part']:<9} {row['what']:<26} {row['n']:>5} {row['median_s']:>8}s {row['p95_s']:>8}s {row['errors']:>7}")
    print(f"Written to {write_results('load', rows).relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
