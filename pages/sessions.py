"""Discussion sessions: a named, ordered list of saved views with notes. Participants step through it
on their own devices (the link holds the session and the step); signed-in participants comment on
each view; the session exports as one document."""

import json

import pandas as pd
import streamlit as st

import ui
from decision_tools import exports, storage, time_charts
from decision_tools.formatting import escape_markdown, format_mass
from decision_tools.views import Selection, resolve_selection

ctx = ui.context()
store = ui.store()
st.title("Discussion sessions")
ui.how_to_read("sessions")
if created := st.session_state.pop("_session_created", None):
    st.success(f"Created. Share its link with the participants: {ui.app_url('sessions', session=created)}")

FOLLOW_POLL_S = 2  # how often a participant following the presenter checks the presenter's step
HEADLINE_KEYS = ("in_use_stock", "hibernating_stock", "end_of_life", "secondary_supply")
STEP_FLOW_KEYS = ("new_products", "end_of_life", "separately_collected", "secondary_supply")  # a step's chart over time

# Choices made in an earlier run land before the widgets they set are drawn (Streamlit refuses later changes).
if "_select_session" in st.session_state:
    st.session_state["session"] = st.session_state.pop("_select_session")
    st.session_state["step"] = 1
if "_follow_to" in st.session_state:
    st.session_state["step"] = st.session_state.pop("_follow_to")


def view_selection(state: dict, version: int) -> Selection | None:
    """The city, year and material a saved view shows on its own dataset version: a setting the view leaves out
    is the constant default, as when its link opens (views.py). None if the version cannot be read."""
    try:
        cities = list(ui.reference_table(version, "cities")["city"])
        symbols = list(ui.reference_table(version, "materials")["symbol"])
        return resolve_selection(state, cities, symbols, ui.year_range(version))[0]
    except (storage.StoreError, KeyError, ValueError, TypeError):
        return None


def material_name(version: int, symbol: str) -> str:
    names = ui.reference_table(version, "materials").set_index("symbol")["name"]
    return str(names.get(symbol, symbol))


def flows_chart_inputs(selection: Selection, version: int) -> tuple[pd.DataFrame, str, int]:
    """The series, title and year of a view's flows over time, from the cached per-version query."""
    series = ui.metric_table(version, selection.city, selection.material, None, ("year",))
    title = (f"{material_name(version, selection.material)} in {selection.city}: yearly flows "
             f"(the line marks {selection.year})")
    return series, title, selection.year


def flows_chart(series: pd.DataFrame, title: str, year: int):
    """The view's material along the chain over the years (Altair, a rule at the view's year): the Indicators and
    Policy pages' time series, on the view's own version."""
    return time_charts.timeseries_chart(series, STEP_FLOW_KEYS, title, year, per_year=True).configure_legend(labelLimit=0)  # whole quantity names


def step_chart(page: str | None, selection: Selection, version: int, key: str) -> None:
    """Draw the main chart of the view's page for the view: the Overview's chain (Plotly Sankey) for an Overview
    view, the flows over time for the others."""
    if (page or "overview") == "overview":
        chain = ui.chain(version, selection.city, selection.year, selection.material)
        ui.chain_view(chain, f"{material_name(version, selection.material)} flows in {selection.city}, "
                             f"{selection.year} (kg per year)", key)
    else:
        ui.altair(key, flows_chart, *flows_chart_inputs(selection, version))


def step_views(items) -> dict[int, tuple[dict, object]]:
    """Every step's headline numbers and chart (Altair, for the export), by position; steps without a view are left out."""
    found = {}
    for item in items.itertuples():
        version = int(item.dataset_version)
        selection = view_selection(json.loads(item.state), version)
        if selection is not None:
            found[int(item.position)] = (ui.headline(version, selection.city, selection.year, selection.material),
                                         flows_chart(*flows_chart_inputs(selection, version)).properties(width=640))
    return found


def export_session(session: dict, session_id: str, items) -> bytes:
    views = step_views(items)
    return exports.session_html(session, store.comments(session_id, per_page=storage.MAX_LIST_ROWS), ui.app_url(),
                                {position: figures for position, (figures, _) in views.items()},
                                {position: chart for position, (_, chart) in views.items()})


