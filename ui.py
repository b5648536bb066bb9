"""Streamlit glue shared by app.py and the pages: the store, cached queries, the current selection,
and small renderers for provenance. The logic lives in decision_tools; this file only adapts it."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from decision_tools import accounts, publish_inbox, signin, snapshots, storage
from decision_tools.formatting import escape_markdown
from decision_tools.views import Selection


@st.cache_resource(show_spinner=False)
def get_store(db_path: str) -> storage.Store:
    """One read-write connection per process: the app is the database's single writer (saved
    scenarios, later uploads); every query takes its own cursor, so readers see consistent snapshots.
    It also publishes what the command line hands over (publish_inbox), since no other process can
    write the file while the app holds it; pages read current_version() on every run, so the next
    rerun shows such a version."""
    opened = storage.Store.open(db_path, read_only=False)
    publish_inbox.start_watcher(opened, Path(db_path))
    return opened


@st.cache_resource(show_spinner=False, max_entries=4)
def get_replica_store(snapshot: str) -> storage.Store:
    """Replica layout: one read-only connection per snapshot file (a new file is a new version)."""
    return storage.Store.open_replica(Path(snapshot))


def store() -> storage.Store:
    """The store for this run. A replica reads the snapshot pointer each time, so it moves to a newly
    published version on its next rerun, without a restart."""
    if snapshots.is_replica():
        try:
            return get_replica_store(str(snapshots.current_snapshot(snapshots.configured_dir())))
        except FileNotFoundError as exc:
            raise storage.DatabaseMissingError(str(exc)) from exc
    return get_store(str(storage.default_db_path()))


def _checksums(versions: pd.DataFrame) -> dict[int, str]:
    return {int(v): str(c) for v, c in zip(versions["version_id"], versions["checksum"])}


def remember_versions(versions: pd.DataFrame) -> None:
    """Note each version's checksum for this browser session (app.py, on every run, from the versions it reads)."""
    st.session_state["_dataset_keys"] = _checksums(versions)


def dataset_key(version_id: int) -> str:
    """What a version's cached results are keyed on besides its number: the checksum of its input tables
    (dataset_versions.checksum). Version 1 of one database file is not version 1 of another (a rebuilt demo
    database, each test's own copy), so a cache keyed on the number alone could serve one file's results for
    the other; equal checksums mean equal inputs, hence equal results, and such copies share the cache."""
    try:
        known = st.session_state.get("_dataset_keys", {})
    except Exception:  # no browser session (a thread of the server's own): read the versions
        known = {}
    if version_id not in known:
        known = _checksums(store().versions())
    return known.get(int(version_id), "unknown")


def per_dataset(cache, **options):
    """``cache`` (st.cache_data or st.cache_resource) for a function of (version_id, ...), keyed on the
    version's dataset_key as well. Every entry count is bounded (``max_entries``)."""
    def decorate(func):
        @functools.wraps(func)
        def keyed(dataset: str, *args, **kwargs):  # Streamlit hashes every argument: the checksum joins the key
            return func(*args, **kwargs)

        cached = cache(**{"show_spinner": False, **options})(keyed)

        @functools.wraps(func)
        def call(version_id: int, *args, **kwargs):
            return cached(dataset_key(version_id), version_id, *args, **kwargs)

        call.clear = cached.clear
        return call
    return decorate


@per_dataset(st.cache_data, max_entries=128)
def reference_table(version_id: int, name: str) -> pd.DataFrame:
    return store().table(name, version_id)


@per_dataset(st.cache_data, max_entries=64)
def ownership_geographies(version_id: int, city: str) -> pd.DataFrame:
    """Per product, whether the city's ownership figures are its own, national or the EU average."""
    from decision_tools.model_inputs import ownership_geographies as which

    cities = reference_table(version_id, "cities").set_index("city")
    return which(reference_table(version_id, "ownership"), reference_table(version_id, "products"), city,
                 cities.at[city, "country_iso3"])


@per_dataset(st.cache_resource, max_entries=8)
def input_tables(version_id: int) -> dict[str, pd.DataFrame]:
    """Every input table of a version, read once per process (versions never change). Shared by all
    sessions: callers must not modify the frames (decision_tools copies before it changes anything)."""
    return store().input_tables(version_id)


@per_dataset(st.cache_data, max_entries=16)
def year_range(version_id: int) -> tuple[int, int]:
    return store().year_range(version_id)


@per_dataset(st.cache_data, max_entries=256)
def chain(version_id: int, city: str, year: int, material: str | None) -> pd.DataFrame:
    return store().chain(version_id, city, year, material)


@per_dataset(st.cache_data, max_entries=256)
def metric_table(version_id: int, city: str, material: str, year: int | None, by: tuple[str, ...]) -> pd.DataFrame:
    return store().metric_table(version_id, city, material, year, by)


