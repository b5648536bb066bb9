"""Symbiosis and hub: organisations' offers and needs, CRM-aware matchmaking with an explainable
score, recorded matches, the challenge market for student assignments, and hub events."""

import dataclasses
import datetime as dt

import pandas as pd
import streamlit as st

import ui
from decision_tools import maps, storage, symbiosis, uploads
from decision_tools.formatting import escape_markdown, format_mass

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
store = ui.store()
tables = ui.input_tables(version)
orgs = tables["organisations"]
material_names = {symbol: f"{name} ({symbol})" for symbol, name in zip(tables["materials"]["symbol"], tables["materials"]["name"])}
# The organisations this account acts for (its own; all for an admin): the store's rule, read once per run.
my_orgs = store.owned_organisations(ctx.actor).set_index("org_id")["name"]
st.title("Symbiosis and hub")
ui.how_to_read("hub")
st.caption("Demo organisations, offers and needs are fictitious. Material content of a stream is estimated from its waste code "
           "through the product composition data (illustrative).")


def mark_seen(challenge_id: str) -> None:
    """The button's callback: the store marks only this account's own notices."""
    try:
        store.mark_notices_seen(ctx.actor, challenge_id)
    except PermissionError as exc:
        st.session_state["_hub_notice_error"] = str(exc)


# New interest in the challenges this account posted (the store returns only the account's own notices).
notices = store.interest_notices(ctx.actor) if ctx.may("read_notices") else pd.DataFrame()
if "_hub_notice_error" in st.session_state:
    st.error(escape_markdown(st.session_state.pop("_hub_notice_error"), 300))
if not notices.empty:
    if st.session_state.get("_hub_notices_toasted") != len(notices):  # once per new count, not on every rerun
        st.session_state["_hub_notices_toasted"] = len(notices)
        st.toast(f"{len(notices)} new expression{'s' if len(notices) > 1 else ''} of interest in your challenges", icon=":material/mark_email_unread:")
    with st.container(border=True, key="hub_notices"):
        for challenge_id, group in notices.groupby("challenge_id", sort=False):
            count = len(group)
            st.markdown(f":material/mark_email_unread: **{count} new expression{'s' if count > 1 else ''} of interest in "
                        f"‘{escape_markdown(group['title'].iloc[0], 80)}’**")
            who = group[["username", "created_at"]].rename(columns={"username": "Who", "created_at": "When (UTC)"})
            st.dataframe(who, hide_index=True, width="stretch")
            row = st.container(horizontal=True, gap="small")
            with row:
                st.button("Mark as seen", key=f"seen_{challenge_id}", on_click=mark_seen, args=(challenge_id,),
                          icon=":material/done_all:")
                ui.download_button(who, f"interest_{challenge_id}", f"dl_interest_{challenge_id}")

all_materials = st.toggle("All materials", value=True, key="hub_all", bind="query-params")
# The privacy rules, applied once before anything is computed: for whoever does not act for it, an organisation
# that hides its location is at its city centre, and an offer that hides its quantity is only its band, on the
# map, in the ranked matches (kg, EUR, scores) and in their downloads alike.
candidates, markers, arcs, every_location_exact = ui.hub_matches(version, tuple(sorted(my_orgs.index)), sel.city,
                                                                 None if all_materials else sel.material)
public_offers = symbiosis.public_view(tables["offers"], my_orgs.index)
hub_city = tables["cities"].set_index("city").loc[sel.city]
ui.pydeck(maps.symbiosis_map(markers, arcs, (sel.city, float(hub_city["lat"]), float(hub_city["lon"]))), "hub_map")
if not every_location_exact:
    st.caption("An organisation that keeps its location private is drawn at its city centre, and its distances are "
               "measured from there.")

st.subheader(f"Ranked matches involving {escape_markdown(sel.city)}")
if candidates.empty:
    st.info(f"No compatible offer and need involve {escape_markdown(sel.city)}{'' if all_materials else ' for ' + sel.material}.")
