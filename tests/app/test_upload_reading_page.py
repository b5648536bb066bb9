"""Data page: the upload form says how the file writes numbers (decimal mark, shares in percent) and which sheet
and header row to read; an ambiguous number is refused until the decimal mark is given, and what the reader
decided (a title row skipped) is shown. AppTest cannot pick a file, so the file uploader is replaced by one that
returns a file the test writes."""

import io

import streamlit

from tests.app.conftest import open_page


class _Upload(io.BytesIO):
    def __init__(self, content: bytes, name: str):
        super().__init__(content)
        self.name = name


def test_the_decimal_mark_setting_reads_an_ambiguous_dutch_number(app, monkeypatch):
    text = ("Gemeten stromen Gent;;;;;;;\r\n"
            "city;year;category;flow;kg;source_id;confidence;note\r\n"
            "Ghent;2024;phones;collected;12.500;PROJECT_ASSUMPTION;low;\r\n;;;;;;;\r\n")
    monkeypatch.setattr(streamlit, "file_uploader", lambda *args, **kwargs: _Upload(text.encode("cp1252"), "gent.csv"))
    at = open_page(app, "pages/data.py", "rita")
    at.selectbox(key="kind").set_value("measured_flows").run()
    assert not at.exception
    problems = next(df.value for df in at.dataframe if "problem" in df.value.columns)["problem"].tolist()
    assert problems == [("gent.csv, row 3, column 'kg': value '12.500': the number is ambiguous: it reads as 12.5 "
                         "(decimal point) or as 12500 ('.' separating thousands); set the file's decimal mark ('.' or ',') "
                         "in the upload and try again")], problems
    assert any("The header is row 2" in info.value for info in at.info)
    at.radio(key="upload_decimal").set_value(",").run()
    assert not at.exception
    assert any("passed every check" in s.value for s in at.success)
    assert at.checkbox(key="upload_percent_shares") and at.text_input(key="upload_sheet")
    assert at.number_input(key="upload_header_row").value == 0
