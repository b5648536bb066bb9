"""The upload commands: template (an empty upload template) and ingest (check, and publish a dataset version,
through the running dashboard when it holds the database)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import storage
from .common import UsageError, fail, open_for_reading


def cmd_template(args: argparse.Namespace) -> int:
    from .. import upload_kinds

    if args.kind not in upload_kinds.UPLOAD_KINDS:
        raise UsageError(f"unknown kind '{args.kind}'; choose one of: {', '.join(upload_kinds.UPLOAD_KINDS)}")
    out = Path(args.out or f"{args.kind}_template.{args.format}")
    partial = out.with_name(out.name + ".partial")
    try:  # written beside and renamed: a full disk leaves no half-written template
        partial.write_bytes(upload_kinds.template(args.kind, args.format))
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    print(f"Wrote {out}: {upload_kinds.UPLOAD_KINDS[args.kind].description}.")
    print(upload_kinds.data_dictionary(args.kind).to_string(index=False))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .. import accounts, upload_changes, upload_kinds, uploads

    if args.kind not in upload_kinds.UPLOAD_KINDS:
        raise UsageError(f"unknown kind '{args.kind}'; choose one of: {', '.join(upload_kinds.UPLOAD_KINDS)}")
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"there is no file at {path}")
    if args.wait <= 0:
        raise UsageError(f"--wait takes a number of seconds above 0; got {args.wait:g}")
    store, hand_off = _open_for_ingest(args)
    with store:
        version = store.current_version()
        options = uploads.UploadOptions(mode=args.mode, decimal=args.decimal, percent_shares=args.percent_shares,
                                        sheet=args.sheet, header_row=args.header_row)
        check = uploads.check_upload(args.kind, path.read_bytes(), path.name, store.input_tables(version), options)
        for note in getattr(check.report, "reading_notes", []):  # what the reader decided: skipped rows, encoding, sheet
            print(f"Note: {note}", file=sys.stderr if not check.report.ok else sys.stdout)
        if not check.report.ok:
            print(f"{path.name} was not accepted: {check.report.problem_count:,} problem(s).", file=sys.stderr)
            for problem in check.report.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        if check.neutralised_cells:
            print(f"{check.neutralised_cells} text cell(s) were neutralised (formula or markup characters).")
        for warning in check.report.warnings:  # accepted, but worth a second look before publishing
            print(f"Warning: {warning}")
        print(upload_changes.mode_explanation(args.kind, check.mode))
        print(f"Changes against version {version}:")
        print(check.changes.to_string(index=False))
        shown = 20  # the first lines of the row-by-row diff; the app's dry run lists and downloads them all
        print(f"Row by row ({len(check.diff):,} line(s){f', the first {shown}' if len(check.diff) > shown else ''}):")
        print(check.diff.head(shown).to_string(index=False))
        for note in check.history_notes or []:
            print(f"Note: {note}")
        if args.dry_run:
            print("Dry run: nothing was written.")
            return 0
        name = args.name or f"{args.kind} upload from {path.name}"
        detail = {"kind": args.kind, "file": path.name, "mode": check.mode, "changes": check.changes.to_dict(orient="records")}
        if not hand_off:
            try:
                new_version = store.publish(check.tables, name, args.note or "", accounts.Actor.cli(args.user),
                                            detail=detail, base_version=version)
            except storage.AlreadyPublished as exc:
                print(str(exc))
                return 0
    if hand_off:  # the copy is closed (and removed) before waiting
        return _publish_through_app(args, check.tables, name, detail, version)
    print(f"Published dataset version {new_version} ({name}).")
    return 0


def _open_for_ingest(args: argparse.Namespace) -> tuple[storage.Store, bool]:
    """The database for ingest, and whether the publish goes through the running dashboard: a dry run
    reads (a copy when the file is held); a publish writes itself, or, when the running dashboard holds
    the file, checks against a copy and hands the checked tables to the dashboard (publish_inbox)."""
    if args.dry_run:
        return open_for_reading(args), False
    try:
        return storage.Store.open(args.db, read_only=False), False
    except storage.DatabaseBusyError:
        store = storage.Store.open(args.db, copy_when_busy=True)
    if store.copied_from is None:  # the holder stopped meanwhile: write here after all
        store.close()
        return storage.Store.open(args.db, read_only=False), False
    print(f"note: {store.copied_from} is held by another process (probably the running dashboard), so this checks the "
          "file against a copy of it taken just now and hands the publish to that process.", file=sys.stderr)
    return store, True


def _publish_through_app(args: argparse.Namespace, tables, name: str, detail: dict, base_version: int) -> int:
    """Hand checked tables to the dashboard holding the database and say what it answered."""
    from .. import publish_inbox

    db = Path(args.db or storage.default_db_path())
    request = publish_inbox.submit(db, tables, name, args.note or "", args.user, detail, base_version)
    print(f"Handed the publish to the running dashboard; waiting up to {args.wait:g} s for its answer.", file=sys.stderr)
    try:
        result = publish_inbox.wait_for_result(request, args.wait)
    except KeyboardInterrupt:
        if publish_inbox.withdraw(request):
            return fail("Stopped: the publish was taken back before the dashboard took it; nothing was written.")
        return fail("Stopped waiting, but the dashboard had already taken the publish: its Data page shows whether a new "
                     "version was published.")
    if result is None:
        return fail(f"The database {db} is held by another process, which did not take the publish handed to it: is it "
                     "a dashboard of this version (older ones do not take publishes from the command line)? DuckDB lets "
                     "one process write to a database at a time, so stop that process and run this again, retry in a "
                     "moment, or publish on the app's Data page. Nothing was written.")
    if "version_id" in result:
        print(f"Published dataset version {result['version_id']} ({name}) through the running dashboard.")
        return 0
    if "already" in result:
        print(result.get("message") or f"These data are already dataset version {result['already']}; nothing new was published.")
        return 0
    return fail(result.get("error") or "The running dashboard did not publish these data; nothing was written.")
