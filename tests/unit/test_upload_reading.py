"""Reading researchers' real spreadsheets: files built here the way Excel and LibreOffice save them in Finnish,
Dutch, Belgian and Polish locales (';' with a decimal comma, UTF-16 'Unicode text', Windows-1252, a BOM, ';;;;'
rows, a title row, a hidden row, a second sheet, dates Excel made), each with its expected outcome: accepted with
the right numbers, or refused naming the cell. Ambiguous numbers ("12.500": 12.5 or 12500?) are never guessed."""

import datetime
import io

import openpyxl
import pytest

from decision_tools import spreadsheet_numbers, uploads
from decision_tools.cli import main
from decision_tools.uploads import UploadOptions

COMPOSITION = ["product", "material", "grams_per_unit", "source_id", "confidence", "basis"]
FLOWS = ["city", "year", "category", "flow", "kg", "source_id", "confidence", "note"]
ROUTING = ["product", "from_year", "hibernation_share", "export_reuse_share", "collection_rate", "source_id", "confidence",
           "basis"]
CITY = ["city", "country_iso3", "district", "population", "households", "lat", "lon", "source_id", "confidence", "note"]
NBSP = "\u00a0"


def csv_bytes(header, rows, sep=";", encoding="utf-8", newline="\r\n", trailing="") -> bytes:
    """A CSV as a spreadsheet saves it: every line ends with CRLF; ``trailing`` is appended as it is."""
    lines = [sep.join(header)] + [sep.join(row) for row in rows]
    return (newline.join(lines) + newline + trailing).encode(encoding)


def check(kind, content, current, name="upload.csv", **options):
    return uploads.check_upload(kind, content, name, current, UploadOptions(**options))


def accepted(kind, content, current, name="upload.csv", **options):
    found = check(kind, content, current, name, **options)
    assert found.report.ok, found.report.problems
    return found


def refused(kind, content, current, name="upload.csv", **options) -> list[str]:
    found = check(kind, content, current, name, **options)
    assert not found.report.ok and found.tables is None
    return list(found.report.problems)


def grams(found, product, material="Co") -> float:
    table = found.tables["product_content"]
    return float(table.loc[(table["product"] == product) & (table["material"] == material), "grams_per_unit"].iloc[0])


# --- spreadsheet_numbers: one cell's text, hand-worked -------------------------------------------------------------

@pytest.mark.parametrize("text, decimal, expected", [
    ("1 234,5", "auto", "1234.5"),          # fi/pl: space thousands, decimal comma
    (f"1{NBSP}234,5", "auto", "1234.5"),    # Excel fi: no-break space
    ("1\u202f234,5", "auto", "1234.5"),     # LibreOffice: narrow no-break space
    ("12,5", "auto", "12.5"),
    ("1,234.5", "auto", "1234.5"),
    ("1.234,5", "auto", "1234.5"),          # nl/be
    ("1.234.567", "auto", "1234567"),
    ("0.500", "auto", "0.500"),             # a thousands group never follows a lone 0
    ("12.500", ",", "12500"),               # the upload said: decimal comma
    ("12.500", ".", "12.500"),              # the upload said: decimal point
    ("486.000", ",", "486000"),
    ("\u22121 234,5", "auto", "-1234.5"),   # LibreOffice's minus sign
    ("1e308", "auto", "1e308"),             # left for validation to judge
])
def test_numbers_are_read_in_every_locale(text, decimal, expected):
    assert spreadsheet_numbers.read_number(text, decimal).text == expected


@pytest.mark.parametrize("text, readings", [("12.500", ("12.5", "12500")), ("486.000", ("486", "486000")),
                                            ("1.200", ("1.2", "1200")), ("12,500", ("12.5", "12500"))])
def test_ambiguous_numbers_are_refused_with_both_readings(text, readings):
    reading = spreadsheet_numbers.read_number(text)
    assert reading.text is None
    assert f"reads as {readings[0]} " in reading.problem and f"or as {readings[1]} " in reading.problem


def test_a_number_against_the_stated_decimal_mark_is_refused():
    assert "the upload says ','" in spreadsheet_numbers.read_number("7.5", ",").problem
    assert "the upload says '.'" in spreadsheet_numbers.read_number("1.234,5", ".").problem


