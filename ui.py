"""Streamlit glue shared by app.py and the pages: the store, cached queries, the current selection,
and small renderers for provenance. The logic lives in decision_tools; this file only adapts it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from decision_tools import accounts, publish_inbox, signin, snapshots, storage
from decision_tools.formatting import escape_markdown
from decision_tools.provenance import split_sources
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


@st.cache_data(show_spinner=False)
def reference_table(version_id: int, name: str) -> pd.DataFrame:
    return store().table(name, version_id)


@st.cache_data(show_spinner=False)
def ownership_geographies(version_id: int, city: str) -> pd.DataFrame:
    """Per product, whether the city's ownership figures are its own, national or the EU average."""
    from decision_tools.model import ownership_geographies as which

    cities = reference_table(version_id, "cities").set_index("city")
    return which(reference_table(version_id, "ownership"), reference_table(version_id, "products"), city,
                 cities.at[city, "country_iso3"])


@st.cache_resource(show_spinner=False, max_entries=8)
def input_tables(version_id: int) -> dict[str, pd.DataFrame]:
    """Every input table of a version, read once per process (versions never change). Shared by all
    sessions: callers must not modify the frames (decision_tools copies before it changes anything)."""
    return store().input_tables(version_id)


@st.cache_data(show_spinner=False)
def year_range(version_id: int) -> tuple[int, int]:
    return store().year_range(version_id)


@st.cache_data(show_spinner=False)
def chain(version_id: int, city: str, year: int, material: str | None) -> pd.DataFrame:
    return store().chain(version_id, city, year, material)


@st.cache_data(show_spinner=False)
def metric_table(version_id: int, city: str, material: str, year: int | None, by: tuple[str, ...]) -> pd.DataFrame:
    return store().metric_table(version_id, city, material, year, by)


@st.cache_data(show_spinner=False)
def headline(version_id: int, city: str, year: int, material: str) -> dict[str, storage.Figure]:
    return store().headline(version_id, city, year, material)


@st.cache_data(show_spinner=False, max_entries=32)
def simulation(version_id: int, city: str, materials: tuple[str, ...]):
    """Monte Carlo of one city (default samples and seed: the same link shows the same ranges)."""
    from decision_tools import uncertainty  # the model's libraries load only for pages that need them

    return uncertainty.simulate(input_tables(version_id), city, list(materials))


@st.cache_data(show_spinner=False)
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


@st.cache_data(show_spinner=False)
def metric_table_by_material(version_id: int, city: str | None, materials: tuple[str, ...], year: int | None,
                             by: tuple[str, ...]) -> pd.DataFrame:
    """metric_table per material, with a ``material`` column (for weighted aggregates)."""
    frames = [store().metric_table(version_id, city, m, year, by).assign(material=m) for m in materials]
    return pd.concat(frames, ignore_index=True)


@st.cache_resource(show_spinner=False, max_entries=16)
def scenario_engine(version_id: int, city: str, materials: tuple[str, ...], weighting: str = "mass"):
    """One engine per city, material set and weighting; its runs do not change it, so sessions can share it."""
    from decision_tools import scenarios

    return scenarios.ScenarioEngine(input_tables(version_id), city, list(materials), weighting)


@st.cache_resource(show_spinner=False)
def exposure_data(version_id: int):
    from decision_tools import exposure

    return exposure.ExposureData.from_tables(input_tables(version_id))


@st.cache_data(show_spinner=False)
def sources(version_id: int) -> pd.DataFrame:
    return store().sources(version_id)


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


def provenance_caption(confidence: str, source_ids: str, downscaled: bool) -> str:
    """One line under a number: its confidence, its sources and whether it is downscaled."""
    parts = [f"Confidence: **{confidence}**"]
    if downscaled:
        parts.append("downscaled from national or EU figures")
    parts.append("Sources: " + ", ".join(escape_markdown(s) for s in split_sources(source_ids)))
    return " · ".join(parts)


KG_COLUMN = st.column_config.NumberColumn(format="localized")


def kg_columns(frame: pd.DataFrame) -> dict:
    """Column config showing every '(kg)' column with thousands separators."""
    return {c: KG_COLUMN for c in frame.columns if "kg" in str(c)}


def briefing(version_id: int, city: str, year: int, material: str) -> bytes:
    from decision_tools.briefing import build_briefing

    return build_briefing(store(), version_id, city, year, material)


def app_url(page: str = "", **params) -> str:
    """The full address of a page of this app (``page``: "" for Overview, "sessions", ...) with ``params``,
    as a person copies it into a message: built from the address this browser used, so it works behind a proxy."""
    from urllib.parse import urlencode

    here = str(st.context.url or "") if hasattr(st.context, "url") else ""
    base = here.split("?")[0].rsplit("/", 1)[0] + "/" if here.startswith("http") else "http://localhost:8501/"
    return base + page + ("?" + urlencode(params) if params else "")


def download_button(frame: pd.DataFrame, file_stem: str, key: str) -> None:
    """Every table: CSV and XLSX downloads, side by side."""
    from decision_tools import exports

    # A row sized by its buttons (fixed fractions of a narrow column cut the labels to "C." and "X.").
    row = st.container(horizontal=True, gap="small")
    row.download_button("CSV", lambda: exports.table_csv(frame), file_name=f"{file_stem}.csv", mime="text/csv",
                        key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    row.download_button("XLSX", lambda: exports.table_xlsx(frame), file_name=f"{file_stem}.xlsx", key=f"{key}_xlsx",
                        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        icon=":material/download:", on_click="ignore")


def altair(chart, key: str, file_stem: str | None = None) -> None:
    """An Altair chart with PNG, SVG and HTML exports (rendered offline, only when asked for)."""
    from decision_tools import exports

    st.altair_chart(chart, width="stretch", key=key)
    stem = file_stem or key
    with st.popover("Export chart", icon=":material/image:"):
        st.download_button("PNG", lambda: exports.chart_png(chart), file_name=f"{stem}.png", mime="image/png",
                           key=f"{key}_png", on_click="ignore")
        st.download_button("SVG", lambda: exports.chart_svg(chart), file_name=f"{stem}.svg", mime="image/svg+xml",
                           key=f"{key}_svg", on_click="ignore")
        st.download_button("HTML", lambda: exports.chart_html(chart), file_name=f"{stem}.html", mime="text/html",
                           key=f"{key}_html", on_click="ignore")


def challenge_link(title: str, material: str, label: str) -> None:
    """A link to the hub's challenge form, pre-filled with a title and a material."""
    from urllib.parse import urlencode

    st.link_button(label, "./hub?" + urlencode({"prefill_title": title[:80], "prefill_material": material}),
                   icon=":material/school:")


def pydeck(deck, key: str, height: int = 430) -> None:
    st.pydeck_chart(deck, height=height, key=key)


def plotly(figure, key: str, file_stem: str | None = None) -> None:
    """A Plotly chart with a standalone HTML export (works offline)."""
    from decision_tools import exports

    st.plotly_chart(figure, width="stretch", key=key)
    st.download_button("Chart as HTML", lambda: exports.figure_html(figure), file_name=f"{file_stem or key}.html",
                       mime="text/html", key=f"{key}_html", icon=":material/image:", on_click="ignore")


def clear_caches(actor: accounts.Actor | None) -> None:
    """Admins: drop every cached result (after a manual fix on the server, say). The database
    connection stays open."""
    accounts.authorize(actor, "clear_caches")
    st.cache_data.clear()
    for cached in (get_replica_store, input_tables, scenario_engine, exposure_data):
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
