"""Reading an uploaded file (CSV, XLSX or Parquet) into a table of text cells, with its size bounded
before anything is materialised: rows, columns, cells and unpacked bytes (``upload_limits``) are
checked from the Parquet footer, the XLSX zip directory and sheet (read by a small streaming reader:
openpyxl pads rows and holds them whole), or the CSV's lines, so a small compressed file that would
unpack to millions of rows is refused at once with a sentence. Validation is in uploads.py.

Files are read as researchers' spreadsheets save them in any locale: a CSV's encoding (UTF-8 with or without
BOM, UTF-16 with BOM, Windows-1252) and delimiter are found per file; an XLSX sheet can be chosen; the header
is the row set or the first holding the template's column names (title rows above it skipped, and said);
blank rows and empty columns (Excel leftovers) are dropped; hidden XLSX rows are refused. Rows keep their
number in the file. Numbers are brought to canonical text by ``normalise_numbers`` (spreadsheet_numbers.py).
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import re
import struct
import tempfile
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import duckdb
import numpy as np
import pandas as pd

from . import spreadsheet_numbers
from .ingestion import ValidationReport

MAX_UPLOAD_MB_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 20
# What an upload may hold once unpacked, checked before it is read into memory (a 100 KB Parquet or XLSX
# file can unpack to millions of rows). bench/upload_validation.py checks a 1,000,000-row, 8-column upload.
MAX_ROWS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_ROWS"
DEFAULT_MAX_ROWS = 1_000_000  # data rows, the header not counted
MAX_COLUMNS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_COLUMNS"
DEFAULT_MAX_COLUMNS = 100
MAX_CELLS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_CELLS"
DEFAULT_MAX_CELLS = 10_000_000  # data rows x columns
MAX_UNPACKED_MB_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UNPACKED_MB"
UNPACKED_PER_UPLOAD_MB = 10  # default: 10 x the upload limit (200 MB with the default 20 MB)
MAX_COMPRESSION_RATIO = 100  # a spreadsheet part that unpacks more than 100-fold is a zip bomb (real sheets: under 20)
MAX_XLSX_PARTS = 1_000  # files inside an XLSX (a workbook has about ten)
SPLIT_ADVICE = ("split it into files that each cover whole cities, products or materials (an upload replaces every "
                "row of what it covers) and upload them one after another")


def max_upload_bytes() -> int:
    return int(float(os.environ.get(MAX_UPLOAD_MB_ENV_VAR, DEFAULT_MAX_UPLOAD_MB)) * 1024 * 1024)


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may hold once unpacked: data rows, columns, cells (data rows x columns) and bytes."""

    rows: int
    columns: int
    cells: int
    unpacked_bytes: int


def upload_limits() -> UploadLimits:
    """The limits in force: each environment variable, or its default."""
    def setting(name: str, default: float) -> float:
        return float(os.environ.get(name, "").strip() or default)

    return UploadLimits(
        rows=int(setting(MAX_ROWS_ENV_VAR, DEFAULT_MAX_ROWS)),
        columns=int(setting(MAX_COLUMNS_ENV_VAR, DEFAULT_MAX_COLUMNS)),
        cells=int(setting(MAX_CELLS_ENV_VAR, DEFAULT_MAX_CELLS)),
        unpacked_bytes=int(setting(MAX_UNPACKED_MB_ENV_VAR, UNPACKED_PER_UPLOAD_MB * max_upload_bytes() / 2**20) * 2**20),
    )


class _TooLarge(ValueError):
    """An upload over a limit; the message is the sentence for the user."""


def _check_size(limits: UploadLimits, rows: int, columns: int, what: str = "the file holds") -> None:
    """Refuse a table of ``rows`` data rows and ``columns`` columns over the limits, before reading it."""
    if rows > limits.rows:
        raise _TooLarge(f"{what} {rows:,} rows; an upload holds at most {limits.rows:,} rows: {SPLIT_ADVICE}")
    if columns > limits.columns:
        raise _TooLarge(f"{what} {columns:,} columns; an upload holds at most {limits.columns:,} columns: "
                        "keep only the template's columns and upload again")
    if rows * columns > limits.cells:
        raise _TooLarge(f"{what} {rows * columns:,} cells ({rows:,} rows by {columns:,} columns); an upload holds at most "
                        f"{limits.cells:,} cells: remove the columns the template does not have, or {SPLIT_ADVICE}")


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.{1 if size < 10 * 2**20 else 0}f} MB"


