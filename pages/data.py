"""Data: every dataset version (open any of them read-only), researchers' uploads with validation,
a dry run and publishing, and for admins the roll-back and the audit log."""

import hashlib

import pandas as pd
import streamlit as st

import ui
from decision_tools import storage, upload_changes, upload_effect, upload_kinds, upload_limits, uploads
from decision_tools.formatting import escape_markdown, fill_empty

ctx = ui.context()
store = ui.store()
st.title("Data: versions and uploads")
ui.how_to_read("data")
if published := st.session_state.pop("_published_notice", None):  # said after the rerun that redraws the header
    st.success(published)

st.subheader("Dataset versions")
versions = store.versions()
st.dataframe(versions, hide_index=True, width="stretch")
# Read now, not from the context drawn at the start of the run: a publish may have landed since (this visitor's).
latest_now = storage.latest_published(versions)
shown_now = latest_now if st.session_state.get("version", "latest") == "latest" else ctx.version_id
st.caption(f"The dashboards show version {shown_now}; the latest is {latest_now}. Every version is kept and can be "
           "opened read-only with the “Dataset version” picker in the sidebar (links carry it as ?version=N). Withdrawn versions "
           "were rolled back by an admin.")
ui.download_button(versions, "dataset_versions", "dl_versions")

def upload_section() -> None:
    """The upload flow; drawn only for roles that may upload (checked by ui.require on the server)."""

    kind = st.selectbox("What are you uploading?", list(upload_kinds.UPLOAD_KINDS), key="kind",
                        format_func=lambda k: f"{k.replace('_', ' ')}: {upload_kinds.UPLOAD_KINDS[k].description}")
    left, right = st.columns([2, 3])
    with left:
        st.download_button("Template (CSV)", upload_kinds.template(kind, "csv"), file_name=f"{kind}_template.csv", mime="text/csv")
        st.download_button("Template (XLSX)", upload_kinds.template(kind, "xlsx"), file_name=f"{kind}_template.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        st.caption(f"An upload adds its rows to the {upload_kinds.UPLOAD_KINDS[kind].table} table and corrects the rows with the same "
                   "key (mode “append”, the default), or replaces every row of what it covers "
                   f"({', '.join(upload_kinds.UPLOAD_KINDS[kind].scope)}; mode “replace”). "
                   "CSV (UTF-8, UTF-16 or Windows-1252; , ; tab or |), XLSX (any sheet) or "
                   f"Parquet, at most {upload_limits.max_upload_bytes() / 2**20:.0f} MB. Codes (sources, products, materials, cities) must "
                   "exist in the current version.")
    with right:
        dictionary = upload_kinds.data_dictionary(kind)
        st.dataframe(dictionary, hide_index=True, width="stretch")
        ui.download_button(dictionary, f"{kind}_data_dictionary", "dl_dictionary")

    mode = st.radio("How the file updates the current data", list(upload_changes.UPLOAD_MODES), key="upload_mode", horizontal=True,
                    format_func={"append": "append: add and correct rows, keep the rest",
                                 "replace": "replace everything the file covers"}.get,
                    help=" ".join(upload_changes.mode_explanation(kind, m) for m in upload_changes.UPLOAD_MODES))
    file = st.file_uploader("Data file", type=["csv", "xlsx", "parquet", "txt"],
                            key=f"upload_file_{st.session_state.get('_upload_round', 0)}")  # a new key after a publish: empty
    with st.expander("How the file writes numbers, sheet and header", expanded=False):
        marks = st.columns(2)
        decimal = marks[0].radio("Decimal mark", ["auto", ",", "."], key="upload_decimal", horizontal=True,
                                 format_func={"auto": "find it (refuse 12.500)", ",": "comma: 12,5", ".": "point: 12.5"}.get,
                                 help="With “find it”, 1 234,5 and 1,234.5 are read, but a number such as 12.500 or 1,200 "
                                      "(12.5 or 12500?) is refused, naming the cell. Say the file's decimal mark to read them.")
        percent_shares = marks[1].checkbox("Shares in percent", key="upload_percent_shares",
                                           help="Share columns (0..1) are written in percent: 45 or 45 % reads as 0.45.")
        sheet_at = st.columns(2)
        sheet = sheet_at[0].text_input("Sheet (XLSX)", key="upload_sheet", placeholder="the first sheet", max_chars=120)
        header_row = sheet_at[1].number_input("Header row (0: find it)", min_value=0, max_value=1000, value=0, step=1,
                                              key="upload_header_row",
                                              help="The row holding the column names. Found by itself: rows above it "
                                                   "(a title) are skipped and said.")
    if file is None:
        return
    current = ui.input_tables(ctx.latest_version_id)
    options = uploads.UploadOptions(mode=mode, decimal=decimal, percent_shares=percent_shares,
                                    sheet=sheet.strip() or None, header_row=int(header_row) or None)
    check = checked_upload(kind, file, current, options)
    if check is None:
        return
    uploads.check_ownership(check, kind, current, ctx.username, list(ctx.roles))
    for note in getattr(check.report, "reading_notes", []):  # what the reader decided: skipped rows, encoding, sheet
        st.info(escape_markdown(note, 1000))
    if not check.report.ok:
        st.error(f"{escape_markdown(file.name)} was not accepted: {check.report.problem_count:,} problem(s). Nothing was written; "
                 f"version {ctx.latest_version_id} is unchanged.")
        report = pd.DataFrame({"problem": check.report.problems})
        st.dataframe(report, hide_index=True, width="stretch")
        ui.download_button(report, f"validation_report_{kind}", "dl_report")
        return
    if check.report.warnings:  # accepted, but worth a second look: published as they are if the researcher goes on
        st.warning(f"{len(check.report.warnings):,} warning(s): values far from the current version's (a slipped unit or "
                   "decimal mark?). They do not stop the upload; check them before publishing.")
        warnings = pd.DataFrame({"warning": check.report.warnings})
        st.dataframe(warnings, hide_index=True, width="stretch")
        ui.download_button(warnings, f"validation_warnings_{kind}", "dl_warnings")

    st.success(f"{escape_markdown(file.name)} passed every check.")
    if check.neutralised_cells:
        st.info(f"{check.neutralised_cells} text cell(s) held formula or markup characters and were neutralised.")
    dry_run_section(kind, check)

    with st.form("publish"):
        name = st.text_input("Name of the new version", max_chars=80, placeholder="e.g. Helsinki phone ownership survey 2025")
        note = st.text_area("Note", max_chars=1000)
        if st.form_submit_button("Publish as a new version", type="primary"):
            try:
                clean_name = uploads.clean_version_name(name)
            except ValueError as exc:
                st.error(str(exc))
            else:
                publish(check, clean_name, note, {"kind": kind, "file": file.name, "mode": check.mode,
                                                  "changes": check.changes.to_dict(orient="records")})


