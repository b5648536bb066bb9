"""The session export: each step with a view carries its chart as an image drawn offline (SVG), beside its numbers."""

import base64
import json
import re
from datetime import datetime

import altair as alt
import pandas as pd

from decision_tools import exports


def _session(steps: int) -> dict:
    items = pd.DataFrame({
        "position": list(range(1, steps + 1)),
        "view_id": [f"view000{i}" for i in range(1, steps + 1)],
        "note": ["first line\nsecond line"] + [""] * (steps - 1),
        "title": [f"Step title {i}" for i in range(1, steps + 1)],
        "page": ["", "indicators", "policy"][:steps],
        "state": [json.dumps({"city": "Ghent", "year": 2025, "material": "Co"})] * steps,
        "dataset_version": [1] * steps,
    })
    return {"title": "Assignment market", "created_by": "pat", "created_at": datetime(2026, 3, 12), "items": items}


def _chart(title: str) -> alt.Chart:
    frame = pd.DataFrame({"year": [2020, 2030], "value": [1.0, 2.0]})
    return alt.Chart(frame).mark_line().encode(x="year:Q", y="value:Q").properties(title=title)


def _images(document: str) -> list[str]:
    return [base64.b64decode(found).decode("utf-8")
            for found in re.findall(r"<img [^>]*src='data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)'", document)]


def test_the_export_holds_one_chart_per_step_with_a_view():
    comments = pd.DataFrame(columns=["position", "username", "created_at", "text"])
    # Three steps, two of them with a view (the second has none: no chart is drawn for it)
    doc = exports.session_html(_session(3), comments, "http://host/", None,
                               {1: _chart("Cobalt chain in Ghent"), 3: _chart("Levers <for> 2035")}).decode()
    images = _images(doc)
    assert len(images) == 2
    assert all(svg.lstrip().startswith("<svg") for svg in images)
    assert "Cobalt chain in Ghent" in images[0] and "Levers &lt;for&gt; 2035" in images[1]  # in step order, text escaped
    # each image sits in its own step's section
    sections = doc.split("<h2>")[1:]
    assert [("<img " in section) for section in sections] == [True, False, True]
    assert "<svg" not in doc  # an image, never inline markup in the document


def test_an_export_without_charts_has_no_images():
    comments = pd.DataFrame(columns=["position", "username", "created_at", "text"])
    doc = exports.session_html(_session(2), comments, "http://host/").decode()
    assert "<img " not in doc and "1. Step title 1" in doc
