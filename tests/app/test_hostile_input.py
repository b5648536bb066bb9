"""Hostile input in every URL parameter: injection and script strings, absurd values. Each page
answers with a notice or a sensible default, never a traceback, never markup, and writes nothing."""

import pytest

from decision_tools import storage
from decision_tools.accounts import Actor
from tests.app.conftest import open_page

HOSTILE = [
    "' OR '1'='1",
    "'; DROP TABLE flows; --",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "x" * 10_000,
    "1800",
    "-1",
    "NaN",
    "%00",
]
PAGES = ["pages/overview.py", "pages/indicators.py", "pages/policy.py", "pages/exposure.py", "pages/hub.py",
         "pages/sessions.py", "pages/data.py", "pages/methods.py"]
PARAMS = ["city", "year", "material", "version", "view", "all_crms", "rate", "objective", "weee_collection", "budget",
          "product", "preset", "cut", "duration", "session", "step", "prefill_title", "prefill_material"]


@pytest.mark.parametrize("page", PAGES)
def test_every_parameter_with_hostile_values(app, page, tmp_path):
    for value in HOSTILE:
        at = open_page(app, page, None, **{p: value for p in PARAMS})
        assert not at.exception, f"{page} raised with {value[:30]!r}"
        shown = " ".join(str(e.value) for kind in ("markdown", "warning", "info", "caption", "error")
                         for e in at.get(kind))
        assert "<script>" not in shown and "](javascript" not in shown
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:  # nothing was written
        assert store.versions()["version_id"].tolist() == [1]
        assert store.saved_views().empty and store.saved_scenarios().empty and store.audit_log(Actor.cli()).empty