# --- CSV as Excel and LibreOffice save it ------------------------------------------------------------------------

def test_finnish_excel_csv_windows_1252_semicolons_decimal_comma_and_trailing_rows(current):
    # Excel fi "CSV (semicolon delimited)": Windows-1252, ';', decimal comma, no-break space thousands, CRLF,
    # a trailing ';' on every line and empty ';;;;;;' rows below the table.
    content = csv_bytes(COMPOSITION + [""], [["smartphone", "Co", "7,5", "SCRREEN", "medium", "mitattu, ä ja ö", ""],
                                             ["laptop", "Co", f"1{NBSP}234,5", "SCRREEN", "medium", "", ""]],
                        encoding="cp1252", trailing=";;;;;;\r\n" * 30)
    found = accepted("composition", content, current)
    assert grams(found, "smartphone") == 7.5 and grams(found, "laptop") == 1234.5
    table = found.tables["product_content"]
    assert "mitattu, ä ja ö" in set(table["basis"])
    assert any("Windows-1252" in note for note in found.report.reading_notes)


def test_polish_excel_csv_windows_1250_keeps_its_letters(current):
    # Excel pl "CSV (rozdzielany średnikami)": Windows-1250, where ł, ś, ą and ż sit on bytes that Windows-1252
    # reads as ³, œ, ¹ and ¿ ("Wroc³aw"): the file is read as Central European and says so.
    basis = "źródło: GUS, Wrocław i Białystok, łącznie"
    content = csv_bytes(COMPOSITION, [["smartphone", "Co", "7,5", "SCRREEN", "medium", basis]], encoding="cp1250")
    assert "Wroc³aw" in content.decode("cp1252")  # what a Western European reading would have published
    found = accepted("composition", content, current)
    assert basis in set(found.tables["product_content"]["basis"])
    assert any("Windows-1250" in note for note in found.report.reading_notes)


def test_western_text_is_not_taken_for_central_european(current):
    content = csv_bytes(COMPOSITION, [["smartphone", "Co", "7,5", "SCRREEN", "medium", "Hämeenlinna, Gent, café, 1¼"]],
                        encoding="cp1252")
    found = accepted("composition", content, current)
    assert "Hämeenlinna, Gent, café, 1¼" in set(found.tables["product_content"]["basis"])
    assert any("Windows-1252" in note for note in found.report.reading_notes)


def test_utf16_unicode_text_tab_separated_with_decimal_comma(current):
    # Excel's "Unicode text": UTF-16 LE with BOM, tab separated.
    content = csv_bytes(COMPOSITION, [["smartphone", "Co", "12,5", "SCRREEN", "medium", "Jyväskylä"]], sep="\t",
                        encoding="utf-16")
    assert content[:2] == b"\xff\xfe"
    found = accepted("composition", content, current, "phones.txt")
    assert grams(found, "smartphone") == 12.5
    assert "Jyväskylä" in set(found.tables["product_content"]["basis"])


def test_utf8_with_bom_and_english_thousands(current):
    content = b"\xef\xbb\xbf" + csv_bytes(COMPOSITION, [["laptop", "Co", '"1,234.5"', "SCRREEN", "medium", "x"]], sep=",")
    assert grams(accepted("composition", content, current), "laptop") == 1234.5


def test_dutch_kg_12_500_is_read_by_the_files_own_decimal_mark_and_said(current):
    # The file's "3,25" shows its decimal mark is ',' (it cannot also separate decimals with '.'), so "12.500"
    # is 12,500 kg, never 12.5, and the dry run says how it was read.
    content = csv_bytes(FLOWS, [["Ghent", "2024", "phones", "collected", "12.500", "PROJECT_ASSUMPTION", "low", ""],
                                ["Ghent", "2024", "laptops", "collected", "3,25", "PROJECT_ASSUMPTION", "low", ""]])
    found = accepted("measured_flows", content, current)
    kg = found.tables["measured_flows"].set_index("category")["kg"]
    assert kg["phones"] == 12500 and kg["laptops"] == 3.25
    assert any("writes decimals with ','" in note for note in found.report.reading_notes)
    assert accepted("measured_flows", content, current, decimal=",").tables["measured_flows"].set_index("category").at["phones", "kg"] == 12500


