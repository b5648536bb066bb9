"""UrbanSymbiosis dashboard: page config, sign-in, the shared city / year / material / dataset
version pickers (kept in the URL), and navigation. Run with `make run`."""

from __future__ import annotations

import streamlit as st

import ui
from decision_tools import accounts, storage
from decision_tools.formatting import escape_markdown
from decision_tools.labels import material_labels
from decision_tools.views import Selection, resolve_selection, view_state

# An emoji favicon is drawn in the browser; a ":material/..." one is fetched from fonts.gstatic.com (an outside host).
st.set_page_config(page_title="UrbanSymbiosis", page_icon="♻️", layout="wide")
ui.responsive_css()  # the phone layout: which of the keyed containers a narrow screen shows

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/location_city:", default=True),
    st.Page("pages/indicators.py", title="Circularity indicators", icon=":material/donut_large:"),
    st.Page("pages/policy.py", title="Policy intervention points", icon=":material/tune:"),
    st.Page("pages/exposure.py", title="Supply chain exposure", icon=":material/public:"),
    st.Page("pages/hub.py", title="Symbiosis and hub", icon=":material/hub:"),
    st.Page("pages/sessions.py", title="Discussion sessions", icon=":material/forum:"),
    st.Page("pages/methods.py", title="Methods and sources", icon=":material/menu_book:"),
]
PAGES.insert(-1, st.Page("pages/data.py", title="Data", icon=":material/database:"))