def _check_unpacked(size: int, limits: UploadLimits, what: str = "the file unpacks to") -> None:
    if size > limits.unpacked_bytes:
        raise _TooLarge(f"{what} {_megabytes(size)}; an upload may unpack to at most {_megabytes(limits.unpacked_bytes)}: "
                        f"{SPLIT_ADVICE}")


class _Refused(ValueError):
    """A file that cannot be read as the researcher sent it; the message is the sentence for the user."""


@dataclass
class ReadTable:
    """An upload read as text cells. The index is the file's row number minus 2 (so validation, which names
    row = index + 2, names rows as the file shows them even when a title row or blank rows were skipped)."""

    frame: pd.DataFrame
    notes: list[str]  # what the reader decided and the researcher should know (skipped rows, encoding, sheet)
    kinds: pd.DataFrame | None = None  # per cell: "" (text), "number", "percent" or "date" (XLSX, Parquet)
    letters: dict[str, str] | None = None  # column name -> spreadsheet column letters (XLSX)


def _decode(content: bytes, notes: list[str]) -> str:
    """The text of a CSV as Excel or LibreOffice saved it: UTF-8 (with or without BOM), UTF-16 with BOM
    ("Unicode text"), or Windows-1252 / Windows-1250 (Excel's plain "CSV" in Western / Central Europe)."""
    binary = ("the file is not UTF-8 text, nor UTF-16 or Windows-1252 text: it holds binary data; "
              "save it as 'CSV UTF-8'")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError:
            raise _Refused("the file starts as UTF-16 text but is not; save it as 'CSV UTF-8'") from None
        notes.append("Read as UTF-16 text (Excel's 'Unicode text').")
    elif b"\x00" in content:
        raise _Refused(binary)
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode_windows(content, notes)
    if "\x00" in text:
        raise _Refused(binary)
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
        raise _Refused("the file is not UTF-8 text (nor Windows-1252 or Windows-1250 text); save it as 'CSV UTF-8'")
    notes.append("The file is not UTF-8: read as Windows-1252 text (Excel's plain 'CSV'). Check that letters "
                 "such as ä, ö and é look right below; if not, save it as 'CSV UTF-8'.")
    return western


DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 50  # a header is looked for in the file's first rows (title rows above it are skipped)


def _matches(row: list, expected: set[str]) -> int:
    return sum(1 for cell in row if str(cell).strip() in expected)


def _find_header(rows: list[list], expected: list[str] | None) -> int | None:
    """Position of the first row holding the most expected column names (at least two, or the only one); None
    when no row does."""
    if not expected:
        return None
    names = set(expected)
    counts = [_matches(row, names) for row in rows[:HEADER_SEARCH_ROWS]]
    best = max(counts, default=0)
    if best < min(2, len(names)):
        return None
    return counts.index(best)


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
        names = max((_matches(r, set(expected or ())) for r in rows), default=0)
        widths = [len(r) for r in rows]
        common = max(set(widths), key=widths.count) if widths else 1
        steady = widths.count(common) if common > 1 else 0
        scores.append((names, steady, common, -order, delimiter))
    return max(scores)[-1] if scores else ","


