"""Reading an uploaded file (CSV, XLSX or Parquet) into a table of text cells, with its size bounded
before anything is materialised: rows, columns, cells and unpacked bytes (``upload_limits``) are
checked from the Parquet footer, the XLSX zip directory and sheet (``xlsx_reader``), or the CSV's lines,
so a small compressed file that would unpack to millions of rows is refused at once with a sentence.
This module owns ``read_table`` (which reader, and the sentence when a file cannot be read), the CSV reader
and the Parquet reader. Validation is in uploads.py.

Files are read as researchers' spreadsheets save them in any locale: a CSV's encoding (UTF-8 with or without
BOM, UTF-16 with BOM, Windows-1252) and delimiter are found per file; an XLSX sheet can be chosen; the header
is the row set or the first holding the template's column names (``text_table``: title rows above it skipped,
and said); blank rows and empty columns (Excel leftovers) are dropped; hidden XLSX rows are refused. Rows keep
their number in the file. Numbers are brought to canonical text by ``upload_numbers.normalise_numbers``.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .text_table import HEADER_SEARCH_ROWS, ReadTable, header_position, matches, skipped_note, table_below_header
from .upload_limits import (SPLIT_ADVICE, Refused, TooLarge, UploadLimits, check_size, check_unpacked, max_upload_bytes,
                            upload_limits)
from .validation_report import ValidationReport
from .xlsx_reader import read_xlsx

def _decode(content: bytes, notes: list[str]) -> str:
    """The text of a CSV as Excel or LibreOffice saved it: UTF-8 (with or without BOM), UTF-16 with BOM
    ("Unicode text"), or Windows-1252 / Windows-1250 (Excel's plain "CSV" in Western / Central Europe)."""
    binary = ("the file is not UTF-8 text, nor UTF-16 or Windows-1252 text: it holds binary data; "
              "save it as 'CSV UTF-8'")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError:
            raise Refused("the file starts as UTF-16 text but is not; save it as 'CSV UTF-8'") from None
        notes.append("Read as UTF-16 text (Excel's 'Unicode text').")
    elif b"\x00" in content:
        raise Refused(binary)
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode_windows(content, notes)
    if "\x00" in text:
        raise Refused(binary)
    return text.lstrip("\ufeff")


# Windows-1252 letters that are Windows-1250 letters of Polish, Czech or Slovak (ł ą ż ź Ą ľ Ľ) misread: a word
# such as "Wroc³aw" or "Bia³ystok" says the file is Central European (Excel's plain "CSV" in Poland).
_CENTRAL_EUROPEAN_MISREADS = re.compile(r"(?<=[^\W\d_])[³¹¿Ÿ¥¼¾]|[³¹¿Ÿ¥¼¾](?=[^\W\d_])")


def _decode_windows(content: bytes, notes: list[str]) -> str:
    """Text that is not UTF-8, as Excel's plain "CSV" saves it: Windows-1250 (Central Europe) when reading it
    as Windows-1252 (Western Europe) puts symbols inside words, otherwise Windows-1252. Said in a note."""
    try:
        western = content.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is None or _CENTRAL_EUROPEAN_MISREADS.search(western):
        try:
            text = content.decode("cp1250")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            notes.append("The file is not UTF-8: read as Windows-1250 text (Excel's plain 'CSV' in Central Europe). "
                         "Check that letters such as ł, ś and ż look right below; if not, save it as 'CSV UTF-8'.")
            return text
    if western is None:
        raise Refused("the file is not UTF-8 text (nor Windows-1252 or Windows-1250 text); save it as 'CSV UTF-8'")
    notes.append("The file is not UTF-8: read as Windows-1252 text (Excel's plain 'CSV'). Check that letters "
                 "such as ä, ö and é look right below; if not, save it as 'CSV UTF-8'.")
    return western


DELIMITERS = (",", ";", "\t", "|")


def _sniff(text: str, expected: list[str] | None) -> str:
    """The delimiter that splits the file's first lines into the expected column names, or else into the same
    number of fields on most lines."""
    head = "\n".join(text[:65_536].splitlines()[:HEADER_SEARCH_ROWS])
    scores = []
    for order, delimiter in enumerate(DELIMITERS):
        try:
            rows = [r for r in csv.reader(io.StringIO(head), delimiter=delimiter) if any(c.strip() for c in r)]
        except csv.Error:  # this delimiter does not make a table of the first lines
            continue
        names = max((matches(r, set(expected or ())) for r in rows), default=0)
        widths = [len(r) for r in rows]
        common = max(set(widths), key=widths.count) if widths else 1
        steady = widths.count(common) if common > 1 else 0
        scores.append((names, steady, common, -order, delimiter))
    return max(scores)[-1] if scores else ","


def _read_csv(text: str, limits: UploadLimits, expected: list[str] | None = None, options=None,
              notes: list[str] | None = None) -> ReadTable:
    """A CSV table as text cells: delimiter found per file, title rows above the header skipped (and said),
    blank rows and empty columns dropped; its lines and header counted before pandas parses it."""
    notes = [] if notes is None else notes
    delimiter = _sniff(text, expected)
    head = "\n".join(text[:262_144].splitlines()[:HEADER_SEARCH_ROWS])
    reader = csv.reader(io.StringIO(head), delimiter=delimiter)
    rows, lines_before = [], []
    for _ in range(HEADER_SEARCH_ROWS):
        lines_before.append(reader.line_num)
        try:
            rows.append(next(reader))
        except (StopIteration, csv.Error):
            lines_before.pop()
            break
    position = header_position(rows, expected, options, "the file") if rows else 0
    skip = lines_before[position] if rows else 0
    if position and not getattr(options, "header_row", None):
        notes.extend(skipped_note(rows, position))
    columns = max((len(r) for r in rows[position:]), default=1)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    data_rows = lines - skip - 1  # at most this many: blank lines and quoted line breaks count
    if data_rows > limits.rows or data_rows * columns > limits.cells:  # over on lines: count the records themselves
        data_rows = sum(1 for record in csv.reader(io.StringIO(text), delimiter=delimiter) if any(record)) - position - 1
    check_size(limits, max(data_rows, 0), len(rows[position]) if rows else columns)

    def parse(width: int) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=list(range(width)), index_col=False,
                           skiprows=skip, dtype=str, keep_default_na=False, skip_blank_lines=False)

    try:
        grid = parse(columns)
    except pd.errors.ParserError as exc:  # a longer row further down: read every record's width once
        if "Expected" not in str(exc):
            raise
        columns = max(len(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter))
        grid = parse(columns)
    grid = grid.fillna("")
    if grid.empty:
        return ReadTable(pd.DataFrame(), notes)
    header = list(grid.iloc[0])
    data = grid.iloc[1:]
    data.index = np.arange(len(data)) + skip  # the file's row number minus 2 (header at line skip + 1)
    return table_below_header(header, data, None, notes)