def keep_in_address_bar(session_id: str, step: int) -> None:
    """Show the session and step in the address bar (also the defaults: a copied address reopens this step)."""
    wanted = {"session": session_id, "step": str(int(step))}
    if any(st.query_params.get(key) != value for key, value in wanted.items()):
        st.query_params.update(wanted)


def asked_step(count: int) -> int | None:
    """The step the address asks for, if it is one of the session's ``count`` steps."""
    try:
        step = int(str(st.query_params.get("step", "")).strip())
    except ValueError:
        return None
    return step if 1 <= step <= count else None


sessions = store.sessions()
if sessions.empty:
    st.info("No discussion session yet. Partners and researchers create one from saved views (use “Share this view” in the "
            "sidebar to save views first).")
else:
    ids = list(sessions["session_id"])
    labels = {row.session_id: f"{row.title} · {row.created_at:%Y-%m-%d}" for row in sessions.itertuples()}
    raw = st.query_params.get("session")
    if raw is not None and raw not in ids:
        st.warning(f"The link's session '{escape_markdown(raw, 20)}' does not exist; pick one below.", icon="⚠️")
    # The address bar is kept by hand (keep_in_address_bar), not bound: a bound widget drops its default value from it.
    if "session" not in st.session_state and raw in ids:  # opened from a link or a copied address
        st.session_state["session"] = raw
    if st.session_state.get("session") not in ids:
        st.session_state.pop("session", None)
    session_id = st.selectbox("Session", ids, key="session", format_func=labels.get,
                              on_change=lambda: st.session_state.update(step=1))  # another session starts at its step 1
    session = store.get_session(session_id)
    items = session["items"]
    st.subheader(escape_markdown(session["title"], 80))
    st.caption(f"Created by {escape_markdown(session['created_by'], 40)} on {session['created_at']:%Y-%m-%d} · "
               f"{len(items)} step(s). Everyone with the link can follow on their own device.")
    link = ui.app_url("sessions", session=session_id)
    with st.expander("Invite participants: the link and its QR code"):
        st.code(link, language=None)  # the copy button sits on the code block
        st.image(exports.qr_png(link), width=180, caption="Scan to open this session")

    presenting = ctx.may("present_session") and st.toggle(
        "Present: everyone following this session moves to the step I show", key=f"present_{session_id}",
        on_change=lambda: None if st.session_state.get(f"present_{session_id}") else store.stop_presenting(session_id, ctx.actor))
    presented = store.presented_step(session_id)
    following = (not presenting and presented is not None
                 and st.toggle(f"Follow the presenter ({escape_markdown(presented['presenter'], 40)})", value=True, key="follow"))
    if following and "step" not in st.session_state:  # a participant who just arrived starts on the presenter's step
        st.session_state["step"] = int(presented["position"])
    elif "step" not in st.session_state and asked_step(len(items)):
        st.session_state["step"] = asked_step(len(items))
    if int(st.session_state.get("step", 1)) > len(items):
        st.session_state["step"] = 1
    # The step and its buttons on one row: in a room the step's chart should fit on the screen below them.
    picker, left, right, _ = st.columns([3, 1, 1, 3], vertical_alignment="bottom")
    step = picker.number_input(f"Step (of {len(items)})", min_value=1, max_value=max(1, len(items)), step=1, key="step")
    keep_in_address_bar(session_id, int(step))
    if presenting and (presented is None or int(presented["position"]) != int(step)):
        store.present_step(session_id, int(step), ctx.actor)  # checks the role again, now

    def move(delta: int) -> None:
        st.session_state["step"] = min(max(1, int(st.session_state.get("step", 1)) + delta), len(items))

    left.button("Previous", on_click=move, args=(-1,), disabled=step <= 1, key="previous")
    right.button("Next", on_click=move, args=(1,), disabled=step >= len(items), key="next")

    if following:
        @st.fragment(run_every=FOLLOW_POLL_S)
        def follow_presenter(shown_step: int) -> None:
            """Move to the presenter's step when it changes (checked every FOLLOW_POLL_S seconds)."""
            now = store.presented_step(session_id)
            if now is not None and int(now["position"]) != shown_step:
                st.session_state["_follow_to"] = int(now["position"])
                st.rerun(scope="app")
            st.caption(f"Following the presenter: step {shown_step} of {len(items)}." if now else "The presenter has stopped.")

        follow_presenter(int(step))

    item = items[items["position"] == int(step)].iloc[0]
    with st.container(border=True):
        st.markdown(f"**{int(step)}. {escape_markdown(item['title'], 80)}**")
        if item["note"]:
            st.text(item["note"])  # user text: shown as text, never as markup
        state = json.loads(item["state"]) if isinstance(item["state"], str) else dict(item["state"])
        version = int(item["dataset_version"])
        selection = view_selection(state, version)
        if selection is not None:
            figures = ui.headline(version, selection.city, selection.year, selection.material)
            st.caption(f"{escape_markdown(selection.city, 60)} · {escape_markdown(material_name(version, selection.material), 40)} · "
                       f"{selection.year}, dataset version {version} (pinned: later data do not change this step)")
            for column, key in zip(st.columns(len(HEADLINE_KEYS)), HEADLINE_KEYS):
                column.metric(figures[key].label, format_mass(figures[key].kg) + ("" if key.endswith("_stock") else "/yr"))
            step_chart(item["page"], selection, version, f"session_{session_id}_step_{int(step)}")
        st.link_button("Open this view", ui.app_url("", view=item["view_id"]), icon=":material/open_in_new:")
        st.caption(f"Pinned to dataset version {version}; page {escape_markdown(item['page'] or 'overview')}.")

    # Long threads come in pages (the newest page first), so a flood never stalls the page.
    total = store.comment_count(session_id, int(step))
    st.markdown(f"**Comments on this view** ({total})")
    pages = max(1, -(-total // store.COMMENTS_PER_PAGE))
    comment_page = pages
    if pages > 1:
        comment_page = int(st.number_input(f"Page of comments (1 to {pages}; {store.COMMENTS_PER_PAGE} per page)", 1, pages, pages,
                                           key=f"comment_page_{session_id}_{int(step)}"))
    shown = store.comments(session_id, int(step), page=comment_page)
    if shown.empty:
        st.caption("No comments yet.")
    for row in shown.itertuples():
        st.caption(f"{escape_markdown(row.username, 40)} · {row.created_at:%Y-%m-%d %H:%M}")
        st.text(row.text)
    if ctx.may("comment"):
        with st.form("comment", clear_on_submit=True):
            text = st.text_area("Your comment", max_chars=2000)
            if st.form_submit_button("Send"):
                try:
                    store.add_comment(session_id, int(step), ctx.actor, text)  # checks the role again, now
                    st.rerun()
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
    else:
        st.caption("Sign in to comment.")
    st.download_button("Export the session (HTML, with each step's numbers and chart)",
                       lambda: export_session(session, session_id, items),
                       file_name=f"session_{session_id}.html", mime="text/html", icon=":material/description:",
                       on_click="ignore", key="export_session")
    ui.download_button(store.comments(session_id, per_page=storage.MAX_LIST_ROWS), f"session_{session_id}_comments", "dl_comments")

st.subheader("Create a session")
ui.require("create_session", "Creating a discussion session")
views = store.saved_views()
if views.empty:
    st.info("Save some views first (“Share this view” in the sidebar).")
    st.stop()
with st.form("new_session"):
    title = st.text_input("Title", max_chars=80, placeholder="e.g. Assignment market, 12 March")
    labels = {f"{r.title} ({r.view_id})": r.view_id for r in views.itertuples()}
    chosen = st.multiselect("Views, in the order to discuss them", list(labels))
    notes = st.text_area("Notes, one line per view, in the same order", height=120)
    if st.form_submit_button("Create the session"):
        lines = notes.splitlines()
        try:
            new_id = store.create_session(title, [(labels[c], lines[i] if i < len(lines) else "") for i, c in enumerate(chosen)],
                                          ctx.actor)  # checks the role again, now
            st.session_state["_select_session"] = new_id  # open it: its link and QR code are at the top
            st.session_state["_session_created"] = new_id
            st.rerun()
        except (ValueError, PermissionError) as exc:
            st.error(str(exc))