def checked_upload(kind: str, file, current: dict, options: uploads.UploadOptions) -> uploads.UploadCheck | None:
    """The check of this file, kind and options against the latest version: run once with a progress bar and a
    cancel button, then kept for the session, so that moving any other widget does not check a large file again.
    None when the researcher cancelled it (said, with a button to check after all)."""
    content = file.getvalue()
    signature = (hashlib.sha256(content).hexdigest(), file.name, kind, options, ctx.latest_version_id)
    kept = st.session_state.get("_upload_check")
    if kept is not None and kept[0] == signature:
        return kept[1]
    cancel_slot, bar = st.empty(), st.empty()
    if cancel_slot.button("Cancel the check", key="upload_cancel") or st.session_state.get("_upload_cancelled") == signature:
        # A click during the check stops it at its next step (Streamlit reruns the page): nothing was kept or written.
        st.session_state["_upload_cancelled"] = signature
        cancel_slot.empty()
        st.info("Checking was cancelled; nothing was written. Change the file or its settings, or check it after all.")
        if st.button("Check the file", key="upload_check_again"):
            st.session_state.pop("_upload_cancelled", None)
            st.rerun()
        return None
    progress = bar.progress(0.0, text=uploads.CHECK_STEPS["reading"][1])
    check = uploads.check_upload(kind, content, file.name, current, options,
                                 progress=lambda share, text: progress.progress(share, text=text))
    cancel_slot.empty()
    bar.empty()
    st.session_state["_upload_check"] = (signature, check)
    return check


def dry_run_section(kind: str, check: uploads.UploadCheck) -> None:
    """The dry run of a checked upload: the mode, the values as read, the row-by-row diff and the effect
    on every fifth year (and the selected one) for the affected cities. Nothing is written."""
    st.markdown("**What would change** (dry run: nothing is written yet)")
    st.info(upload_changes.mode_explanation(kind, check.mode))
    for note in check.history_notes or []:
        st.warning(escape_markdown(note, 1000))

    st.markdown("**The values as read** (the first rows after parsing, as they would be stored)")
    for table, preview in uploads.parsed_preview(check).items():
        st.caption(f"{table}: {len(check.parsed[table]):,} row(s) in the file; row numbers as in the file (header = row 1)")
        st.dataframe(fill_empty(preview), hide_index=True, width="stretch")  # "—", not "None", in empty cells
        ui.download_button(preview, f"values_as_read_{table}", f"dl_parsed_{table}")

    st.markdown("**Row by row**")
    st.dataframe(check.changes, hide_index=True, width="stretch")
    ui.download_button(check.changes, f"dry_run_counts_{kind}", "dl_changes")
    listed = len(check.diff)
    total = int((check.changes["added"] + check.changes["removed"] + check.changes["changed_cells"]).sum())
    st.caption(f"{listed:,} line(s): one per added or removed row (with its values) and one per changed cell (before → after)"
               + (f"; the first {upload_changes.MAX_DIFF_LINES:,} of each kind per table are listed, of {total:,}" if listed < total else "")
               + ".")
    st.dataframe(fill_empty(check.diff), hide_index=True, width="stretch")
    ui.download_button(check.diff, f"dry_run_diff_{kind}", "dl_diff")

    material, year = ctx.selection.material, ctx.selection.year
    with st.status(f"Recomputing {len(check.affected_cities)} affected city(ies)…", expanded=False) as status:
        effect = upload_effect.headline_effect(check, store, ctx.latest_version_id, year, [material])
        status.update(label=f"Effect on {material} for the affected cities, every fifth year and {year}", state="complete")
    if effect.empty:
        st.caption("The upload does not change the city model's numbers.")
        return
    pivot = upload_effect.percent_change_by_year(effect)
    st.markdown(f"**Effect on every year**: change of {material} in percent, after / before − 1 (empty where there was none before)")
    st.dataframe(pivot, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%+.1f %%") for c in pivot.columns[2:]})
    with st.expander("Before and after in kg"):
        st.dataframe(effect, hide_index=True, width="stretch",
                     column_config={"before_kg": ui.KG_COLUMN, "after_kg": ui.KG_COLUMN, "change_kg": ui.KG_COLUMN})
    ui.download_button(effect, f"dry_run_{kind}", "dl_effect")


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
    # The header, the versions table and the sidebar were drawn before this publish: run again so they show the
    # new version, with the notice kept for that run, and clear the uploader (the file is published).
    st.session_state["_published_notice"] = (f"Published version {new_version}. The dashboards follow it unless a link "
                                              "pins another version.")
    st.session_state["_upload_round"] = st.session_state.get("_upload_round", 0) + 1
    st.rerun()


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