def _blank(frame: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is empty or only spaces (Excel leftovers such as ';;;;' rows)."""
    blank = pd.Series(True, index=frame.index)
    for column in frame.columns:  # each column checked only on the rows still blank (a full table: one pass)
        rows = blank[blank].index
        if not len(rows):
            break
        cells = frame.loc[rows, column] if len(rows) < len(frame) else frame[column]
        blank.loc[rows] = (cells.fillna("").astype(str).str.strip() == "").to_numpy()
    return blank


def _table(header: list, data: pd.DataFrame, kinds: pd.DataFrame | None, notes: list[str],
           letters: list[str] | None = None) -> ReadTable:
    """The table below ``header``: columns named as pandas names them (empty: 'Unnamed: n', repeated: '.1'),
    columns without a name and without a value dropped, rows without a value dropped (the index keeps each
    row's number in the file)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(header):
        name = str(cell).strip() if cell is not None and str(cell).strip() else f"Unnamed: {position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    data = data.copy()
    data.columns = names
    keep = [name for position, name in enumerate(names)
            if not (name.startswith("Unnamed: ") and str(header[position] or "").strip() == ""
                    and bool((data[name].fillna("").astype(str).str.strip() == "").all()))]
    data = data[keep]
    blank = _blank(data) if len(data) else pd.Series(dtype=bool)
    if len(data) and bool(blank.any()):
        data = data[~blank]
    if kinds is not None:
        kinds = kinds.copy()
        kinds.columns = names
        kinds = kinds.loc[data.index, keep]
    letter_map = None
    if letters is not None:
        letter_map = {name: letters[position] for position, name in enumerate(names) if name in keep}
    return ReadTable(data, notes, kinds, letter_map)


def _header_position(rows: list[list], expected: list[str] | None, options, what: str) -> int:
    """The header's position among ``rows`` (the file's first rows): the one the researcher set, or the first
    row holding the expected column names, or the first row with a value."""
    chosen = getattr(options, "header_row", None)
    if chosen:
        if int(chosen) < 1 or int(chosen) > len(rows):
            raise _Refused(f"the header row was set to {chosen}, but {what} has {len(rows)} row(s) at the top"
                           if int(chosen) >= 1 else "the header row is counted from 1")
        return int(chosen) - 1
    found = _find_header(rows, expected)
    if found is not None:
        return found
    return next((i for i, row in enumerate(rows) if any(str(c).strip() for c in row)), 0)


def _skipped_note(rows: list[list], position: int) -> list[str]:
    above = [" ".join(str(c).strip() for c in row if str(c).strip()) for row in rows[:position]]
    texts = [t for t in above if t]
    if not texts:
        return []
    shown = "; ".join(repr(t[:60]) for t in texts[:3]) + (" ..." if len(texts) > 3 else "")
    return [(f"The header is row {position + 1}: the {position} row(s) above it were skipped ({shown}). "
             "Set the header row if this is wrong.")]


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
    position = _header_position(rows, expected, options, "the file") if rows else 0
    skip = lines_before[position] if rows else 0
    if position and not getattr(options, "header_row", None):
        notes.extend(_skipped_note(rows, position))
    columns = max((len(r) for r in rows[position:]), default=1)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    data_rows = lines - skip - 1  # at most this many: blank lines and quoted line breaks count
    if data_rows > limits.rows or data_rows * columns > limits.cells:  # over on lines: count the records themselves
        data_rows = sum(1 for record in csv.reader(io.StringIO(text), delimiter=delimiter) if any(record)) - position - 1
    _check_size(limits, max(data_rows, 0), len(rows[position]) if rows else columns)

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
    return _table(header, data, None, notes)


def _read_parquet(path: str, limits: UploadLimits) -> pd.DataFrame:
    """A Parquet table, refused from its footer (rows, columns, values, unpacked bytes) and from the length of its
    text (repeated text is stored once in the file but once per cell in memory) before it is read."""
    with duckdb.connect() as con:
        rows = int(con.execute("SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(?)", [path]).fetchone()[0])
        columns = [d[0] for d in con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [path]).description]
        _check_size(limits, rows, len(columns))
        unpacked, values = con.execute("SELECT coalesce(sum(total_uncompressed_size), 0), coalesce(sum(num_values), 0) "
                                       "FROM parquet_metadata(?)", [path]).fetchone()
        _check_unpacked(int(unpacked), limits)
        if int(values) > limits.cells:
            raise _TooLarge(f"the file holds {int(values):,} values (every item of a list counts); an upload holds at most "
                            f"{limits.cells:,} cells: {SPLIT_ADVICE}")
        if columns:
            lengths = " + ".join(f"coalesce(sum(strlen(TRY_CAST(\"{c.replace(chr(34), chr(34) * 2)}\" AS VARCHAR))), 0)"
                                 for c in columns)
            _check_unpacked(int(con.execute(f"SELECT {lengths} FROM read_parquet(?)", [path]).fetchone()[0]), limits,
                            "the file's cells hold text of")
        return con.execute("SELECT * FROM read_parquet(?)", [path]).df()


_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d*)")
_XML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def _unescape(text: str) -> str:
    """Spreadsheet text escapes characters XML cannot hold as _xHHHH_."""
    return _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _number_text(text: str) -> str:
    """A numeric cell as pandas shows it: whole numbers without decimals, others as the shortest float text."""
    if text.isdigit():
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _parse_xml(archive: zipfile.ZipFile, name: str, start=None, end=None, text=None) -> None:
    """Stream one XML part of a workbook through expat, 64 KB at a time: no tree is built, and a handler
    stops the parse by raising. Document type declarations (entity expansion) are refused."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16

    def refuse(*_args) -> None:
        raise ValueError(f"{name} declares a document type, which a spreadsheet never does")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    with archive.open(name) as stream:
        while chunk := stream.read(1 << 16):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _open_xlsx(content: bytes, limits: UploadLimits) -> zipfile.ZipFile:
    """The workbook's zip archive, refused from its directory alone when it unpacks to too much or is a zip bomb."""
    refusal = ("so it is not an ordinary spreadsheet: open it in your spreadsheet program and save it again as XLSX, "
               "or save it as CSV")
    tail = content[-(65_535 + 22):]
    at = tail.rfind(b"PK\x05\x06")  # end of the zip directory: how many parts and how long the directory is
    if at >= 0 and len(tail) >= at + 16:
        parts, directory_bytes = struct.unpack("<H", tail[at + 10:at + 12])[0], struct.unpack("<I", tail[at + 12:at + 16])[0]
        if parts > MAX_XLSX_PARTS or directory_bytes > MAX_XLSX_PARTS * 1024:
            raise _TooLarge(f"the file holds {parts:,} parts (a workbook holds about ten, at most {MAX_XLSX_PARTS:,}), {refusal}")
    archive = zipfile.ZipFile(io.BytesIO(content))
    infos = archive.infolist()
    if len(infos) > MAX_XLSX_PARTS:
        raise _TooLarge(f"the file holds {len(infos):,} parts (a workbook holds about ten, at most {MAX_XLSX_PARTS:,}), {refusal}")
    _check_unpacked(sum(info.file_size for info in infos), limits)
    for info in infos:
        if info.file_size > 2**20 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise _TooLarge(f"its part {info.filename[:80]!r} unpacks {info.file_size / max(info.compress_size, 1):,.0f}-fold "
                            f"(a spreadsheet unpacks at most {MAX_COMPRESSION_RATIO}-fold), {refusal}")
    return archive  # zipfile stops every part at its stated size, so the sizes checked are the most it unpacks