@per_dataset(st.cache_data, max_entries=256)
def headline(version_id: int, city: str, year: int, material: str) -> dict[str, storage.Figure]:
    return store().headline(version_id, city, year, material)


@per_dataset(st.cache_data, max_entries=32)
def simulation(version_id: int, city: str, materials: tuple[str, ...]):
    """Monte Carlo of one city (default samples and seed: the same link shows the same ranges)."""
    from decision_tools import uncertainty  # the model's libraries load only for pages that need them

    return uncertainty.simulate(input_tables(version_id), city, list(materials))


@per_dataset(st.cache_data, max_entries=32)
def indicator_ranges(version_id: int, city: str, materials: tuple[str, ...], year: int, weighting: str):
    """The Monte Carlo's indicator cards, quantity bands and MCI by product for one year
    (indicator_ranges.YearRanges), with the materials weighted as chosen."""
    from decision_tools.indicator_ranges import year_ranges

    sim = simulation(version_id, city, materials)
    return year_ranges(sim, year, pair_weights_for(version_id, sim, weighting))


@per_dataset(st.cache_data, max_entries=64)
def rate_bands(version_id: int, city: str, materials: tuple[str, ...], weighting: str, rate_key: str) -> pd.DataFrame:
    """One rate's central run and 5-95 % range, every year (uncertainty.indicator_bands)."""
    from decision_tools import uncertainty

    sim = simulation(version_id, city, materials)
    return uncertainty.indicator_bands(sim, (rate_key,), pair_weights_for(version_id, sim, weighting))


def pair_weights_for(version_id: int, sim, weighting: str):
    """The weight of each of the simulation's (product, material) pairs; None when the materials are
    summed by mass (the page passes "mass" for one material)."""
    from decision_tools.indicators import pair_weights

    if weighting == "mass":
        return None
    return pair_weights(sim.pairs, material_weights(version_id, weighting))


@per_dataset(st.cache_data, max_entries=32)
def material_weights(version_id: int, weighting: str) -> dict[str, float]:
    """Weight per material for an aggregate of several materials (indicators.WEIGHTINGS)."""
    from decision_tools.indicators import material_weights as weights

    return weights(weighting, reference_table(version_id, "materials"), reference_table(version_id, "material_prices"))


def aggregate_controls(help_scope: str) -> tuple[bool, str]:
    """The all-CRMs toggle and, when it is on, the weighting of the aggregate (both kept in the link).
    Returns (all_crms, weighting key); the weighting is "mass" for a single material."""
    from decision_tools.indicators import WEIGHTINGS, aggregate_scope_note

    note = aggregate_scope_note(reference_table(context().version_id, "materials"))
    all_crms = st.toggle("All critical raw materials together", key="all_crms", bind="query-params",
                         help=f"Off: the material picked in the sidebar. On: {help_scope} {note}")
    if not all_crms:
        return False, "mass"
    keys = {label: key for key, (label, _) in WEIGHTINGS.items()}  # the link carries the label, e.g. "by value"
    label = st.radio(
        "Weigh the materials", list(keys), key="weighting", bind="query-params", horizontal=True,
        help="How an aggregate rate adds up the materials: sum(weight x numerator) / sum(weight x denominator). "
             + " ".join(f"{label.capitalize()}: {what}." for label, what in WEIGHTINGS.values())
             + " Masses (kg) are always by mass.")
    return True, keys[label]


@per_dataset(st.cache_data, max_entries=64)
def metric_table_by_material(version_id: int, city: str | None, materials: tuple[str, ...], year: int | None,
                             by: tuple[str, ...]) -> pd.DataFrame:
    """metric_table per material, with a ``material`` column (for weighted aggregates)."""
    frames = [store().metric_table(version_id, city, m, year, by).assign(material=m) for m in materials]
    return pd.concat(frames, ignore_index=True)


@per_dataset(st.cache_resource, max_entries=16)
def scenario_engine(version_id: int, city: str, materials: tuple[str, ...], weighting: str = "mass"):
    """One engine per city, material set and weighting; its runs do not change it, so sessions can share it."""
    from decision_tools import scenarios

    return scenarios.ScenarioEngine(input_tables(version_id), city, list(materials), weighting)


@per_dataset(st.cache_data, max_entries=64)
def value_creation(version_id: int, city: str, materials: tuple[str, ...], weighting: str, product: str,
                   year: int) -> pd.DataFrame:
    """The business models applied to one product (ScenarioEngine.value_creation: seven model runs, about
    2 s), once per dataset, city, materials, product and year."""
    return scenario_engine(version_id, city, materials, weighting).value_creation(product, year)


