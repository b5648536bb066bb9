"""Discussion sessions: a named, ordered list of saved views with notes. Participants step through it
on their own devices (the link holds the session and the step); signed-in participants comment on
each view; the session exports as one document."""

import streamlit as st

import ui
from decision_tools import exports, storage
from decision_tools.formatting import escape_markdown

ctx = ui.context()
store = ui.store()
st.title("Discussion sessions")

sessions = store.sessions()
if sessions.empty:
    st.info("No discussion session yet. Partners and researchers create one from saved views (use “Share this view” in the "
            "sidebar to save views first).")
else:
    ids = list(sessions["session_id"])
    titles = dict(zip(sessions["session_id"], sessions["title"]))
    raw = st.query_params.get("session")
    if raw is not None and raw not in ids:
        st.warning(f"The link's session '{escape_markdown(raw, 20)}' does not exist; pick one below.", icon="⚠️")
    session_id = st.selectbox("Session", ids, key="session", bind="query-params")
    session = store.get_session(session_id)
    items = session["items"]
    st.subheader(escape_markdown(titles[session_id], 80))
    st.caption(f"Created by {escape_markdown(session['created_by'], 40)} on {session['created_at']:%Y-%m-%d} · "
               f"{len(items)} step(s). Everyone with the link can follow on their own device.")
    step = st.number_input("Step", min_value=1, max_value=max(1, len(items)), value=1, step=1, key="step", bind="query-params")

    def move(delta: int) -> None:
        st.session_state["step"] = min(max(1, int(st.session_state.get("step", 1)) + delta), len(items))

    left, right, _ = st.columns([1, 1, 6])
    left.button("Previous", on_click=move, args=(-1,), disabled=step <= 1, key="previous")
    right.button("Next", on_click=move, args=(1,), disabled=step >= len(items), key="next")

    item = items[items["position"] == int(step)].iloc[0]
    with st.container(border=True):
        st.markdown(f"**{int(step)}. {escape_markdown(item['title'], 80)}**")
        if item["note"]:
            st.text(item["note"])  # user text: shown as text, never as markup
        st.link_button("Open this view", f"./?view={item['view_id']}", icon=":material/open_in_new:")
        st.caption(f"Pinned to dataset version {int(item['dataset_version'])}; page {escape_markdown(item['page'] or 'overview')}.")

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
    base = str(st.context.url).split("?")[0].rsplit("/", 1)[0] + "/" if st.context.url else "./"
    st.download_button("Export the session (HTML)",
                       lambda: exports.session_html(session, store.comments(session_id, per_page=storage.MAX_LIST_ROWS), base),
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
            st.success(f"Created. Its link: ?session={new_id}")
        except (ValueError, PermissionError) as exc:
            st.error(str(exc))