def test_dutch_kg_12_500_alone_is_refused_naming_the_cell_unless_the_decimal_mark_is_given(current):
    content = csv_bytes(FLOWS, [["Ghent", "2024", "phones", "collected", "12.500", "PROJECT_ASSUMPTION", "low", ""]])
    problems = refused("measured_flows", content, current)
    assert len(problems) == 1, problems
    assert problems[0].startswith("upload.csv, row 2, column 'kg': value '12.500': the number is ambiguous: it reads as "
                                  "12.5 (decimal point) or as 12500 ('.' separating thousands); set the file's decimal mark")
    assert accepted("measured_flows", content, current, decimal=",").tables["measured_flows"].at[0, "kg"] == 12500


def test_belgian_population_486_000_is_never_read_as_486(current):
    rows = [["Leuven", "BEL", "", "486.000", "200.000", "50,88", "4,70", "PROJECT_ASSUMPTION", "low", ""]]
    found = accepted("city", csv_bytes(CITY, rows), current)  # '50,88' tells the file's decimal mark
    city = found.tables["cities"].set_index("city").loc["Leuven"]
    assert city["population"] == 486_000 and city["households"] == 200_000 and city["lat"] == 50.88
    alone = [["Leuven", "BEL", "", "486.000", "200.000", "51", "5", "PROJECT_ASSUMPTION", "low", ""]]
    problems = refused("city", csv_bytes(CITY, alone), current)  # nothing tells: refused, both readings named
    assert any("row 2, column 'population': value '486.000': the number is ambiguous: it reads as 486 (decimal point) "
               "or as 486000" in p for p in problems), problems
    found = accepted("city", csv_bytes(CITY, alone), current, decimal=",")
    assert found.tables["cities"].set_index("city").at["Leuven", "population"] == 486_000


def test_grams_1_200_with_a_decimal_point_file(current):
    content = csv_bytes(COMPOSITION, [["smartphone", "Co", "1.200", "SCRREEN", "medium", "x"]], sep=",")
    assert any("value '1.200': the number is ambiguous: it reads as 1.2 (decimal point) or as 1200" in p
               for p in refused("composition", content, current))
    assert grams(accepted("composition", content, current, decimal="."), "smartphone") == 1.2


def test_polish_space_thousands_and_a_number_against_the_stated_mark(current):
    content = csv_bytes(COMPOSITION, [["laptop", "Co", "1 234,5", "SCRREEN", "medium", "zmierzono"],
                                      ["smartphone", "Co", "7.5", "SCRREEN", "medium", ""]])
    problems = refused("composition", content, current, decimal=",")
    assert problems == [("upload.csv, row 3, column 'grams_per_unit': value '7.5': the number has '.' as its decimal "
                         "mark, but the upload says ','")], problems


def test_percent_shares_only_when_the_upload_says_so(current):
    content = csv_bytes(ROUTING, [["smartphone", "2026", "45 %", "10%", "0,5", "PROJECT_ASSUMPTION", "low", "x"]])
    problems = refused("collection_rates", content, current)
    assert any("row 2, column 'hibernation_share': value '45 %': the number is written in percent; set 'shares in "
               "percent'" in p for p in problems), problems
    found = accepted("collection_rates", content, current, percent_shares=True)
    row = found.tables["eol_routing"].set_index(["geography", "product", "from_year"]).loc[("EU", "smartphone", 2026)]
    assert (row["hibernation_share"], row["export_reuse_share"], row["collection_rate"]) == (0.45, 0.1, 0.005)
    # A percent sign outside a share column is refused whatever the setting.
    flows = csv_bytes(FLOWS, [["Ghent", "2024", "phones", "collected", "45 %", "PROJECT_ASSUMPTION", "low", ""]])
    assert any("a percent sign belongs only in a share column" in p
               for p in refused("measured_flows", flows, current, percent_shares=True))


def test_a_date_excel_made_in_a_text_file_gets_a_hint(current):
    content = csv_bytes(COMPOSITION, [["smartphone", "Co", "12.5.2026", "SCRREEN", "medium", "x"]])
    problems = refused("composition", content, current)
    assert any("value '12.5.2026': must be a number; it looks like a date" in p and "format the column as Number" in p
               for p in problems), problems