else:
    table = candidates[["material", "from_org", "to_org", "stream", "exchanged_kg", "distance_km", "transport_eur_per_year",
                        "value_eur_per_year", "quantity", "quantity_fit", "distance", "value", "score"]].round(4)
    ui.table(table, "dl_matches", f"matches_{sel.city}", {
        "from_org": "From", "to_org": "To", "material": "Material", "stream": "Stream",
        "exchanged_kg": ("Exchanged ({unit} per year)", "mass"), "distance_km": ("Distance (km)", "number"),
        "transport_eur_per_year": ("Transport (EUR per year)", "number"), "value_eur_per_year": ("Value (EUR per year)", "number"),
        "quantity": ("Quantity", "text"), "score": ("Score (0-1)", "number"), "quantity_fit": ("Quantity fit (0-1)", "number"),
        "distance": ("Nearness (0-1)", "number"), "value": ("Value x supply risk (0-1)", "number")})
    if not candidates["exchanged_kg"].notna().all():
        st.caption("Where an offer keeps its quantity private, its kg and EUR figures are not shown, and its quantity fit, "
                   "value and score are estimated from the middle of its public range (about 0.3, 3 or 30 t of stream "
                   "per year), so they rank the match without giving the quantity away.")
    with st.expander("Why does the best match rank first?"):
        best = candidates.iloc[0]
        parts = symbiosis.breakdown(best)
        st.dataframe(pd.DataFrame([{"component": k, **v} for k, v in parts.items()]), hide_index=True, width="stretch")
        st.caption(f"Score {best['score']:.3f} = the sum of the contributions (weights: quantity fit 0.35, distance 0.25, "
                   "value x supply risk 0.40).")

    mine = symbiosis.involving(candidates, tables, my_orgs.index)
    if ctx.may("update_match") and not mine.empty:
        with st.form("match_status"):
            st.markdown("**Record a match for your organisation**")
            labels = {f"{r.material}: {r.from_org} → {r.to_org}": (r.offer_id, r.need_id) for r in mine.itertuples()}
            choice = st.selectbox("Match", list(labels))
            status = st.selectbox("Status", list(store.MATCH_STATUSES))
            if st.form_submit_button("Save status"):
                offer_id, need_id = labels[choice]
                # The exact kg is recorded (from the tables, not as seen: a hidden quantity's figures are stand-ins),
                # and shown only to whoever may see the offer's quantity (recorded_as_seen).
                kg = symbiosis.exchanged_kg(tables, offer_id, need_id)
                try:  # the store checks the role and that one side is the account's own organisation, now
                    store.set_match_status(offer_id, need_id, status, kg, ctx.actor)
                    st.success(f"Recorded as {status}.")
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
    elif ctx.username:
        st.caption("Partners record matches that involve their own organisation.")

# A recorded match's kg is its exchanged kg: emptied where the viewer may not see the offer's quantity.
recorded = symbiosis.recorded_as_seen(store.matches(), tables["offers"], my_orgs.index)
if not recorded.empty:
    st.markdown("**Recorded matches**")
    named = symbiosis.named_matches(recorded, tables["offers"], tables["needs"], orgs)
    st.dataframe(named, hide_index=True, width="stretch")
    ui.download_button(named, "recorded_matches", "dl_recorded")
    base = store.headline(version, sel.city, sel.year, sel.material).get("secondary_supply")
    if base is not None:
        extra, private = symbiosis.active_supply_kg(recorded, candidates, sel.material, sel.city)
        st.metric(f"{sel.material} secondary supply of {escape_markdown(sel.city)}, {sel.year}, with symbiosis", format_mass(base.kg + extra) + "/yr",
                  delta=f"+{format_mass(extra)}/yr from active matches"
                        + (f" ({private} with a private quantity not counted)" if private else ""))

left, right = st.columns(2)
with left:
    st.markdown("**Offers** (quantities binned where the owner asked, except for whoever acts for the organisation)")
    shown_offers = symbiosis.with_organisation_names(public_offers.drop(columns=["offer_id", "hide_quantity", "hide_location"]), orgs)
    ui.table(shown_offers, "dl_offers", "offers")
with right:
    st.markdown("**Needs**")
    shown_needs = symbiosis.with_organisation_names(tables["needs"].drop(columns=["need_id"]), orgs)
    ui.table(shown_needs, "dl_needs", "needs", names={"material": material_names})

# Offers are published on top of the latest version (never the one a link pins), so nothing published
# since is reverted; the store refuses if another version lands between this check and the publish.
latest_tables = ui.input_tables(ctx.latest_version_id)
# What the offer form shows when empty. The form's widgets take their values from here (never value=), so that a
# callback can empty the form: the browser shows a value set in the session state, not a deleted key.
OFFER_EMPTY = {"offer_description": "", "offer_kg": 1000.0, "offer_availability": "continuous", "offer_hide_quantity": False,
               "offer_hide_location": False}


def empty_form(state, empty: dict) -> None:
    """Put a form's widgets back to their empty values (after a successful post)."""
    for key, value in empty.items():
        state[key] = value