def _xlsx_parts(archive: zipfile.ZipFile, wanted: str | None = None) -> tuple[str, str | None, str, list[str], str | None]:
    """The chosen worksheet's part (``wanted`` by name, or the first), the shared strings' and styles' parts (if
    any), the sheet's name and every sheet's name, found as Excel finds them."""
    names = set(archive.namelist())

    def relationships(part: str) -> dict[str, tuple[str, str]]:
        folder, _, base = part.rpartition("/")
        rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
        found: dict[str, tuple[str, str]] = {}

        def start(name, attrs):
            if name.rpartition(":")[2] == "Relationship":
                target = attrs.get("Target", "")
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
                found[attrs.get("Id", "")] = (attrs.get("Type", ""), path)

        if rels in names:
            _parse_xml(archive, rels, start)
        return found

    workbook = next((p for t, p in relationships("").values() if t.endswith("/officeDocument") and p in names),
                    "xl/workbook.xml")
    if workbook not in names:
        raise ValueError("it holds no workbook")
    links = relationships(workbook)
    sheets: list[tuple[str, str]] = []  # (name, relationship id)

    def start(name, attrs):
        if name.rpartition(":")[2] == "sheet":
            sheets.append((attrs.get("name", ""), next((v for k, v in attrs.items() if k.endswith(":id") or k == "id"), "")))

    _parse_xml(archive, workbook, start)
    worksheets = [(n, links[i][1]) for n, i in sheets if i in links and links[i][0].endswith("/worksheet") and links[i][1] in names]
    if not worksheets:
        raise ValueError("it holds no worksheet")
    sheet_names = [n for n, _ in worksheets]
    if wanted:
        chosen = next((w for w in worksheets if w[0] == wanted), None) or \
            next((w for w in worksheets if w[0].strip().casefold() == wanted.strip().casefold()), None)
        if chosen is None:
            raise _Refused(f"the workbook has no sheet {wanted!r}; its sheets are: {', '.join(map(repr, sheet_names))}")
    else:
        chosen = worksheets[0]
    strings = next((p for t, p in links.values() if t.endswith("/sharedStrings") and p in names), None)
    styles = next((p for t, p in links.values() if t.endswith("/styles") and p in names), None)
    return chosen[1], strings, chosen[0], sheet_names, styles