@per_dataset(st.cache_data, max_entries=64)
def hub_matches(version_id: int, acting_for: tuple[str, ...], city: str, material: str | None):
    """The hub's ranked matches and map layers as a viewer acting for the organisations ``acting_for`` may
    see them (symbiosis.tables_as_seen: the privacy rules are applied before anything is computed), and
    whether every organisation's exact location is shown. Keyed on ``acting_for``, so viewers never share
    a result computed with more than they may see."""
    from decision_tools import symbiosis

    seen = symbiosis.tables_as_seen(input_tables(version_id), acting_for)
    candidates = symbiosis.match_candidates(seen, city, material)
    markers, arcs = symbiosis.map_layers(seen, candidates)
    return candidates, markers, arcs, bool(seen["organisations"]["exact_location"].all())


@per_dataset(st.cache_resource, max_entries=8)
def exposure_data(version_id: int):
    from decision_tools import exposure

    return exposure.ExposureData.from_tables(input_tables(version_id))


@per_dataset(st.cache_data, max_entries=8)
def single_country_checks(version_id: int) -> pd.DataFrame:
    """The CRMA 65 % check for every material and stage of a version (exposure.single_country_checks, about 0.8 s)."""
    from decision_tools import exposure

    return exposure.single_country_checks(exposure_data(version_id))


@per_dataset(st.cache_data, max_entries=16)
def sources(version_id: int) -> pd.DataFrame:
    return store().sources(version_id)


@per_dataset(st.cache_resource, max_entries=16)
def citation_index(version_id: int) -> dict[str, str]:
    """source id -> short citation for a version (versions never change; read-only, shared by sessions)."""
    from decision_tools.labels import citation_index as build

    return build(sources(version_id))


@dataclass(frozen=True)
class Context:
    version_id: int  # the version shown (the latest, or one pinned by the link)
    latest_version_id: int
    # The latest version when this browser session's previous run was drawn: what the visitor saw (a dry
    # run, an offer form) when clicking. Publishing is refused if a newer version has landed since.
    shown_latest_version_id: int
    selection: Selection
    username: str | None  # None: not signed in
    roles: tuple[str, ...]  # as the credentials file said at the start of this run

    def may(self, action: str) -> bool:
        """Whether to draw a protected form: the account's current role allows ``action``. The write
        functions in decision_tools check again (accounts.authorize) when the action runs."""
        return accounts.allowed(accounts.current_roles(self.username), action)

    @property
    def actor(self) -> accounts.Actor | None:
        return accounts.Actor(self.username) if self.username else None


def context() -> Context:
    """The selection made by the shared widgets in app.py (they run before every page)."""
    if "context" not in st.session_state:
        # A fresh server whose very first request opens a page URL (/indicators) runs that page
        # through Streamlit's legacy pages/ discovery, because st.navigation has not run yet in this
        # process. Switch the legacy mode off and rerun: app.py then runs first, as on every run.
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
    return st.session_state["context"]


def ensure_credentials() -> None:
    """Create the git-ignored credentials file on first run; a generated admin password is printed
    once to the server's log."""
    _, generated = accounts.ensure_credentials()
    if generated:
        print(f"UrbanSymbiosis: created {accounts.credentials_path()} with an account 'admin'; "
              f"its password, shown only now: {generated}", flush=True)


def client_address() -> str:
    """The visitor's address for sign-in throttling (behind a proxy: the proxy's, unless it forwards it)."""
    forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[0].strip() if accounts.trust_proxy() else ""
    return forwarded or st.context.ip_address or "unknown"


def signed_in_user() -> str | None:
    """Who is signed in for this run: this browser session's sign-in, or the one its cookie carries
    from an earlier visit. Checked on every run, so a sign-out elsewhere, an expiry or a removed
    account ends it at the next click."""
    state = st.session_state
    token = state.get("_sign_in_token")
    if token is None and not state.get("_signed_out"):
        token = st.context.cookies.get(signin.COOKIE_NAME)
    try:
        username = signin.resume(store(), token)
    except storage.StoreError:
        return None  # the database cannot be opened: app.py says so
    state["_sign_in_token"] = token if username else None
    return username


def try_sign_in() -> None:
    """The sign-in form's callback: check the password (with back-off), start a sign-in session."""
    state = st.session_state
    result = signin.attempt(store(), state.get("_sign_in_username", ""), state.get("_sign_in_password", ""), client_address())
    state["_sign_in_password"] = ""
    if result.ok:
        state.pop("_sign_in_message", None)
        state["_sign_in_token"] = result.token
        state["_signed_out"] = False
        state["_cookie_change"] = (result.token, result.max_age_seconds)
    else:
        state["_sign_in_message"] = result.message