def follow_new_version(new_version: int) -> None:
    """After a publish: a context that followed the latest version follows the new one. In a browser app.py
    runs after this callback and says the same; a run of this page alone (an AppTest rerun) needs it here."""
    shown = st.session_state.get("context")
    if shown is not None and shown.version_id == shown.latest_version_id:
        st.session_state["context"] = dataclasses.replace(shown, version_id=new_version, latest_version_id=new_version)


def publish_offer(base_tables: dict, base_version: int, org_names: dict) -> None:
    """The offer form's callback: it runs before the page is drawn, so the tables above show the new offer in
    this very run. A published offer empties the form; a refused one keeps what was typed."""
    state = st.session_state
    org_id = state["offer_org"]
    row = pd.DataFrame([{"offer_id": f"off_{org_id}_{len(base_tables['offers']) + 1}", "org_id": org_id,
                         "description": state["offer_description"], "stream_code": state["offer_stream"],
                         "kg_per_year": state["offer_kg"], "availability": state["offer_availability"],
                         "hide_quantity": state["offer_hide_quantity"], "hide_location": state["offer_hide_location"],
                         "source_id": "PROJECT_ASSUMPTION", "confidence": "low"}])
    check = uploads.check_upload("offers", row.to_csv(index=False).encode(), "offer.csv", base_tables)
    uploads.check_ownership(check, "offers", base_tables, ctx.username, list(ctx.roles))  # on the server
    if not check.report.ok:
        state["_hub_offer_message"] = ("error", escape_markdown("; ".join(check.report.problems), 1000), None)
        return
    try:
        new_version = store.publish(check.tables, f"Offer from {org_names[org_id]}", state["offer_description"], ctx.actor,
                                    detail={"kind": "offers", "org_id": org_id}, action="offer_stream",
                                    base_version=base_version)
    except storage.AlreadyPublished as exc:
        state["_hub_offer_message"] = ("info", escape_markdown(str(exc), 1000), None)
        return
    except (storage.PublishError, PermissionError) as exc:
        state["_hub_offer_message"] = ("error", escape_markdown(str(exc), 1000), None)
        return
    state["_hub_offer_message"] = ("success", f"Published as dataset version {new_version}.", new_version)
    empty_form(state, OFFER_EMPTY)
    follow_new_version(new_version)


if ctx.may("offer_stream") and len(my_orgs) and store.replica:
    st.info(f"Offering a stream publishes a new dataset version. {storage.REPLICA_NOTE}")
elif ctx.may("offer_stream") and len(my_orgs):
    for key, value in OFFER_EMPTY.items():
        st.session_state.setdefault(key, value)
    with st.form("new_offer"):
        st.markdown("**Offer a stream from your organisation** (publishes a new dataset version)")
        st.selectbox("Organisation", list(my_orgs.index), format_func=lambda o: my_orgs[o], key="offer_org")
        streams = latest_tables["ewc_crosswalk"].set_index("stream_code")["description"]
        st.selectbox("Stream", list(streams.index), format_func=lambda c: f"{c}: {streams[c]}", key="offer_stream")
        st.text_input("Description", max_chars=200, key="offer_description")
        st.number_input("kg per year", min_value=0.0, step=100.0, key="offer_kg")
        st.text_input("Availability", max_chars=80, key="offer_availability")
        st.checkbox("Show the quantity only as a range in public", key="offer_hide_quantity")
        st.checkbox("Hide the exact location in public", key="offer_hide_location")
        # The form was drawn on the latest version of this run: the publish is refused if another lands meanwhile.
        st.form_submit_button("Publish the offer", on_click=publish_offer,
                              args=(latest_tables, ctx.latest_version_id, my_orgs.to_dict()))
    if "_hub_offer_message" in st.session_state:
        kind, text, new_version = st.session_state.pop("_hub_offer_message")
        if new_version is not None and new_version != ctx.version_id:
            text += f" This link shows dataset version {ctx.version_id}; choose “latest” in the sidebar to see the offer above."
        getattr(st, kind)(text)

st.subheader("Challenge market")
DISCIPLINES = ["mechanical engineering", "energy technology", "chemistry", "sustainability", "business and management",
               "computer science", "industrial design"]
KINDS = ["course assignment", "graduation project", "thesis"]
CHALLENGE_EMPTY = {"challenge_title": "", "challenge_description": "", "challenge_disciplines": [], "challenge_material": "",
                   "challenge_view": "", "challenge_deadline": dt.date.today() + dt.timedelta(days=90)}