# Built-in number formats (ECMA-376 18.8.30): dates and times, and percentages.
_DATE_FORMATS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | set(range(50, 59))
_PERCENT_FORMATS = {9, 10}


def _style_kinds(archive: zipfile.ZipFile, part: str | None) -> dict[int, str]:
    """Cell style index -> "date" or "percent" for styles whose number format shows a date, a time or a percentage."""
    if part is None:
        return {}
    custom: dict[int, str] = {}
    formats: list[int] = []
    state = {"in_xfs": False}

    def start(name, attrs):
        tag = name.rpartition(":")[2]
        if tag == "numFmt":
            custom[int(attrs.get("numFmtId", "0") or 0)] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            state["in_xfs"] = True
        elif tag == "xf" and state["in_xfs"]:
            formats.append(int(attrs.get("numFmtId", "0") or 0))

    def end(name):
        if name.rpartition(":")[2] == "cellXfs":
            state["in_xfs"] = False

    _parse_xml(archive, part, start, end)
    kinds: dict[int, str] = {}
    for index, number_format in enumerate(formats):
        code = custom.get(number_format)
        if code is not None:
            bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code)  # quoted text, escapes and [colour]/[locale] parts
            if "%" in bare:
                kinds[index] = "percent"
            elif re.search(r"[dmyhsDMYHS]", bare.split(";")[0]) and not re.fullmatch(r"[#0.,\s]*[Ee][+-][0#]+", bare):
                kinds[index] = "date"
        elif number_format in _DATE_FORMATS:
            kinds[index] = "date"
        elif number_format in _PERCENT_FORMATS:
            kinds[index] = "percent"
    return kinds