def test_csv_title_row_is_skipped_and_said_and_rows_keep_their_file_numbers(current):
    content = ("Kobolttipitoisuudet 2026;;;;;\r\n;;;;;\r\n" +
               csv_bytes(COMPOSITION, [["smartphone", "Co", "7,5", "SCRREEN", "medium", ""],
                                       ["laptop", "Co", "lots", "SCRREEN", "medium", ""]]).decode()).encode()
    found = check("composition", content, current)
    assert next(p for p in found.report.problems if "lots" in p).startswith(
        "upload.csv, row 5, column 'grams_per_unit': value 'lots': must be a number"), found.report.problems
    assert any("The header is row 3" in note and "Kobolttipitoisuudet 2026" in note for note in found.report.reading_notes)


def test_binary_and_undecodable_text_are_refused(current):
    assert any("not UTF-8 text" in p for p in refused("composition", b"\x89PNG\r\n\x1a\n\x00\x00binary", current))
    # 0x81 is undefined in Windows-1252 and invalid in UTF-8.
    assert any("not UTF-8 text" in p for p in refused("composition", ",".join(COMPOSITION).encode() + b"\n\x81\x81\n", current))


# --- XLSX as Excel saves it -----------------------------------------------------------------------------------------

def workbook(rows, title=None, hidden=(), sheets=None, formats=None) -> bytes:
    """An XLSX written with openpyxl: a title row (and a blank row) above the table if ``title``, rows
    ``hidden`` (file row numbers), more sheets, and number formats {(row, column): format}."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Taulukko1"
    if title:
        sheet.append([title])
        sheet.append([])
    for row in rows:
        sheet.append(row)
    for number in hidden:
        sheet.row_dimensions[number].hidden = True
    for (row, column), number_format in (formats or {}).items():
        sheet.cell(row=row, column=column).number_format = number_format
    for name, content in (sheets or {}).items():
        extra = book.create_sheet(name)
        for row in content:
            extra.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_title_row_is_skipped_and_said_and_problems_name_the_file_row(current):
    content = workbook([COMPOSITION, ["smartphone", "Co", 7.5, "SCRREEN", "medium", "x"],
                        ["laptop", "Co", "1.200", "SCRREEN", "medium", ""]], title="Cobalt per unit, draft 2")
    problems = refused("composition", content, current, "c.xlsx")
    # Title row 1, blank row 2, header row 3: the laptop is row 5, its number in column C.
    assert problems == [("c.xlsx, row 5, column 'grams_per_unit': value '1.200': cell C5 is ambiguous: it reads as 1.2 "
                         "(decimal point) or as 1200 ('.' separating thousands); set the file's decimal mark ('.' or ',') "
                         "in the upload and try again")], problems
    found = accepted("composition", content, current, "c.xlsx", decimal=",")
    assert grams(found, "smartphone") == 7.5 and grams(found, "laptop") == 1200  # typed numbers stay as they are
    assert any("The header is row 3: the 2 row(s) above it were skipped ('Cobalt per unit, draft 2')" in note
               for note in found.report.reading_notes)


def test_xlsx_header_row_can_be_set(current):
    content = workbook([["notes"], COMPOSITION, ["smartphone", "Co", 7.5, "SCRREEN", "medium", "x"]])
    assert grams(accepted("composition", content, current, "c.xlsx", header_row=2), "smartphone") == 7.5
    assert any("missing column(s)" in p for p in refused("composition", content, current, "c.xlsx", header_row=1))


def test_xlsx_hidden_row_is_refused_naming_it(current):
    content = workbook([COMPOSITION, ["smartphone", "Co", 7.5, "SCRREEN", "medium", "x"],
                        ["laptop", "Co", 999, "SCRREEN", "medium", "draft"]], hidden=[3])
    problems = refused("composition", content, current, "c.xlsx")
    assert problems == [("c.xlsx: the first sheet has hidden (or filtered out) rows holding values: row(s) 3. Hidden rows "
                         "are never read unseen: show them (Unhide, or clear the filter), delete the ones that are not data, "
                         "and upload again")], problems


def test_xlsx_sheet_can_be_chosen_and_an_unknown_one_lists_the_sheets(current):
    content = workbook([["read me first"]], sheets={"Data 2026": [COMPOSITION, ["laptop", "Co", 60, "SCRREEN", "medium", ""]]})
    assert grams(accepted("composition", content, current, "c.xlsx", sheet="Data 2026"), "laptop") == 60
    assert refused("composition", content, current, "c.xlsx", sheet="Data") == [
        "c.xlsx: the workbook has no sheet 'Data'; its sheets are: 'Taulukko1', 'Data 2026'"]
    found = check("composition", content, current, "c.xlsx")  # the first sheet, and it is said that there are more
    assert any("the workbook also has 'Data 2026'" in note for note in found.report.reading_notes)


def test_xlsx_date_in_a_numeric_column_is_refused_with_a_hint(current):
    content = workbook([COMPOSITION, ["smartphone", "Co", datetime.date(2026, 5, 12), "SCRREEN", "medium", "x"]])
    problems = refused("composition", content, current, "c.xlsx")
    assert len(problems) == 1 and problems[0].startswith("c.xlsx, row 2, column 'grams_per_unit': value '46154': the "
                                                         "spreadsheet shows this cell as a date"), problems
    assert "format the column as Number" in problems[0] and "(cell C2)" in problems[0]


def test_xlsx_percent_formatted_shares_are_not_divided_twice(current):
    # Excel stores a cell shown as "45 %" as 0.45; a share typed as 45 in a plain cell is 45 %.
    content = workbook([ROUTING, ["smartphone", 2026, 0.45, 10, 0.5, "PROJECT_ASSUMPTION", "low", "x"]],
                       formats={(2, 3): "0%", (2, 5): "0%"})
    found = accepted("collection_rates", content, current, "r.xlsx", percent_shares=True)
    row = found.tables["eol_routing"].set_index(["geography", "product", "from_year"]).loc[("EU", "smartphone", 2026)]
    assert (row["hibernation_share"], row["export_reuse_share"], row["collection_rate"]) == (0.45, 0.1, 0.5)


def test_xlsx_stray_space_cell_and_empty_columns_outside_the_table_are_ignored(current):
    book = openpyxl.load_workbook(io.BytesIO(workbook([COMPOSITION, ["smartphone", "Co", 7.5, "SCRREEN", "medium", "x"]])))
    book.active.cell(row=40, column=15, value=" ")  # O40: an Excel leftover
    book.active.cell(row=1, column=9, value="")
    buffer = io.BytesIO()
    book.save(buffer)
    assert grams(accepted("composition", buffer.getvalue(), current, "c.xlsx"), "smartphone") == 7.5


def test_csv_stray_space_cell_and_trailing_delimiters_are_ignored(current):
    content = csv_bytes(COMPOSITION + [""], [["smartphone", "Co", "7,5", "SCRREEN", "medium", "x", ""]],
                        trailing=";;;;;; ;\r\n;;;;;;;\r\n")
    assert grams(accepted("composition", content, current), "smartphone") == 7.5


# --- the CLI's flags ---------------------------------------------------------------------------------------------------

def test_cli_ingest_takes_the_decimal_mark(small_db, tmp_path, capsys):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(small_db.read_bytes())
    upload = tmp_path / "flows.csv"
    upload.write_bytes(csv_bytes(FLOWS, [["Ghent", "2024", "phones", "collected", "12.500", "PROJECT_ASSUMPTION", "low", ""]]))
    assert main(["ingest", str(upload), "--kind", "measured_flows", "--dry-run", "--db", str(db)]) == 1
    assert "the number is ambiguous" in capsys.readouterr().err
    assert main(["ingest", str(upload), "--kind", "measured_flows", "--dry-run", "--decimal", ",", "--db", str(db)]) == 0
    workbook_file = tmp_path / "c.xlsx"
    workbook_file.write_bytes(workbook([["x"]], sheets={"data": [COMPOSITION, ["laptop", "Co", "45", "SCRREEN", "medium", ""]]}))
    assert main(["ingest", str(workbook_file), "--kind", "composition", "--dry-run", "--sheet", "data",
                 "--header-row", "1", "--db", str(db)]) == 0