def sign_out() -> None:
    """The sign-out button's callback: end the sign-in session on the server and in the browser."""
    state = st.session_state
    signin.sign_out(store(), state.get("_sign_in_token"), signed_in_user())
    state["_sign_in_token"] = None
    state["_signed_out"] = True  # this session's cookie header still holds the ended token
    state["_cookie_change"] = ("", 0)


def write_cookie(slot) -> None:
    """Apply a pending change of the sign-in cookie in the browser (set after signing in, deleted after
    signing out), in ``slot`` (an st.empty drawn on every run: an element that comes and goes would shift
    the widgets after it, and an open popover among them would close). Streamlit answers over a
    websocket, not HTTP responses, so a script writes the cookie."""
    change = st.session_state.pop("_cookie_change", None)
    if change is None:
        return
    token, max_age = change
    if not all(c.isalnum() or c in "-_" for c in token):
        return  # tokens are URL-safe base64; anything else never reaches the page
    cookie = f"{signin.COOKIE_NAME}={token}; path=/; max-age={int(max_age)}; samesite=strict"
    slot.html(f"<script>document.cookie = '{cookie}' + (location.protocol === 'https:' ? '; secure' : '');</script>",
              unsafe_allow_javascript=True)  # our own token, checked above: never user text


def require(action: str, what: str) -> None:
    """Stop the page with a sign-in prompt unless the signed-in user's role allows ``action``."""
    ctx = context()
    if ctx.may(action):
        return
    who = f"You are signed in as {escape_markdown(ctx.username, 40)} ({', '.join(ctx.roles) or 'no role'})" if ctx.username else "You are not signed in"
    roles = " or ".join(sorted(accounts.ACTIONS[action]))
    st.warning(f"{who}. {what} needs the {roles} role: sign in with such an account in the sidebar.", icon="🔒")
    st.stop()


def provenance_caption(confidence: str, source_ids: str, downscaled: bool, version_id: int | None = None) -> str:
    """One line under a number: its confidence, its sources as short citations ("Eurostat 2024") with a link
    to the full list on the Methods page, and whether it is downscaled."""
    parts = [f"Confidence: **{confidence}**"]
    if downscaled:
        parts.append("downscaled from national or EU figures")
    parts.append(sources_line(source_ids, version_id))
    return " · ".join(parts)


KG_COLUMN = st.column_config.NumberColumn(format="localized")


def kg_columns(frame: pd.DataFrame) -> dict:
    """Column config showing every '(kg)' column with thousands separators."""
    return {c: KG_COLUMN for c in frame.columns if "kg" in str(c)}


def briefing(version_id: int, city: str, year: int, material: str) -> bytes:
    from decision_tools.briefing import build_briefing

    return build_briefing(store(), version_id, city, year, material)


def briefing_pdf(version_id: int, city: str, year: int, material: str) -> bytes:
    """The city briefing as a PDF (decision_tools.pdf_briefing)."""
    from decision_tools.briefing import build_briefing_pdf

    return build_briefing_pdf(store(), version_id, city, year, material)


def app_url(page: str = "", **params) -> str:
    """The full address of a page of this app (``page``: "" for Overview, "sessions", ...) with ``params``,
    as a person copies it into a message: built from the address this browser used, so it works behind a proxy."""
    from urllib.parse import urlencode

    here = str(st.context.url or "") if hasattr(st.context, "url") else ""
    base = here.split("?")[0].rsplit("/", 1)[0] + "/" if here.startswith("http") else "http://localhost:8501/"
    return base + page + ("?" + urlencode(params) if params else "")