class _SheetReader:
    """The first worksheet's cells, read by expat event by event and refused as soon as a limit is passed:
    the sheet's stated range, a value beyond the last row or column allowed, too many cells. Only cells
    with a value are kept (shared text as its index), in compact arrays."""

    def __init__(self, limits: UploadLimits, what: str = "the first sheet"):
        self.limits = limits
        self.what = what
        self.rows, self.columns, self.values = array("i"), array("i"), []
        self.styles = array("i")  # per kept cell: its style index (-1: none), for dates and percentages
        self.hidden_rows: list[int] = []
        self.style = -1
        self.last_row = self.last_column = 0
        self.row = self.column = self.cell_elements = 0
        self.row_numbered = False  # the <row> element gave its number: cell references need not be read for it
        self.kind = "n"
        self.parts: list[str] = []
        self.capture = self.in_inline = self.in_phonetic = False
        self.local_names: dict[str, str] = {}  # element name as written (maybe prefixed) -> local name
        self.column_numbers: dict[str, int] = {}  # column letters -> number
        self.most_cell_elements = limits.cells + limits.columns  # the data cells and a header row

    def local(self, name: str) -> str:
        local = self.local_names[name] = name.rpartition(":")[2]
        return local

    def start(self, name: str, attrs: dict) -> None:
        tag = self.local_names.get(name) or self.local(name)
        if tag == "c":
            self.cell_elements += 1
            if self.cell_elements > self.most_cell_elements:
                raise _TooLarge(f"{self.what} holds more than {self.limits.cells:,} cells (empty formatted cells "
                                "included); an upload holds at most that many: copy only the table into a new workbook, "
                                f"or {SPLIT_ADVICE}")
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                column = self.column_numbers.get(letters)
                if column is None:
                    column = self.column_numbers[letters] = _column_number(letters) if letters.isalpha() else self.column + 1
                self.column = column
                if not self.row_numbered and ref[len(letters):].isdigit():
                    self.row = int(ref[len(letters):])
            else:
                self.column += 1
            self.kind = attrs.get("t", "n")
            style = attrs.get("s", "")
            self.style = int(style) if style.isdigit() else -1
            self.parts = []
        elif tag == "v":
            self.capture = True
        elif tag == "row":
            number = attrs.get("r", "")
            self.row_numbered = number.isdigit()
            self.row = int(number) if self.row_numbered else self.row + 1
            self.column = 0
            if attrs.get("hidden") in ("1", "true"):
                self.hidden_rows.append(self.row)
        elif tag == "is":
            self.in_inline = True
        elif tag == "t":
            self.capture = self.in_inline and not self.in_phonetic
        elif tag == "rPh":
            self.in_phonetic = True
        elif tag == "dimension":
            last = _CELL_REF.fullmatch(attrs.get("ref", "").rpartition(":")[2])
            if last and last.group(2):
                _check_size(self.limits, int(last.group(2)) - 1, _column_number(last.group(1)),
                            f"{self.what} (its range {attrs['ref'][:40]}) holds")

    def end(self, name: str) -> None:
        tag = self.local_names.get(name) or self.local(name)
        if tag == "c":
            if self.parts:
                self.cell("".join(self.parts))
        elif tag == "v" or tag == "t":
            self.capture = False
        elif tag == "is":
            self.in_inline = False
        elif tag == "rPh":
            self.in_phonetic = False

    def text(self, data: str) -> None:
        if self.capture:
            self.parts.append(data)

    def cell(self, text: str) -> None:
        kind = self.kind
        if kind == "n":
            value: str | int = text if text.isdigit() else _number_text(text.strip())
        elif kind == "s":
            value = int(text)
        elif kind == "b":
            value = "True" if text.strip() in ("1", "true") else "False"
        else:  # inlineStr, str (a formula's text), e (an error such as #N/A), d (a date as text)
            value = text
        row, column, limits = self.row or 1, self.column or 1, self.limits
        if row > self.last_row or column > self.last_column:
            if row - 1 > limits.rows:
                raise _TooLarge(f"{self.what} has a value in row {row:,}; an upload holds at most {limits.rows:,} "
                                f"rows below its header: {SPLIT_ADVICE}")
            if column > limits.columns:
                raise _TooLarge(f"{self.what} has a value in column {column:,}; an upload holds at most "
                                f"{limits.columns:,} columns: keep only the template's columns and upload again")
            self.last_row, self.last_column = max(row, self.last_row), max(column, self.last_column)
            _check_size(limits, self.last_row - 1, self.last_column, f"{self.what} holds at least")
        self.styles.append(-2 if kind == "d" else self.style if kind == "n" else -3)  # -2: a date cell; -3: text
        self.rows.append(row)
        self.columns.append(column)
        self.values.append(value)


def _shared_strings(archive: zipfile.ZipFile, part: str, needed: int) -> list[str]:
    """The workbook's shared texts up to index ``needed`` (those past the last one used are not read)."""
    strings: list[str] = []
    state = {"parts": [], "capture": False, "phonetic": False}

    class Enough(Exception):
        pass

    def start(name, _attrs):
        name = name.rpartition(":")[2]
        if name == "si":
            state["parts"] = []
        elif name == "t":
            state["capture"] = not state["phonetic"]
        elif name == "rPh":
            state["phonetic"] = True

    def end(name):
        name = name.rpartition(":")[2]
        if name == "si":
            strings.append(_unescape("".join(state["parts"])))  # as openpyxl: escapes undone in shared text only
            if len(strings) > needed:
                raise Enough
        elif name == "t":
            state["capture"] = False
        elif name == "rPh":
            state["phonetic"] = False

    def text(data):
        if state["capture"]:
            state["parts"].append(data)

    try:
        _parse_xml(archive, part, start, end, text)
    except Enough:
        pass
    return strings