ui.ensure_credentials()
username = ui.signed_in_user()
signed_in = username is not None
if accounts.sign_in_required() and not signed_in:
    PAGES = [st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", default=True)]
navigation = st.navigation(PAGES)  # called on every run, so Streamlit never falls back to pages/ discovery

with st.sidebar:
    st.markdown("### UrbanSymbiosis")
    st.caption("Critical raw materials in the city: where they sit, where they are lost, what a city can do.")
    roles = accounts.current_roles(username)  # read now: a role changed by an admin counts at once
    if signed_in:
        st.caption(f"Signed in as **{escape_markdown(username, 40)}** ({', '.join(roles)})")
        st.button("Sign out", key="sign_out", on_click=ui.sign_out)
    else:
        with st.expander("Sign in", expanded=accounts.sign_in_required() or "_sign_in_message" in st.session_state):
            with st.form("sign_in_form", clear_on_submit=False):
                st.markdown("**Sign in**")
                st.text_input("Username", key="_sign_in_username", max_chars=40, autocomplete="username")
                st.text_input("Password", key="_sign_in_password", type="password", max_chars=200,
                              autocomplete="current-password")
                st.form_submit_button("Sign in", on_click=ui.try_sign_in)
            # Kept until the next attempt (not popped when shown): a run that shows it and is then cut short by
            # another rerun would otherwise lose it, and the expander stays open while it is there.
            if "_sign_in_message" in st.session_state:
                st.error(st.session_state["_sign_in_message"])
    ui.write_cookie(st.empty())  # a slot drawn on every run, so the sidebar's later widgets keep their place
if accounts.sign_in_required() and not signed_in:
    navigation.run()
    st.stop()

# A saved view (?view=ID) restores its page, widget state and dataset version once per visit.
raw_view = st.query_params.get("view")
view_notice = None
if raw_view is not None and st.session_state.get("_applied_view") != raw_view:
    st.session_state["_applied_view"] = raw_view
    try:
        view = ui.store().get_view(raw_view)
    except storage.StoreError:
        view = None
    if view is None:
        view_notice = (f"The link's saved view '{escape_markdown(raw_view, 20)}' does not exist (or the link is damaged); "
                       "showing the default view.")
    else:
        for key, value in view["state"].items():
            st.session_state[key] = value
        st.session_state["version"] = str(int(view["dataset_version"]))
        st.session_state["_view_banner"] = (view["title"], view["created_by"], view["created_at"], int(view["dataset_version"]))
        target = next((p for p in PAGES if p.url_path == view["page"]), None)
        if target is not None and target.url_path != navigation.url_path:
            st.switch_page(target)

try:
    versions = ui.store().versions()
    latest_version = storage.latest_published(versions)
    ui.remember_versions(versions)  # the checksums the cached results are keyed on (ui.dataset_key)
except storage.StoreError as exc:
    # The reason names server paths: it goes to the server's log, not to visitors.
    print(f"UrbanSymbiosis: the database cannot be opened: {exc}", flush=True)
    st.error("The dashboard cannot open its database right now. The server's log says why; whoever runs the server can "
             "check it with `python -m decision_tools status`.")
    st.stop()

# The dataset version: the latest unless the link pins one (bound to the URL, like the pickers below).
version_options = ["latest"] + [str(v) for v in versions["version_id"]]
raw_version = st.query_params.get("version")
with st.sidebar:
    chosen_version = st.selectbox("Dataset version", version_options, key="version", bind="query-params",
                                  help="Links pin a version with ?version=N; 'latest' follows new uploads.")
version_id = latest_version if chosen_version == "latest" else int(chosen_version)
link_notices = [view_notice] if view_notice else []
if raw_version not in (None, "latest") and raw_version not in version_options:
    link_notices.append(f"The link asked for dataset version '{escape_markdown(raw_version)}', which does not exist; showing the "
                        f"latest ({latest_version}).")
if version_id != latest_version:
    row = versions.set_index("version_id").loc[version_id]

    def follow_latest() -> None:
        st.session_state["version"] = "latest"

    st.info(f"You are looking at dataset version {version_id} (“{escape_markdown(row['name'], 80)}”, {row['created_at']:%Y-%m-%d}, {row['status']}); "
            f"the latest is {latest_version}.", icon="📌")
    st.button("Open this view with the latest data", on_click=follow_latest, key="follow_latest")

cities = list(ui.reference_table(version_id, "cities")["city"])
materials = ui.reference_table(version_id, "materials")
first_year, last_year = ui.year_range(version_id)

# Check the raw URL before the widgets read it: bound widgets silently drop values they cannot
# use (falling back to the same constant defaults), and a person who followed a link deserves to know.
symbols = list(materials["symbol"])
_, selection_notices = resolve_selection(st.query_params.to_dict(), cities, symbols, (first_year, last_year))
link_notices += selection_notices
default = resolve_selection({}, cities, symbols, (first_year, last_year))[0]

with st.sidebar:
    # Widgets bound to the URL: the link always holds the view. Defaults stay constant (see views.py).
    city = st.selectbox("City", cities, index=cities.index(default.city), key="city", bind="query-params")
    year = st.slider("Year", first_year, last_year, value=default.year, key="year", bind="query-params")
    # Names and groups on screen, the symbol in the link (material=Co): see ui.material_picker.
    material = ui.material_picker(symbols, material_labels(materials), default.material)

# The notices stay while the fallback view is shown: the bound widgets drop the bad values from the URL
# and Streamlit reruns at once, and that second run no longer sees them.
shown_selection = (city, year, material, chosen_version)
if link_notices:
    st.session_state["_link_notices"] = (link_notices, shown_selection)
elif st.session_state.get("_link_notices", (None, None))[1] != shown_selection:
    st.session_state.pop("_link_notices", None)
for notice in st.session_state.get("_link_notices", ([], None))[0]:
    st.warning(notice, icon="⚠️")
if st.session_state.get("_view_banner"):
    title, by, at, pinned = st.session_state["_view_banner"]
    st.success(f"Saved view “{escape_markdown(title, 80)}”, saved by {escape_markdown(by, 40)} on {at:%Y-%m-%d}, pinned to dataset "
               f"version {pinned}.", icon="🔗")
    if version_id != pinned:
        st.session_state.pop("_view_banner")

with st.sidebar, st.popover("Share this view", icon=":material/share:", width="stretch"):
    st.caption("The address bar already holds this view. Saving it also pins the dataset version, so the link shows "
               "the same numbers months from now.")
    if signed_in and accounts.allowed(roles, "save_view"):
        view_title = st.text_input("Title", max_chars=80, key="_view_title")
        if st.button("Save and get the link", key="_save_view"):
            lever_ids = set(ui.reference_table(version_id, "levers")["lever_id"])
            state = view_state(list(st.query_params.keys()), st.session_state, lever_ids)
            try:
                view_id = ui.store().save_view(view_title, navigation.url_path, state, version_id, accounts.Actor(username))
            except PermissionError as exc:  # the role changed since this run began
                st.error(str(exc))
            else:
                base = str(st.context.url).split("?")[0] if st.context.url else ""
                st.code(f"{base}?view={view_id}", language=None)
    else:
        st.caption("Sign in to save views with a short link.")

shown_latest = int(st.session_state.get("_latest_shown", latest_version))
st.session_state["_latest_shown"] = latest_version
st.session_state["context"] = ui.Context(
    version_id, latest_version, shown_latest, Selection(city=city, year=int(year), material=material), username, roles,
)
navigation.run()
