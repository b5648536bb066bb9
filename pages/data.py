"""Data: every dataset version (open any of them read-only), researchers' uploads with validation,
a dry run and publishing, and for admins the roll-back and the audit log."""

import pandas as pd
import streamlit as st

import ui
from decision_tools import storage, uploads
from decision_tools.formatting import escape_markdown

ctx = ui.context()
store = ui.store()
st.title("Data: versions and uploads")

st.subheader("Dataset versions")
versions = store.versions()
st.dataframe(versions, hide_index=True, width="stretch")
st.caption(f"The dashboards show version {ctx.version_id}; the latest is {ctx.latest_version_id}. Every version is kept and can be "
           "opened read-only with the “Dataset version” picker in the sidebar (links carry it as ?version=N). Withdrawn versions "
           "were rolled back by an admin.")
ui.download_button(versions, "dataset_versions", "dl_versions")

def upload_section() -> None:
    """The upload flow; drawn only for roles that may upload (checked by ui.require on the server)."""

    kind = st.selectbox("What are you uploading?", list(uploads.UPLOAD_KINDS), key="kind",
                        format_func=lambda k: f"{k.replace('_', ' ')}: {uploads.UPLOAD_KINDS[k].description}")
    left, right = st.columns([2, 3])
    with left:
        st.download_button("Template (CSV)", uploads.template(kind, "csv"), file_name=f"{kind}_template.csv", mime="text/csv")
        st.download_button("Template (XLSX)", uploads.template(kind, "xlsx"), file_name=f"{kind}_template.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        st.caption(f"An upload replaces, in the {uploads.UPLOAD_KINDS[kind].table} table, every row of what it covers "
                   f"({', '.join(uploads.UPLOAD_KINDS[kind].scope)}) and adds the rest. CSV (UTF-8, any of , ; tab |), XLSX or "
                   f"Parquet, at most {uploads.max_upload_bytes() / 2**20:.0f} MB. Codes (sources, products, materials, cities) must "
                   "exist in the current version.")
    with right:
        dictionary = uploads.data_dictionary(kind)
        st.dataframe(dictionary, hide_index=True, width="stretch")
        ui.download_button(dictionary, f"{kind}_data_dictionary", "dl_dictionary")

    file = st.file_uploader("Data file", type=["csv", "xlsx", "parquet", "txt"], key="upload_file")
    if file is None:
        return
    current = ui.input_tables(ctx.latest_version_id)
    check = uploads.check_upload(kind, file.getvalue(), file.name, current)
    uploads.check_ownership(check, kind, current, ctx.username, list(ctx.roles))
    if not check.report.ok:
        st.error(f"{escape_markdown(file.name)} was not accepted: {check.report.problem_count:,} problem(s). Nothing was written; "
                 f"version {ctx.latest_version_id} is unchanged.")
        report = pd.DataFrame({"problem": check.report.problems})
        st.dataframe(report, hide_index=True, width="stretch")
        ui.download_button(report, f"validation_report_{kind}", "dl_report")
        return

    st.success(f"{escape_markdown(file.name)} passed every check.")
    if check.neutralised_cells:
        st.info(f"{check.neutralised_cells} text cell(s) held formula or markup characters and were neutralised.")
    st.markdown("**What would change** (dry run: nothing is written yet)")
    st.dataframe(check.changes, hide_index=True, width="stretch")
    with st.status(f"Recomputing {len(check.affected_cities)} affected city(ies)…", expanded=False) as status:
        effect = uploads.headline_effect(check, store, ctx.latest_version_id, ctx.selection.year, [ctx.selection.material])
        status.update(label=f"Effect on {ctx.selection.material} in {ctx.selection.year} for the affected cities", state="complete")
    st.dataframe(effect, hide_index=True, width="stretch", column_config={"before_kg": ui.KG_COLUMN, "after_kg": ui.KG_COLUMN})
    ui.download_button(effect, f"dry_run_{kind}", "dl_effect")

    with st.form("publish"):
        name = st.text_input("Name of the new version", max_chars=80, placeholder="e.g. Helsinki phone ownership survey 2025")
        note = st.text_area("Note", max_chars=1000)
        if st.form_submit_button("Publish as a new version", type="primary"):
            try:
                clean_name = uploads.clean_version_name(name)
            except ValueError as exc:
                st.error(str(exc))
            else:
                publish(check, clean_name, note, {"kind": kind, "file": file.name,
                                                  "changes": check.changes.to_dict(orient="records")})


def publish(check: uploads.UploadCheck, name: str, note: str, detail: dict) -> None:
    """Publish a checked upload on top of the version it was checked against. The store checks the
    account's role again, refuses if another version was published since the check, and publishes
    the same data only once (a second click says which version holds them)."""
    with st.status("Publishing: writing the new version and recomputing every city…") as status:
        try:
            new_version = store.publish(check.tables, name, note, ctx.actor, detail=detail, base_version=ctx.shown_latest_version_id)
        except storage.AlreadyPublished as exc:
            status.update(label="Already published", state="complete")
            st.info(str(exc))
            return
        except (storage.PublishError, PermissionError) as exc:
            status.update(label="Not published", state="error")
            st.error(escape_markdown(str(exc), 1000))  # a database message may quote uploaded values
            return
        status.update(label=f"Published dataset version {new_version}", state="complete")
    st.success(f"Published version {new_version}. The dashboards follow it unless a link pins another version.")


if ctx.may("rollback") and not store.replica:
    st.subheader("Roll back (admin)")
    target = st.selectbox("Make this version current again", list(versions["version_id"])[::-1], key="rollback_to")
    if st.button("Roll back", key="rollback_button"):
        try:
            store.rollback_to(int(target), ctx.actor)  # checks the role again, now
            st.success(f"Version {target} is current again; later versions are withdrawn (kept, still openable).")
            st.rerun()
        except (ValueError, PermissionError, storage.StoreError) as exc:
            st.error(str(exc))
if ctx.may("read_audit_log"):
    st.subheader("Audit log (admin)")
    log = store.audit_log(ctx.actor)
    st.dataframe(log, hide_index=True, width="stretch")
    st.caption(f"The newest {storage.MAX_LIST_ROWS} entries.")
    ui.download_button(log, "audit_log", "dl_audit")

if ctx.may("clear_caches"):
    st.subheader("Caches (admin)")
    st.caption("Cached results are keyed by dataset version and refresh by themselves; clear them only after changing files "
               "on the server by hand. Visitors cannot clear them (Streamlit's own menu item is refused on the server).")
    if st.button("Clear every cached result", key="clear_caches"):
        try:
            ui.clear_caches(ctx.actor)
            st.success("Caches cleared; pages recompute on their next view.")
        except PermissionError as exc:
            st.error(str(exc))

st.subheader("Upload better data")
ui.require("upload", "Uploading data")  # a server-side check: without the role, nothing below is ever drawn
if store.replica:  # publishing needs the writer; the store refuses it here too
    st.info(storage.REPLICA_NOTE)
    st.stop()
upload_section()