def _read_parquet(path: str, limits: UploadLimits) -> pd.DataFrame:
    """A Parquet table, refused from its footer (rows, columns, values, unpacked bytes) and from the length of its
    text (repeated text is stored once in the file but once per cell in memory) before it is read."""
    with duckdb.connect() as con:
        rows = int(con.execute("SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(?)", [path]).fetchone()[0])
        columns = [d[0] for d in con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [path]).description]
        check_size(limits, rows, len(columns))
        unpacked, values = con.execute("SELECT coalesce(sum(total_uncompressed_size), 0), coalesce(sum(num_values), 0) "
                                       "FROM parquet_metadata(?)", [path]).fetchone()
        check_unpacked(int(unpacked), limits)
        if int(values) > limits.cells:
            raise TooLarge(f"the file holds {int(values):,} values (every item of a list counts); an upload holds at most "
                            f"{limits.cells:,} cells: {SPLIT_ADVICE}")
        if columns:
            lengths = " + ".join(f"coalesce(sum(strlen(TRY_CAST(\"{c.replace(chr(34), chr(34) * 2)}\" AS VARCHAR))), 0)"
                                 for c in columns)
            check_unpacked(int(con.execute(f"SELECT {lengths} FROM read_parquet(?)", [path]).fetchone()[0]), limits,
                            "the file's cells hold text of")
        return con.execute("SELECT * FROM read_parquet(?)", [path]).df()


def read_table(content: bytes, filename: str, report: ValidationReport, label: str, options=None,
               expected: list[str] | None = None) -> ReadTable | None:
    """The uploaded file as a table of text cells with what the reader decided, or None with the reason in
    ``report``. ``options`` (uploads.UploadOptions) chooses an XLSX sheet and the header row; ``expected`` (the
    template's column names) finds the header below title rows and the CSV delimiter."""
    def fail(rule: str) -> None:
        report.add(label, None, None, None, rule)

    if len(content) > max_upload_bytes():
        fail(f"the file is {len(content) / 2**20:.1f} MB; the limit is {max_upload_bytes() / 2**20:g} MB")
        return None
    if not content.strip() or not content.replace(b"\xff\xfe", b"").replace(b"\xfe\xff", b"").replace(b"\x00", b"").strip():
        fail("the file is empty")
        return None
    suffix = Path(filename).suffix.lower()
    limits = upload_limits()
    notes: list[str] = []
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            table = _read_csv(_decode(content, notes), limits, expected, options, notes)
        elif suffix == ".xlsx":
            table = read_xlsx(content, limits, expected, options, notes)
        elif suffix == ".parquet":
            with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
                handle.write(content)
                handle.flush()
                frame = _read_parquet(handle.name, limits)
            numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
            frame = frame.astype(str).replace({"nan": "", "None": "", "<NA>": ""})
            kinds = pd.DataFrame({c: pd.Series("number" if c in numeric else "", index=frame.index, dtype="category")
                                  for c in frame.columns}, index=frame.index)
            table = ReadTable(frame, notes, kinds)
        else:
            fail(f"'{suffix or filename}' files are not accepted; use CSV, XLSX or Parquet")
            return None
    except (TooLarge, Refused) as exc:  # over a limit or unreadable as sent: said before anything large was read
        fail(str(exc))
        return None
    except MemoryError:
        fail(f"the file is too large to read once unpacked: {SPLIT_ADVICE}")
        return None
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem, said in a sentence
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        fail(f"the file cannot be read as a {suffix.lstrip('.').upper()} table ({detail[:160]})")
        return None
    frame = table.frame
    if frame.empty and len(frame.columns) == 0:
        fail("the file holds no table")
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    if table.kinds is not None:
        table.kinds.columns = list(frame.columns)
    return table


def read_upload(content: bytes, filename: str, report: ValidationReport, label: str, options=None,
                expected: list[str] | None = None) -> pd.DataFrame | None:
    """The uploaded file as a table of text cells, or None with the reason in ``report`` (see read_table)."""
    table = read_table(content, filename, report, label, options, expected)
    return None if table is None else table.frame
