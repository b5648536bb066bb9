"""Symbiosis and hub: organisations' offers and needs, CRM-aware matchmaking with an explainable
score, recorded matches, the challenge market for student assignments, and hub events."""

import datetime as dt

import pandas as pd
import streamlit as st

import ui
from decision_tools import charts, storage, symbiosis, uploads
from decision_tools.formatting import escape_markdown, format_mass

ctx = ui.context()
sel, version = ctx.selection, ctx.version_id
store = ui.store()
tables = ui.input_tables(version)
orgs = tables["organisations"]
# The organisations this account acts for (its own; all for an admin): the store's rule, read once per run.
my_orgs = store.owned_organisations(ctx.actor).set_index("org_id")["name"]
st.title("Symbiosis and hub")
st.caption("Demo organisations, offers and needs are fictitious. Material content of a stream is estimated from its waste code "
           "through the product composition data (illustrative).")

all_materials = st.toggle("All materials", value=True, key="hub_all", bind="query-params")
candidates = symbiosis.match_candidates(tables, sel.city, None if all_materials else sel.material)
public_offers = symbiosis.public_view(tables["offers"])
hidden_location = set(tables["offers"].loc[tables["offers"]["hide_location"].astype(bool), "offer_id"])
arcs = candidates.head(25).copy()
if len(arcs):  # an offer that hides its location is drawn from its city centre
    centres = tables["cities"].set_index("city")
    for idx, row in arcs.iterrows():
        if row["offer_id"] in hidden_location:
            arcs.at[idx, "from_lat"], arcs.at[idx, "from_lon"] = centres.at[row["from_city"], "lat"], centres.at[row["from_city"], "lon"]
    arcs["label"] = ": " + arcs["material"] + " " + arcs["exchanged_kg"].map(format_mass) + " per year"
    arcs["name"] = arcs["from_org"] + " → " + arcs["to_org"]
shown_orgs = orgs.assign(short=orgs["name"].str.replace("Fictitious: ", "", regex=False), label="")
ui.pydeck(charts.symbiosis_map(shown_orgs, arcs), "hub_map")

st.subheader(f"Ranked matches involving {escape_markdown(sel.city)}")
if candidates.empty:
    st.info(f"No compatible offer and need involve {escape_markdown(sel.city)}{'' if all_materials else ' for ' + sel.material}.")
else:
    table = candidates[["material", "from_org", "to_org", "stream", "exchanged_kg", "distance_km", "transport_eur_per_year",
                        "value_eur_per_year", "quantity_fit", "distance", "value", "score", "offer_id", "need_id"]].round(4)
    st.dataframe(table, hide_index=True, width="stretch", column_config={"score": st.column_config.ProgressColumn(
        "score", min_value=0, max_value=1, format="%.3f")})
    ui.download_button(table, f"matches_{sel.city}", "dl_matches")
    with st.expander("Why does the best match rank first?"):
        best = candidates.iloc[0]
        parts = symbiosis.breakdown(best)
        st.dataframe(pd.DataFrame([{"component": k, **v} for k, v in parts.items()]), hide_index=True, width="stretch")
        st.caption(f"Score {best['score']:.3f} = the sum of the contributions (weights: quantity fit 0.35, distance 0.25, "
                   "value x supply risk 0.40).")

    offer_org = tables["offers"].set_index("offer_id")["org_id"]
    need_org = tables["needs"].set_index("need_id")["org_id"]
    mine = candidates[[offer_org[o] in my_orgs.index or need_org[n] in my_orgs.index for o, n in zip(candidates["offer_id"], candidates["need_id"])]]
    if ctx.may("update_match") and not mine.empty:
        with st.form("match_status"):
            st.markdown("**Record a match for your organisation**")
            labels = {f"{r.material}: {r.from_org} → {r.to_org}": (r.offer_id, r.need_id, r.exchanged_kg) for r in mine.itertuples()}
            choice = st.selectbox("Match", list(labels))
            status = st.selectbox("Status", list(store.MATCH_STATUSES))
            if st.form_submit_button("Save status"):
                offer_id, need_id, kg = labels[choice]
                try:  # the store checks the role and that one side is the account's own organisation, now
                    store.set_match_status(offer_id, need_id, status, float(kg), ctx.actor)
                    st.success(f"Recorded as {status}.")
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
    elif ctx.username:
        st.caption("Partners record matches that involve their own organisation.")