def post_challenge() -> None:
    """The challenge form's callback: it runs before the page is drawn, so the market below lists the new
    challenge in this very run. A posted challenge empties the form; a refused one keeps what was typed."""
    state = st.session_state
    try:  # the store checks the role and the organisation's owner again, now
        store.post_challenge(state["challenge_title"], state["challenge_description"], state["challenge_org"],
                             state["challenge_disciplines"], state["challenge_kind"], state["challenge_material"] or None,
                             state["challenge_view"] or None, state["challenge_deadline"], ctx.actor)
    except (ValueError, PermissionError) as exc:
        state["_hub_challenge_message"] = ("error", escape_markdown(str(exc), 300))
        return
    state["_hub_challenge_message"] = ("success", f"Posted “{escape_markdown(state['challenge_title'], 80)}”.")
    empty_form(state, CHALLENGE_EMPTY)
    for key in ("prefill_title", "prefill_material"):  # a link that prefilled the form has done its work
        if key in st.query_params:
            del st.query_params[key]


def register_interest(challenge_titles: dict) -> None:
    """The interest form's callback: registers before the market is drawn, so its count includes it."""
    state = st.session_state
    challenge_id = state["interest_pick"]
    try:
        store.register_interest(challenge_id, ctx.actor)  # checks the role again, now
    except storage.AlreadyRegistered as exc:
        state["_hub_interest_message"] = ("info", escape_markdown(str(exc), 300))
    except (ValueError, PermissionError) as exc:
        state["_hub_interest_message"] = ("error", escape_markdown(str(exc), 300))
    else:
        title = escape_markdown(challenge_titles.get(challenge_id, ""), 80)
        text = f"Your interest is registered in “{title}”; the partner who posted it will see your name."
        state["_hub_interest_message"] = ("success", text)


challenges = store.challenges()
a, b, c = st.columns(3)
disciplines = a.multiselect("Disciplines", DISCIPLINES, key="hub_disciplines")
kinds = b.multiselect("Type", KINDS, key="hub_kinds")
statuses = c.multiselect("Status", list(store.CHALLENGE_STATUSES), default=["open"], key="hub_statuses")
shown = challenges
if disciplines:
    shown = shown[shown["disciplines"].map(lambda d: bool(set(d.split(";")) & set(disciplines)))]
if kinds:
    shown = shown[shown["kind"].isin(kinds)]
if statuses:
    shown = shown[shown["status"].isin(statuses)]
ui.table(shown, "dl_challenges", "challenges", {
    "title": "Title", "organisation": "Organisation", "disciplines": "Disciplines", "kind": "Type", "material": "Material",
    "deadline": ("Deadline", "text"), "status": "Status", "outcome": "Outcome", "interested": ("Interested", "integer"),
    "posted_by": "Posted by", "description": "Description"}, names={"material": material_names})

if ctx.may("register_interest") and not shown.empty:
    titles = shown.set_index("challenge_id")["title"].to_dict()
    with st.form("interest"):
        st.selectbox("Challenge", list(titles), format_func=lambda cid: titles[cid], key="interest_pick")
        st.form_submit_button("Register my interest", on_click=register_interest, args=(titles,))
    if "_hub_interest_message" in st.session_state:
        kind, text = st.session_state.pop("_hub_interest_message")
        getattr(st, kind)(text)
elif ctx.username is None:
    st.caption("Students sign in to register interest; partners sign in to post challenges.")

if ctx.may("post_challenge") or ctx.may("update_challenge"):
    own = challenges[challenges["posted_by"] == ctx.username]
    for row in own.itertuples():
        with st.expander(f"Your challenge: {escape_markdown(row.title, 80)} ({row.status})"):
            names = store.interested(row.challenge_id)
            st.write("Interested: " + (escape_markdown(", ".join(names), 1000) if names else "nobody yet"))
            with st.form(f"status_{row.challenge_id}"):
                status = st.selectbox("Status", list(store.CHALLENGE_STATUSES), index=list(store.CHALLENGE_STATUSES).index(row.status))
                outcome = st.text_input("Short outcome", value=row.outcome or "", max_chars=500)
                if st.form_submit_button("Update"):
                    try:
                        store.set_challenge_status(row.challenge_id, status, outcome, ctx.actor)
                        st.rerun()
                    except (ValueError, PermissionError) as exc:
                        st.error(str(exc))
if ctx.may("post_challenge") and my_orgs.empty:
    st.caption("Challenges are posted in the name of an organisation you own; ask an admin to link yours to your account.")
