"""Reading one worksheet of an uploaded XLSX workbook into text cells, within the upload limits.

This module owns a small streaming reader (expat, event by event; openpyxl pads rows and holds them whole):
the zip directory is checked before anything is unpacked, the sheet is chosen as Excel finds it, cells are
kept compactly and the read stops as soon as a limit is passed; number formats say which cells are dates or
percentages, and hidden rows holding values are refused.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
from array import array
from xml.parsers import expat

import numpy as np
import pandas as pd

from .text_table import HEADER_SEARCH_ROWS, ReadTable, header_position, skipped_note, table_below_header
from .upload_limits import (MAX_COMPRESSION_RATIO, MAX_XLSX_PARTS, SPLIT_ADVICE, Refused, TooLarge, UploadLimits,
                            check_size, check_unpacked)


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
            raise TooLarge(f"the file holds {parts:,} parts (a workbook holds about ten, at most {MAX_XLSX_PARTS:,}), {refusal}")
    archive = zipfile.ZipFile(io.BytesIO(content))
    infos = archive.infolist()
    if len(infos) > MAX_XLSX_PARTS:
        raise TooLarge(f"the file holds {len(infos):,} parts (a workbook holds about ten, at most {MAX_XLSX_PARTS:,}), {refusal}")
    check_unpacked(sum(info.file_size for info in infos), limits)
    for info in infos:
        if info.file_size > 2**20 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise TooLarge(f"its part {info.filename[:80]!r} unpacks {info.file_size / max(info.compress_size, 1):,.0f}-fold "
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
            raise Refused(f"the workbook has no sheet {wanted!r}; its sheets are: {', '.join(map(repr, sheet_names))}")
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
                raise TooLarge(f"{self.what} holds more than {self.limits.cells:,} cells (empty formatted cells "
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
                check_size(self.limits, int(last.group(2)) - 1, _column_number(last.group(1)),
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
                raise TooLarge(f"{self.what} has a value in row {row:,}; an upload holds at most {limits.rows:,} "
                                f"rows below its header: {SPLIT_ADVICE}")
            if column > limits.columns:
                raise TooLarge(f"{self.what} has a value in column {column:,}; an upload holds at most "
                                f"{limits.columns:,} columns: keep only the template's columns and upload again")
            self.last_row, self.last_column = max(row, self.last_row), max(column, self.last_column)
            check_size(limits, self.last_row - 1, self.last_column, f"{self.what} holds at least")
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


def read_xlsx(content: bytes, limits: UploadLimits, expected: list[str] | None = None, options=None,
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
            check_unpacked(text_length, limits, f"{what}'s cells hold text of")
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
    position = header_position(head, expected, options, what)
    if position and not getattr(options, "header_row", None):
        notes.extend(skipped_note(head, position))
    hidden = [r for r in sorted(set(sheet.hidden_rows)) if position + 1 < r <= sheet.last_row
              and any(str(c).strip() for c in grid[r - 1])]
    if hidden:
        shown = ", ".join(map(str, hidden[:20])) + (f" and {len(hidden) - 20:,} more" if len(hidden) > 20 else "")
        raise Refused(f"{what} has hidden (or filtered out) rows holding values: row(s) {shown}. Hidden rows are never "
                       "read unseen: show them (Unhide, or clear the filter), delete the ones that are not data, and "
                       "upload again")
    index = np.arange(position + 1, sheet.last_row) - 1  # the file's row number minus 2
    data = pd.DataFrame(grid[position + 1:], index=index, dtype=object)
    kind_frame = pd.DataFrame(kinds[position + 1:], index=index, dtype=object)
    letters = [_column_letters(i + 1) for i in range(sheet.last_column)]
    table = table_below_header(list(grid[position]), data, kind_frame, notes, letters)
    table.frame = table.frame.astype(str)
    return table


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