def download_button(frame: pd.DataFrame, file_stem: str, key: str, *, title: str | None = None,
                    sources: list[str] | None = None) -> None:
    """Every table: CSV and XLSX downloads, side by side. The XLSX has a second sheet "about": ``title``
    (default: from the file name), units, the sources in the table and the page's ``sources``, the
    dataset version, the export date and the link to this view (download_metadata)."""
    from decision_tools import exports

    version, link, citations = download_metadata()

    def xlsx() -> bytes:
        about = exports.about_table(frame, title or file_stem.replace("_", " "), version, link, sources, citations)
        return exports.table_xlsx(frame, about=about)

    # A row sized by its buttons (fixed fractions of a narrow column cut the labels to "C." and "X.").
    row = st.container(horizontal=True, gap="small")
    row.download_button("CSV", lambda: exports.table_csv(frame), file_name=f"{file_stem}.csv", mime="text/csv",
                        key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    row.download_button("XLSX", xlsx, file_name=f"{file_stem}.xlsx", key=f"{key}_xlsx",
                        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        icon=":material/download:", on_click="ignore")


# Charts are checked against the Vega-Lite schema in the tests (tests/conftest.py sets this variable, so every
# AppTest checks every chart it draws); on a page view the check costs as much as building the chart.
VALIDATE_CHARTS = os.environ.get("URBAN_SYMBIOSIS_VALIDATE_CHARTS") == "1"


@st.cache_data(max_entries=256, show_spinner=False)
def _vega_lite_spec(builder_name: str, _builder, args: tuple, kwargs: dict) -> dict:
    """The Vega-Lite spec of ``_builder(*args, **kwargs)``: built once for the same inputs (the builder's
    name and its arguments are the key), then served from the cache."""
    return _builder(*args, **kwargs).to_dict(validate=VALIDATE_CHARTS)


def altair(key: str, builder, *args, file_stem: str | None = None, **kwargs) -> None:
    """The Altair chart ``builder(*args, **kwargs)`` (a function of its arguments only), with PNG, SVG and HTML
    exports (rendered offline, only when asked for)."""
    from decision_tools import exports

    spec = _vega_lite_spec(f"{builder.__module__}.{builder.__qualname__}", builder, args, kwargs)
    st.vega_lite_chart(spec=spec, width="stretch", key=key)
    stem = file_stem or key
    with st.popover("Export chart", icon=":material/image:"):
        st.download_button("PNG", lambda: exports.chart_png(spec), file_name=f"{stem}.png", mime="image/png",
                           key=f"{key}_png", on_click="ignore")
        st.download_button("SVG", lambda: exports.chart_svg(spec), file_name=f"{stem}.svg", mime="image/svg+xml",
                           key=f"{key}_svg", on_click="ignore")
        st.download_button("HTML", lambda: exports.chart_html(spec), file_name=f"{stem}.html", mime="text/html",
                           key=f"{key}_html", on_click="ignore")


def challenge_link(title: str, material: str, label: str) -> None:
    """A link to the hub's challenge form, pre-filled with a title and a material."""
    from urllib.parse import urlencode

    st.link_button(label, "./hub?" + urlencode({"prefill_title": title[:80], "prefill_material": material}),
                   icon=":material/school:")


def pydeck(deck, key: str, height: int = 430) -> None:
    st.pydeck_chart(deck, height=height, key=key)


@st.cache_data(max_entries=64, show_spinner=False)
def _sankey_spec(chain: pd.DataFrame, title: str) -> dict:
    """The Plotly Sankey of a chain as a plain figure dict, built once for the same chain and title."""
    from decision_tools import chain_charts

    return chain_charts.sankey_figure(chain, title).to_dict()


def plotly(figure: dict, key: str, file_stem: str | None = None) -> None:
    """A Plotly chart (a figure dict) with a standalone HTML export (works offline)."""
    from decision_tools import exports

    st.plotly_chart(figure, width="stretch", key=key)
    st.download_button("Chart as HTML", lambda: exports.figure_html(figure), file_name=f"{file_stem or key}.html",
                       mime="text/html", key=f"{key}_html", icon=":material/image:", on_click="ignore")


def clear_caches(actor: accounts.Actor | None) -> None:
    """Admins: drop every cached result (after a manual fix on the server, say). The database
    connection stays open."""
    accounts.authorize(actor, "clear_caches")
    st.cache_data.clear()
    for cached in (get_replica_store, input_tables, scenario_engine, exposure_data, citation_index):
        cached.clear()
    store().audit(actor.username, "clear_caches", {})


def _guard_cache_clearing() -> None:
    """Streamlit clears every cache for everyone when any browser asks over its websocket (the menu
    item, the "c" key, or a hand-made message), whatever the toolbar shows. Refuse it, on the server,
    unless that browser session is signed in as an admin."""
    from streamlit.runtime.app_session import AppSession

    original = AppSession._handle_clear_cache_request
    if getattr(original, "guarded", False):
        return

    def guarded(session: AppSession) -> None:
        state = session._session_state
        token = state["_sign_in_token"] if "_sign_in_token" in state else None
        try:
            username = signin.resume(store(), token) if token else None
        except storage.StoreError:
            username = None
        if username and accounts.allowed(accounts.current_roles(username), "clear_caches"):
            original(session)
            store().audit(username, "clear_caches", {"from": "streamlit menu"})
        else:
            print("UrbanSymbiosis: refused a request to clear the caches from a browser session not signed in as an admin.",
                  flush=True)

    guarded.guarded = True
    AppSession._handle_clear_cache_request = guarded


_guard_cache_clearing()


# --- Reading the numbers (issue 16): names, short citations and readable tables ---------------------------

SOURCES_SHOWN = 3  # citations named under a number; the rest are counted and listed on the Methods page
METHODS_SOURCES_LINK = "methods#sources"  # the Methods page's "Sources" header (relative: works behind a proxy)


def sources_line(source_ids: str, version_id: int | None = None) -> str:
    """'Sources: Eurostat 2024; World Bank 2022 (full list)': short citations of ';'-separated source ids,
    escaped, with a link to the Methods page's sources section."""
    from decision_tools.labels import short_citations

    cited = short_citations(source_ids, citation_index(context().version_id if version_id is None else version_id),
                            limit=SOURCES_SHOWN)
    return f"Sources: {escape_markdown(cited, 300)} ([full list]({METHODS_SOURCES_LINK}))"


def material_picker(symbols: list[str], labels: dict[str, str], default: str) -> str:
    """The sidebar's material picker: shows names and groups ("Cobalt (Co) — battery metals") while the link
    keeps the symbol (?material=Co). A bound selectbox writes its shown text into the URL, so the bound
    widget (key "material", read by saved views and sessions) holds the symbol and stays hidden, and the
    visible picker moves it."""
    def picked() -> None:
        st.session_state["material"] = st.session_state["_material_label"]

    st.html("<style>.st-key-material { display: none; }</style>")  # our own style, no user text
    material = st.selectbox("Material (symbol)", symbols, index=symbols.index(default), key="material", bind="query-params",
                            label_visibility="collapsed")
    st.session_state["_material_label"] = material  # follows the link, a saved view or a session step
    st.selectbox("Material", symbols, key="_material_label", format_func=lambda s: labels.get(s, s), on_change=picked,
                 help="Critical raw materials by name and group; the link keeps the chemical symbol.")
    return material


def table(frame: pd.DataFrame, key: str, file_stem: str, columns: dict | None = None, names: dict | None = None,
          download: pd.DataFrame | None = None) -> None:
    """A table as people read it (formatting.display_table: headers with units, one unit per column, 3
    significant digits, percent, names, "—" for empty cells), its first column pinned, and the CSV/XLSX
    download of the raw numbers (``download``, by default ``frame``) under it. ``key`` names the download
    buttons (key_csv, key_xlsx)."""
    from decision_tools.formatting import display_table

    shown = display_table(frame, columns, names)
    config = {}
    if len(shown.columns):  # the key column pinned, wide enough for its longest name (the grid's default cuts them)
        longest = max([len(str(shown.columns[0]))] + [len(v) for v in shown.iloc[:, 0]])
        config[shown.columns[0]] = st.column_config.Column(pinned=True, width=min(320, 8 * longest + 32))
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config)
    download_button(frame if download is None else download, file_stem, key)