elif ctx.may("post_challenge"):
    symbols = [""] + list(tables["materials"]["symbol"])
    prefill = st.query_params.get("prefill_material", "")
    # A link from another page may prefill the title and the material: once per link, so what is typed after stays.
    prefill_title = st.query_params.get("prefill_title", "")[:80]
    if (prefill_title or prefill) and st.session_state.get("_hub_prefilled") != (prefill_title, prefill):
        st.session_state["_hub_prefilled"] = (prefill_title, prefill)
        st.session_state["challenge_title"] = prefill_title
        st.session_state["challenge_material"] = prefill if prefill in symbols else ""
    for key, value in CHALLENGE_EMPTY.items():
        st.session_state.setdefault(key, value)
    with st.form("post_challenge"):
        st.markdown("**Post a challenge**")
        st.text_input("Title", max_chars=80, key="challenge_title")
        st.text_area("Description", max_chars=2000, key="challenge_description")
        st.selectbox("For your organisation", list(my_orgs.index), format_func=lambda o: my_orgs[o], key="challenge_org")
        st.multiselect("Disciplines", DISCIPLINES, key="challenge_disciplines")
        st.selectbox("Type", KINDS, key="challenge_kind")
        st.selectbox("Related material", symbols, key="challenge_material")
        st.text_input("Linked saved view (id, optional)", max_chars=8, key="challenge_view")
        st.date_input("Deadline", key="challenge_deadline")
        st.form_submit_button("Post the challenge", on_click=post_challenge)
if "_hub_challenge_message" in st.session_state:
    kind, text = st.session_state.pop("_hub_challenge_message")
    getattr(st, kind)(text)

st.subheader("Hub events")
events = store.events()
sessions = store.sessions()
challenge_titles = challenges.set_index("challenge_id")["title"]
session_titles = sessions.set_index("session_id")["title"]
# Titles, not ids: a link to a challenge or session that is gone keeps its id.
shown_events = events.drop(columns=["event_id"]).assign(
    event_date=pd.to_datetime(events["event_date"]).dt.strftime("%Y-%m-%d"),  # a day, not midnight
    challenge_id=[challenge_titles.get(i, i) if pd.notna(i) else None for i in events["challenge_id"]],
    session_id=[session_titles.get(i, i) if pd.notna(i) else None for i in events["session_id"]],
)
ui.table(shown_events, "dl_events", "hub_events", {
    "title": "Event", "kind": "Kind", "event_date": ("Date", "text"), "place": "Place", "challenge_id": "Challenge",
    "session_id": "Discussion session"})

EVENT_EMPTY = {"event_title": "", "event_date": dt.date.today() + dt.timedelta(days=30), "event_place": "",
               "event_challenge": "", "event_session": ""}


def add_event() -> None:
    """The event form's callback: it runs before the page is drawn, so the events above list the new one in
    this very run. An added event empties the form; a refused one keeps what was typed."""
    state = st.session_state
    try:  # checks the role again, now
        store.add_event(state["event_title"], state["event_kind"], state["event_date"], state["event_place"],
                        state["event_challenge"] or None, state["event_session"] or None, ctx.actor)
    except (ValueError, PermissionError) as exc:
        state["_hub_event_message"] = ("error", escape_markdown(str(exc), 300))
        return
    state["_hub_event_message"] = ("success", f"Added “{escape_markdown(state['event_title'], 80)}”.")
    empty_form(state, EVENT_EMPTY)


if ctx.may("add_event"):
    for key, value in EVENT_EMPTY.items():
        st.session_state.setdefault(key, value)
    with st.form("add_event"):
        st.markdown("**Add an event**")
        st.text_input("Title", max_chars=80, key="event_title")
        st.selectbox("Kind", list(store.EVENT_KINDS), key="event_kind")
        st.date_input("Date", key="event_date")
        st.text_input("Place", max_chars=80, key="event_place")
        st.selectbox("Linked challenge", [""] + list(challenge_titles.index), key="event_challenge",
                     format_func=lambda cid: challenge_titles[cid] if cid else "(none)")
        st.selectbox("Linked discussion session", [""] + list(session_titles.index), key="event_session",
                     format_func=lambda sid: session_titles[sid] if sid else "(none)")
        st.form_submit_button("Add the event", on_click=add_event)
    if "_hub_event_message" in st.session_state:
        kind, text = st.session_state.pop("_hub_event_message")
        getattr(st, kind)(text)