recorded = store.matches()
if not recorded.empty:
    st.markdown("**Recorded matches**")
    st.dataframe(recorded, hide_index=True, width="stretch")
    ui.download_button(recorded, "recorded_matches", "dl_recorded")
    active = recorded[recorded["status"] == "active"].merge(candidates[["offer_id", "need_id", "material", "from_city"]],
                                                            on=["offer_id", "need_id"])
    active = active[(active["material"] == sel.material) & (active["from_city"] == sel.city)]
    base = store.headline(version, sel.city, sel.year, sel.material).get("secondary_supply")
    if base is not None:
        extra = float(active["kg_per_year"].sum())
        st.metric(f"{sel.material} secondary supply of {escape_markdown(sel.city)}, {sel.year}, with symbiosis", format_mass(base.kg + extra) + "/yr",
                  delta=f"+{format_mass(extra)}/yr from active matches")

left, right = st.columns(2)
with left:
    st.markdown("**Offers** (quantities binned where the owner asked)")
    st.dataframe(public_offers.drop(columns=["hide_quantity", "hide_location"]), hide_index=True, width="stretch")
    ui.download_button(public_offers, "offers", "dl_offers")
with right:
    st.markdown("**Needs**")
    st.dataframe(tables["needs"], hide_index=True, width="stretch")
    ui.download_button(tables["needs"], "needs", "dl_needs")

# Offers are published on top of the latest version (never the one a link pins), so nothing published
# since is reverted; the store refuses if another version lands between this check and the publish.
latest_tables = ui.input_tables(ctx.latest_version_id)
if ctx.may("offer_stream") and len(my_orgs) and store.replica:
    st.info(f"Offering a stream publishes a new dataset version. {storage.REPLICA_NOTE}")
elif ctx.may("offer_stream") and len(my_orgs):
    with st.form("new_offer"):
        st.markdown("**Offer a stream from your organisation** (publishes a new dataset version)")
        org_id = st.selectbox("Organisation", list(my_orgs.index), format_func=lambda o: my_orgs[o])
        streams = latest_tables["ewc_crosswalk"].set_index("stream_code")["description"]
        stream = st.selectbox("Stream", list(streams.index), format_func=lambda c: f"{c}: {streams[c]}")
        description = st.text_input("Description", max_chars=200)
        kg = st.number_input("kg per year", min_value=0.0, value=1000.0, step=100.0)
        availability = st.text_input("Availability", max_chars=80, value="continuous")
        hide_quantity = st.checkbox("Show the quantity only as a range in public")
        hide_location = st.checkbox("Hide the exact location in public")
        if st.form_submit_button("Publish the offer"):
            row = pd.DataFrame([{"offer_id": f"off_{org_id}_{len(latest_tables['offers']) + 1}", "org_id": org_id,
                                 "description": description, "stream_code": stream, "kg_per_year": kg,
                                 "availability": availability, "hide_quantity": hide_quantity, "hide_location": hide_location,
                                 "source_id": "PROJECT_ASSUMPTION", "confidence": "low"}])
            check = uploads.check_upload("offers", row.to_csv(index=False).encode(), "offer.csv", latest_tables)
            uploads.check_ownership(check, "offers", latest_tables, ctx.username, list(ctx.roles))  # on the server
            if not check.report.ok:
                st.error(escape_markdown("; ".join(check.report.problems), 1000))
            else:
                try:
                    new_version = store.publish(check.tables, f"Offer from {my_orgs[org_id]}", description, ctx.actor,
                                                detail={"kind": "offers", "org_id": org_id}, action="offer_stream",
                                                base_version=ctx.shown_latest_version_id)
                    st.success(f"Published as dataset version {new_version}.")
                except storage.AlreadyPublished as exc:
                    st.info(str(exc))
                except (storage.PublishError, PermissionError) as exc:
                    st.error(escape_markdown(str(exc), 1000))