def _read_xlsx(content: bytes, limits: UploadLimits, expected: list[str] | None = None, options=None,
               notes: list[str] | None = None) -> ReadTable:
    """The chosen worksheet (``options.sheet``, default the first) as text cells, read without ever holding more
    than the limits allow: the header is the row set (``options.header_row``) or the first row holding the
    expected column names (rows above it skipped, and said), rows and columns without a value dropped. Text is
    kept as written ('NA' stays 'NA', as in CSV); numbers as pandas shows them. A sheet with hidden (or filtered
    out) rows holding values is refused: a hidden draft row must never be published unseen."""
    notes = [] if notes is None else notes
    with _open_xlsx(content, limits) as archive:
        sheet_part, strings_part, sheet_name, sheet_names, styles_part = _xlsx_parts(archive, getattr(options, "sheet", None))
        chosen = bool(getattr(options, "sheet", None))
        what = f"the sheet {sheet_name!r}" if chosen else "the first sheet"
        sheet = _SheetReader(limits, what)
        _parse_xml(archive, sheet_part, sheet.start, sheet.end, sheet.text)
        values = sheet.values
        indices = [v for v in values if isinstance(v, int)]
        if indices:
            strings = _shared_strings(archive, strings_part, max(indices)) if strings_part else []
            if min(indices) < 0 or max(indices) >= len(strings):
                raise ValueError("a cell refers to shared text the workbook does not hold")
            text_length = 0
            for position, value in enumerate(values):
                if isinstance(value, int):
                    values[position] = strings[value]
                    text_length += len(strings[value])
            _check_unpacked(text_length, limits, f"{what}'s cells hold text of")
        style_kinds = _style_kinds(archive, styles_part) if any(s >= 0 for s in sheet.styles) else {}
    if len(sheet_names) > 1 and not chosen:
        notes.append(f"Read the first sheet {sheet_name!r}; the workbook also has "
                     f"{', '.join(map(repr, sheet_names[1:]))}. Choose another sheet in the upload if needed.")
    if not values:
        return ReadTable(pd.DataFrame(), notes)
    grid = np.full((sheet.last_row, sheet.last_column), "", dtype=object)
    cells = np.empty(len(values), dtype=object)
    cells[:] = values
    row_at = np.frombuffer(sheet.rows, dtype=np.int32) - 1
    column_at = np.frombuffer(sheet.columns, dtype=np.int32) - 1
    grid[row_at, column_at] = cells
    kinds = np.full(grid.shape, "", dtype=object)
    styles = np.frombuffer(sheet.styles, dtype=np.int32)
    numeric = styles != -3
    kinds[row_at[numeric], column_at[numeric]] = "number"
    for style, kind in [(-2, "date"), *style_kinds.items()]:
        hit = styles == style
        if hit.any():
            kinds[row_at[hit], column_at[hit]] = kind
    head = [list(row) for row in grid[:HEADER_SEARCH_ROWS]]
    position = _header_position(head, expected, options, what)
    if position and not getattr(options, "header_row", None):
        notes.extend(_skipped_note(head, position))
    hidden = [r for r in sorted(set(sheet.hidden_rows)) if position + 1 < r <= sheet.last_row
              and any(str(c).strip() for c in grid[r - 1])]
    if hidden:
        shown = ", ".join(map(str, hidden[:20])) + (f" and {len(hidden) - 20:,} more" if len(hidden) > 20 else "")
        raise _Refused(f"{what} has hidden (or filtered out) rows holding values: row(s) {shown}. Hidden rows are never "
                       "read unseen: show them (Unhide, or clear the filter), delete the ones that are not data, and "
                       "upload again")
    index = np.arange(position + 1, sheet.last_row) - 1  # the file's row number minus 2
    data = pd.DataFrame(grid[position + 1:], index=index, dtype=object)
    kind_frame = pd.DataFrame(kinds[position + 1:], index=index, dtype=object)
    letters = [_column_letters(i + 1) for i in range(sheet.last_column)]
    table = _table(list(grid[position]), data, kind_frame, notes, letters)
    table.frame = table.frame.astype(str)
    return table


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


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
            table = _read_xlsx(content, limits, expected, options, notes)
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
    except (_TooLarge, _Refused) as exc:  # over a limit or unreadable as sent: said before anything large was read
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


