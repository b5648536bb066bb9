"""Data page: a value far from the current version's is shown as a warning in the dry run, and the upload
can still be published. AppTest cannot pick a file, so the file uploader is replaced by one that returns
a file the test writes."""

import io

import streamlit

from decision_tools import storage
from tests.app.conftest import open_page


class _Upload(io.BytesIO):
    def __init__(self, content: bytes, name: str):
        super().__init__(content)
        self.name = name


def test_the_dry_run_shows_warnings_about_values_far_from_the_current_ones(app, small_db, monkeypatch):
    with storage.Store.open(small_db) as store:
        row = store.input_tables(1)["ownership"].query("geography == 'EU' and units_per_driver > 0").iloc[0]
    text = ("geography,product,year,units_per_driver,source_id,confidence,basis\n"
            f"EU,{row['product']},{int(row['year'])},{float(row['units_per_driver']) * 50},PROJECT_ASSUMPTION,low,x\n")
    monkeypatch.setattr(streamlit, "file_uploader", lambda *args, **kwargs: _Upload(text.encode(), "far.csv"))
    at = open_page(app, "pages/data.py", "rita")
    at.selectbox(key="kind").set_value("ownership").run()
    assert not at.exception
    assert any("1 warning(s): values far from the current version's" in w.value for w in at.warning)
    warnings = next(df.value for df in at.dataframe if "warning" in df.value.columns)
    assert warnings["warning"].tolist()[0].startswith("far.csv, column 'units_per_driver', row 2")
    assert any("passed every check" in s.value for s in at.success)