st.subheader("Challenge market")
DISCIPLINES = ["mechanical engineering", "energy technology", "chemistry", "sustainability", "business and management",
               "computer science", "industrial design"]
KINDS = ["course assignment", "graduation project", "thesis"]
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
st.dataframe(shown.drop(columns=["posted_at"]), hide_index=True, width="stretch")
ui.download_button(shown, "challenges", "dl_challenges")

if ctx.may("register_interest") and not shown.empty:
    with st.form("interest"):
        pick = st.selectbox("Challenge", list(shown["challenge_id"]),
                            format_func=lambda cid: shown.set_index("challenge_id").at[cid, "title"])
        if st.form_submit_button("Register my interest"):
            try:
                store.register_interest(pick, ctx.actor)  # checks the role again, now
                st.success("Your interest is registered; the partner who posted it will see your name.")
            except (ValueError, PermissionError) as exc:
                st.error(str(exc))
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
    with st.form("post_challenge"):
        st.markdown("**Post a challenge**")
        title = st.text_input("Title", value=st.query_params.get("prefill_title", ""), max_chars=80)
        description = st.text_area("Description", max_chars=2000)
        org_id = st.selectbox("For your organisation", list(my_orgs.index), format_func=lambda o: my_orgs[o])
        chosen = st.multiselect("Disciplines", DISCIPLINES)
        kind = st.selectbox("Type", KINDS)
        symbols = [""] + list(tables["materials"]["symbol"])
        prefill = st.query_params.get("prefill_material", "")
        material = st.selectbox("Related material", symbols, index=symbols.index(prefill) if prefill in symbols else 0)
        view_id = st.text_input("Linked saved view (id, optional)", max_chars=8)
        deadline = st.date_input("Deadline", value=dt.date.today() + dt.timedelta(days=90))
        if st.form_submit_button("Post the challenge"):
            try:  # the store checks the role and the organisation's owner again, now
                store.post_challenge(title, description, org_id, chosen, kind, material or None, view_id or None,
                                     deadline, ctx.actor)
                st.session_state["_hub_posted"] = title
                st.rerun()  # the market above lists it at once
            except (ValueError, PermissionError) as exc:
                st.error(escape_markdown(str(exc), 300))
if "_hub_posted" in st.session_state:
    st.success(f"Posted “{escape_markdown(st.session_state.pop('_hub_posted'), 80)}”.")

st.subheader("Hub events")
events = store.events()
st.dataframe(events, hide_index=True, width="stretch")
ui.download_button(events, "hub_events", "dl_events")

if ctx.may("add_event"):
    with st.form("add_event"):
        st.markdown("**Add an event**")
        title = st.text_input("Title", max_chars=80, key="event_title")
        kind = st.selectbox("Kind", list(store.EVENT_KINDS))
        event_date = st.date_input("Date", value=dt.date.today() + dt.timedelta(days=30))
        place = st.text_input("Place", max_chars=80)
        challenge = st.selectbox("Linked challenge", [""] + list(challenges["challenge_id"]),
                                 format_func=lambda cid: challenges.set_index("challenge_id").at[cid, "title"] if cid else "(none)")
        sessions = store.sessions()
        session = st.selectbox("Linked discussion session", [""] + list(sessions["session_id"]),
                               format_func=lambda sid: sessions.set_index("session_id").at[sid, "title"] if sid else "(none)")
        if st.form_submit_button("Add the event"):
            try:  # checks the role again, now
                store.add_event(title, kind, event_date, place, challenge or None, session or None, ctx.actor)
                st.rerun()
            except (ValueError, PermissionError) as exc:
                st.error(escape_markdown(str(exc), 300))