def how_to_read(page: str) -> None:
    """The page's short "how to read this page" (decision_tools.glossary.HOW_TO_READ), collapsed, with each
    glossary word linked to its entry on the Methods page."""
    from decision_tools import glossary

    with st.expander("How to read this page", icon=":material/help:"):
        st.markdown(glossary.how_to_read(page))


def glossary_help(word: str) -> str:
    """A tooltip's closing words naming the glossary entry of ``word`` (a METRICS key, a term's anchor or name),
    linked to the Methods page; "" when the glossary has none."""
    from decision_tools import glossary

    term = glossary.term_of(word)
    return f" Glossary: [{term.name}]({glossary.methods_link(term.anchor)})." if term else ""


@per_dataset(st.cache_data, show_spinner="Weighing each lever against the losses …", max_entries=64)
def loss_ranking(version_id: int, city: str, material: str, year: int, lever_ids: tuple[str, ...]) -> pd.DataFrame:
    """Each lever of ``lever_ids`` alone at its maximum: the kg of losses per year it avoids in ``year``
    (priorities.loss_ranking)."""
    from decision_tools import priorities

    return priorities.loss_ranking(scenario_engine(version_id, city, (material,)), year, lever_ids)


@per_dataset(st.cache_data, max_entries=16)
def reference_entries(version_id: int) -> dict[str, str]:
    """source id -> 'Publisher (year): title' for every source of a dataset version (exports.reference_entry)."""
    from decision_tools.exports import reference_entry

    table = reference_table(version_id, "sources")
    return {row.source_id: reference_entry(row.publisher, row.year, row.citation) for row in table.itertuples()}


def download_metadata() -> tuple[int | None, str, dict[str, str]]:
    """What a table download records about where it came from, read while the page runs (the file is
    made later, on click): the dataset version, the link to this view (this page with its query
    parameters, ``app_url``) and the reference entry of every source id of that version."""
    ctx = st.session_state.get("context")
    version = getattr(ctx, "version_id", None)
    here = str(st.context.url or "") if hasattr(st.context, "url") else ""
    page = here.split("?")[0].rsplit("/", 1)[-1] if here.startswith("http") else ""
    page = "" if ":" in page or "." in page else page  # the bare host (localhost:8501): Overview
    link = app_url(page, **st.query_params.to_dict())
    citations: dict[str, str] = {}
    if version is not None:
        try:
            citations = reference_entries(version)
        except storage.StoreError:
            citations = {}
    return version, link, citations


