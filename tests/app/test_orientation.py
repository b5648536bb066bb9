"""Orientation: every page opens with a "How to read this page" expander whose glossary words link to the
Methods page's entries (issue 16)."""

import re

import pytest

from decision_tools import glossary
from tests.app.conftest import open_page

PAGES = ("overview", "indicators", "policy", "exposure", "hub", "sessions", "data", "methods")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_with_how_to_read_linked_to_the_glossary(app, page):
    at = open_page(app, f"pages/{page}.py", city="Ghent", year="2030", material="Co")
    assert not at.exception
    expanders = [e for e in at.expander if e.label == "How to read this page"]
    assert len(expanders) == 1
    text = " ".join(m.value for m in expanders[0].markdown)
    assert text == glossary.how_to_read(page)
    anchors = re.findall(r"\]\(\./methods#([a-z0-9-]+)\)", text)
    assert anchors and set(anchors) <= set(glossary.TERMS)


def test_a_do_first_link_opens_the_policy_page_with_that_lever_set(app, small_db):
    from urllib.parse import parse_qsl, urlparse

    from decision_tools import storage

    at = open_page(app, "pages/overview.py", city="Ghent", year="2030", material="Co")
    advice = next(m.value for m in at.markdown if "**Largest losses**" in m.value)
    link = re.search(r"\]\((\./policy\?[^)]*)\)", advice).group(1)
    params = dict(parse_qsl(urlparse(link).query))
    with storage.Store.open(small_db) as store:
        lever_ids = set(store.table("levers", 1)["lever_id"])
    (lever_id,) = set(params) & lever_ids
    policy = open_page(app, "pages/policy.py", **params)
    assert not policy.exception
    assert policy.slider(key=lever_id).value == pytest.approx(float(params[lever_id]))