def _file_decimal_mark(table: ReadTable, columns, decimal: str) -> str:
    """The decimal mark the file's unambiguous numbers show ("7,5" or "0.25"), when they all show the same
    one (a file cannot use one mark both as decimal mark and to separate thousands); else ``decimal``.
    Only text cells count: a number stored as a number shows no locale."""
    evidence: dict[str, str] = {}
    for column in columns:
        if column.kind not in ("float", "int") or column.name not in table.frame.columns:
            continue
        written = table.frame[column.name].head(10_000)
        if table.kinds is not None and column.name in table.kinds.columns:
            written = written[(table.kinds[column.name].reindex(written.index).astype(object).fillna("") == "").to_numpy()]
        for mark, cell in spreadsheet_numbers.decimal_evidence(v for v in written if isinstance(v, str) and v.strip()).items():
            evidence.setdefault(mark, cell)
    if len(evidence) != 1:
        return decimal
    mark, cell = next(iter(evidence.items()))
    table.notes.append(f"The file writes decimals with '{mark}' (e.g. {cell!r}), so numbers such as '12{mark}500' are read "
                       f"with '{mark}' as decimal mark. Set the decimal mark in the upload if that is wrong.")
    return mark


def normalise_numbers(table: ReadTable, columns, options, report: ValidationReport, label: str) -> pd.DataFrame:
    """The table with every number in the numeric ``columns`` (ingestion.Column) as canonical text ("1234.5"),
    whatever locale wrote it (spreadsheet_numbers), share columns in percent divided by 100 when the upload
    says so. Cells that cannot be read safely (ambiguous "12.500", "45 %" without 'shares in percent', a
    date) are reported naming row, column and cell; their rows are left out of what is validated next, so
    the other rows' problems are still all reported at once."""
    frame = table.frame
    decimal = getattr(options, "decimal", "auto") or "auto"
    if decimal not in spreadsheet_numbers.DECIMAL_MARKS:
        report.add(label, None, None, decimal, "the decimal mark must be '.', ',' or 'auto'")
        return frame.iloc[0:0]
    percent_shares = bool(getattr(options, "percent_shares", False))
    if decimal == "auto":  # the file's own numbers may tell its decimal mark: then "12.500" is not ambiguous
        decimal = _file_decimal_mark(table, columns, decimal)
    refused: set = set()
    out = frame.copy()
    for column in columns:
        if column.kind not in ("float", "int") or column.name not in frame.columns:
            continue
        share = spreadsheet_numbers.is_share(column.kind, column.min_value, column.max_value)
        typed = table.kinds[column.name] if table.kinds is not None and column.name in table.kinds.columns else None
        values, problems = spreadsheet_numbers.normalise_column(frame[column.name], decimal, share, percent_shares, typed)
        out[column.name] = values
        if problems:
            written = frame[column.name].head(10_000)  # text cells only: a number stored as a number shows no locale
            if typed is not None:
                written = written[(typed.reindex(written.index).astype(object).fillna("") == "").to_numpy()]
            evidence = spreadsheet_numbers.decimal_evidence(
                v for v in written if isinstance(v, str) and v.strip()) if decimal == "auto" else {}
            for idx, rule in problems.items():
                if "ambiguous" in rule and len(evidence) == 1:
                    mark, cell = next(iter(evidence.items()))
                    rule += f" (other numbers in this column use '{mark}' as decimal mark, e.g. {cell!r})"
                cell = f"cell {table.letters[column.name]}{int(idx) + 2}" if table.letters and column.name in table.letters else ""
                if rule.startswith(("is ", "has ", "repeats ")):
                    rule = f"{cell or 'the number'} {rule}"
                elif cell:
                    rule = f"{rule} ({cell})"
                report.add(label, int(idx) + 2, column.name, frame.at[idx, column.name], rule)
            refused.update(problems)
    if percent_shares:
        for column in columns:
            if (column.name in out.columns and spreadsheet_numbers.is_share(column.kind, column.min_value, column.max_value)):
                numbers = pd.to_numeric(out[column.name], errors="coerce")
                if numbers.notna().any() and float(numbers.max()) <= 0.01 and float(numbers.max()) > 0:
                    table.notes.append(f"'Shares in percent' is set, and column '{column.name}' then holds only values up to "
                                       "1 % (0.01): if the file writes shares as fractions (0.45), clear the setting.")
    if refused:
        out = out.drop(index=list(refused))
    return out