# Streamlit runs on the server and never learns the screen's width, so the phone layout is chosen in the
# browser: keyed containers get the CSS class st-key-<key>, and these media queries show one of each pair
# (chain_wide_<key> / chain_narrow_<key>, one pair per chain drawn on a page).
# 640 px is where Streamlit itself stacks columns. Our own static text, never user text.
_RESPONSIVE_CSS = """<style>
@media (max-width: 639.98px) {
  [class*="st-key-chain_wide_"] { display: none !important; }
}
@media (min-width: 640px) {
  [class*="st-key-chain_narrow_"] { display: none !important; }
}
</style>"""


def responsive_css() -> None:
    """The app's one CSS block for narrow screens (called once per run from app.py; it takes no space)."""
    st.html(_RESPONSIVE_CSS)


@st.cache_data(max_entries=64, show_spinner=False)
def _chain_steps(chain: pd.DataFrame) -> pd.DataFrame:
    from decision_tools import chain_charts

    return chain_charts.chain_steps(chain)


def chain_view(chain: pd.DataFrame, title: str, key: str = "sankey", file_stem: str = "chain") -> None:
    """The chain of one year: the Sankey on wide screens, the same flows as a list of steps with bars on
    narrow ones (a phone); ``responsive_css`` shows one of the two."""
    with st.container(key=f"chain_wide_{key}"):
        plotly(_sankey_spec(chain, title), key, file_stem)
    with st.container(key=f"chain_narrow_{key}"):
        steps = _chain_steps(chain)
        st.markdown(f"**{escape_markdown(title, 200)}**")
        if steps.empty:
            st.write("Nothing flows through the chain in this year.")
            return
        for row in steps.itertuples():
            text = escape_markdown(row.text, 200)
            if row.depth == 0:
                st.markdown(f"**{text}**")
            else:
                st.progress(min(max(float(row.share), 0.0), 1.0), text=text)
        table = pd.DataFrame({"step": steps["label"], "kg per year": steps["kg"].round(3),
                              "share": steps["share"].round(4), "share of": steps["share_of"].str.removeprefix("of ")})
        download_button(table, f"{file_stem}_steps", f"{key}_steps")


def present_recoverable_section(version_id: int, city: str, year: int, materials: tuple[str, ...], scope: str,
                                file_key: str) -> None:
    """The "Present versus recoverable" section (decision_tools.present_recoverable): the stages of the scope as
    bars in kg with the percent of what is present in waste, the table per material and per product (each with
    its download), and the convention with its sources. ``scope`` is data text (escaped here)."""
    from decision_tools import present_recoverable as pr

    st.subheader("Present versus recoverable")
    rows = metric_table_by_material(version_id, city, tuple(materials), year, ("route",))
    per_material = pr.stage_table(rows, ("material",))
    altair("present_chart", pr.stage_chart, pr.chart_frame(pr.stage_table(rows, ())),
           "kg (flows: kg in the year; hibernating: kg in drawers at the end of the year)",
           file_stem=f"present_recoverable_{file_key}_{year}")
    columns = {"label": "Stage", "kg": "Mass ({unit})", "share_of_present": ("Share of present in waste (%)", "share"),
               "unit": "Counted as", "confidence": "Confidence"}
    materials_names = reference_table(version_id, "materials").set_index("symbol")["name"].to_dict()
    table(per_material, "dl_present", f"present_recoverable_{city}_{file_key}_{year}",
          {"material": "Material", **columns}, names={"material": materials_names})
    with st.expander("By product"):
        by_product = pr.stage_table(metric_table(version_id, city, list(materials), year, ("product", "route")), ("product",))
        product_names = reference_table(version_id, "products").set_index("product")["name"].to_dict()
        table(by_product, "dl_present_products", f"present_recoverable_products_{city}_{file_key}_{year}",
              {"product": "Product", **columns}, names={"product": product_names})
        if len(materials) > 1:
            st.caption("The materials of the scope are summed by mass in each product.")
    not_modelled = "; ".join(f"{name}: {why}" for name, why in pr.NOT_MODELLED.items())
    st.caption(
        f"For {escape_markdown(scope, 200)} in {escape_markdown(city, 80)}, {year}, as the EU urban-mine inventories count "
        "it (ProSUM's Urban Mine Platform, UNITAR's WEEE flow studies, FutuRaM, the Global E-waste Monitor; the Methods "
        "page has the references): **present in waste** is everything "
        "reaching end of life in the year; it goes either to the **compliant** channel, separate collection for "
        "treatment, or to **non-compliant** (complementary) channels: the household bin (residual waste) and export for "
        "reuse abroad, legal or not. The channels add up to what is present. **Recovered** is what recycling yields from "
        "the separately collected part (the rest of it is lost in recycling). **Hibernating** is what unused devices "
        "hold in drawers at the end of the year: present in the city, not yet in waste (a stock, so no share of the "
        f"year's waste). Not modelled: {not_modelled}. " + sources_line(pr.SOURCE_IDS, version_id))


