"""Reading an uploaded file (CSV, XLSX or Parquet) into a table of text cells, with its size bounded
before anything is materialised: rows, columns, cells and unpacked bytes (``upload_limits``) are
checked from the Parquet footer, the XLSX zip directory and sheet (read by a small streaming reader:
openpyxl pads rows and holds them whole), or the CSV's lines, so a small compressed file that would
unpack to millions of rows is refused at once with a sentence. Validation is in uploads.py.
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


def _read_csv(text: str, limits: UploadLimits) -> pd.DataFrame:
    """A CSV table as text cells; its lines and header counted before pandas parses it."""
    first = re.match(r"[^\r\n]*", text).group()
    try:
        delimiter = csv.Sniffer().sniff(first[:65_536], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    columns = len(next(csv.reader([first], delimiter=delimiter), []))
    rows = text.count("\n") + (0 if text.endswith("\n") else 1) - 1  # at most this many: blank lines and quoted line breaks count
    if rows > limits.rows or rows * columns > limits.cells:  # over on lines: count the records themselves
        rows = sum(1 for record in csv.reader(io.StringIO(text), delimiter=delimiter) if any(record)) - 1
    _check_size(limits, max(rows, 0), columns)
    return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)


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


def _xlsx_parts(archive: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's part and the shared strings' part (if any), found as Excel finds them."""
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
    sheet_ids: list[str] = []

    def start(name, attrs):
        if name.rpartition(":")[2] == "sheet":
            sheet_ids.append(next((v for k, v in attrs.items() if k.endswith(":id") or k == "id"), ""))

    _parse_xml(archive, workbook, start)
    sheet = next((links[i][1] for i in sheet_ids if i in links and links[i][0].endswith("/worksheet") and links[i][1] in names),
                 None)
    if sheet is None:
        raise ValueError("it holds no worksheet")
    strings = next((p for t, p in links.values() if t.endswith("/sharedStrings") and p in names), None)
    return sheet, strings


class _SheetReader:
    """The first worksheet's cells, read by expat event by event and refused as soon as a limit is passed:
    the sheet's stated range, a value beyond the last row or column allowed, too many cells. Only cells
    with a value are kept (shared text as its index), in compact arrays."""

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.rows, self.columns, self.values = array("i"), array("i"), []
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
                raise _TooLarge(f"the first sheet holds more than {self.limits.cells:,} cells (empty formatted cells "
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
            self.parts = []
        elif tag == "v":
            self.capture = True
        elif tag == "row":
            number = attrs.get("r", "")
            self.row_numbered = number.isdigit()
            self.row = int(number) if self.row_numbered else self.row + 1
            self.column = 0
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
                            f"the first sheet (its range {attrs['ref'][:40]}) holds")

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
                raise _TooLarge(f"the first sheet has a value in row {row:,}; an upload holds at most {limits.rows:,} "
                                f"rows below its header: {SPLIT_ADVICE}")
            if column > limits.columns:
                raise _TooLarge(f"the first sheet has a value in column {column:,}; an upload holds at most "
                                f"{limits.columns:,} columns: keep only the template's columns and upload again")
            self.last_row, self.last_column = max(row, self.last_row), max(column, self.last_column)
            _check_size(limits, self.last_row - 1, self.last_column, "the first sheet holds at least")
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


def _read_xlsx(content: bytes, limits: UploadLimits) -> pd.DataFrame:
    """The first worksheet as text cells, as pandas.read_excel(dtype=str) shows it (the header is row 1, empty
    rows in between kept, empty rows and columns at the end dropped), read without ever holding more than the
    limits allow. Text is kept as written ('NA' stays 'NA', as in CSV)."""
    with _open_xlsx(content, limits) as archive:
        sheet_part, strings_part = _xlsx_parts(archive)
        sheet = _SheetReader(limits)
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
            _check_unpacked(text_length, limits, "the first sheet's cells hold text of")
    if not values:
        return pd.DataFrame()
    grid = np.full((sheet.last_row, sheet.last_column), "", dtype=object)
    cells = np.empty(len(values), dtype=object)
    cells[:] = values
    grid[np.frombuffer(sheet.rows, dtype=np.int32) - 1, np.frombuffer(sheet.columns, dtype=np.int32) - 1] = cells
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, header in enumerate(grid[0]):
        name = str(header) if header != "" else f"Unnamed: {position}"
        if name in seen:  # as pandas does: a repeated name gets .1, .2, ...
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    return pd.DataFrame(grid[1:], columns=names, dtype=str)


def read_upload(content: bytes, filename: str, report: ValidationReport, label: str) -> pd.DataFrame | None:
    """The uploaded file as a table of text cells, or None with the reason in ``report``."""
    def fail(rule: str) -> None:
        report.add(label, None, None, None, rule)

    if len(content) > max_upload_bytes():
        fail(f"the file is {len(content) / 2**20:.1f} MB; the limit is {max_upload_bytes() / 2**20:g} MB")
        return None
    if not content.strip():
        fail("the file is empty")
        return None
    suffix = Path(filename).suffix.lower()
    limits = upload_limits()
    try:
        if suffix in (".csv", ".txt"):
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                fail("the file is not UTF-8 text; save it as 'CSV UTF-8'")
                return None
            if "\x00" in text:
                fail("the file is not a text table (it holds binary data)")
                return None
            frame = _read_csv(text, limits)
        elif suffix == ".xlsx":
            frame = _read_xlsx(content, limits)
        elif suffix == ".parquet":
            with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
                handle.write(content)
                handle.flush()
                frame = _read_parquet(handle.name, limits)
            frame = frame.astype(str).replace({"nan": "", "None": "", "<NA>": ""})
        else:
            fail(f"'{suffix or filename}' files are not accepted; use CSV, XLSX or Parquet")
            return None
    except _TooLarge as exc:  # over a limit: said before anything large was read
        fail(str(exc))
        return None
    except MemoryError:
        fail(f"the file is too large to read once unpacked: {SPLIT_ADVICE}")
        return None
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem, said in a sentence
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        fail(f"the file cannot be read as a {suffix.lstrip('.').upper()} table ({detail[:160]})")
        return None
    if frame.empty and len(frame.columns) == 0:
        fail("the file holds no table")
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