_RULES_TABLES = ("targets", "product_regimes", "eu_instruments")


@per_dataset(st.cache_data, max_entries=64)
def rules_tables(version_id: int, year: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rules lens (decision_tools.rules) for every product of the version in ``year``: one row per product
    (with its sector), every target series per product (shares 0..1), and who acts on each lever and what
    backs it."""
    from decision_tools import rules
    from decision_tools.levers import levers_from_table

    tables = {name: reference_table(version_id, name) for name in _RULES_TABLES}
    products = reference_table(version_id, "products")
    codes, names = list(products["product"]), products.set_index("product")["name"].to_dict()
    summary = rules.rules_table(tables, codes, year, names).assign(sector=list(products["sector"]))
    backing = rules.lever_backing_table(levers_from_table(reference_table(version_id, "levers")),
                                        tables["eu_instruments"], tables["targets"])
    return summary, rules.target_detail(tables, codes, year, names), backing


@per_dataset(st.cache_data, max_entries=64)
def _lever_rules_help_texts(version_id: int, year: int) -> dict[str, str]:
    """Every lever's closing words at once: the page asks for one per slider, and reading the rules tables from the
    cache for each of them cost the Policy page about 0.2 s per run."""
    backing = rules_tables(version_id, year)[2]
    return {row["lever_id"]: (f" Acting level: {escape_markdown(row['acting_level'], 40)}. "
                              f"Legal basis: {escape_markdown(row['legal_basis'], 600)}.")
            for row in backing.to_dict(orient="records")}


def lever_rules_help(version_id: int, year: int, lever_id: str) -> str:
    """A lever slider's closing words: who can move it and what legally backs it (data text, escaped)."""
    return _lever_rules_help_texts(version_id, year).get(lever_id, "")


def rules_section(version_id: int, year: int) -> None:
    """The "Rules that apply" section of the Policy page: per product group, each product's EU waste regimes,
    the targets in force in ``year`` and the next ones, the other obligations; every target series in detail;
    who acts on each lever and what backs it. Tables only (st.dataframe), each with its download."""
    st.subheader("Rules that apply")
    summary, detail, backing = rules_tables(version_id, year)
    st.caption(f"The EU rules for each product the model covers, in {year}: the waste regimes that cover it (WEEE and "
               "its category, the Batteries Regulation, ELV), the targets in force (the latest step at or before the year; "
               "a law's \"by 31 December 2027\" counts from 2028) and the next one set, and the other obligations in force "
               "or coming. A product whose regime is not in the data says \"regime not recorded\". EU-wide benchmarks "
               "(the CRMA's 2030 capacities, the circular material use rate) apply to no product in particular and are "
               "listed in the detail.")
    # One table, grouped by product group (sector): a table per group would cost the page a dozen more elements.
    grouped = summary.assign(sector=[str(v)[:1].upper() + str(v)[1:] for v in summary["sector"]]).sort_values("sector", kind="stable")
    table(grouped[["sector", *summary.columns.drop("sector")]], "dl_rules", f"rules_{year}", {
        "sector": ("Product group", "text"), "product": "Product", "regimes": "Regime",
        "targets_in_force": f"Targets in force in {year}", "next_targets": "Next targets",
        "other_obligations": "Other obligations"}, download=grouped)
    with st.expander("Every target series in detail"):
        years = {c: detail[c].map(lambda v: "" if pd.isna(v) else str(int(v))) for c in ("year", "next_year")}
        table(detail.assign(**years), "dl_rules_targets", f"rules_targets_{year}", {
            "product": "Product", "series": "Target", "value_share": (f"In force in {year} (%)", "share"),
            "year": ("Since", "text"), "next_value_share": ("Next (%)", "share"), "next_year": ("From", "text"),
            "instrument": "Instrument", "economy_wide": ("EU-wide benchmark", "yes/no")}, download=detail)
    st.markdown("**Who acts on each lever, and what backs it**")
    table(backing, "dl_lever_backing", f"lever_backing_{year}", {
        "lever": "Lever", "acting_level": "Who can move it", "legal_basis": "Legal basis", "backing": "Backed by"})
    instruments = reference_table(version_id, "eu_instruments")
    regimes = reference_table(version_id, "product_regimes")
    used = ";".join(sorted(set(";".join([*instruments["source_id"], *regimes["source_id"]]).split(";")) - {""}))
    st.caption("\"Voluntary\": no EU or national rule asks for the lever; it is the city's own choice. "
               + sources_line(used, version_id))
