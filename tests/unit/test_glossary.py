"""The glossary: every word the how-to-read texts link exists, anchors are unique and URL-safe, every page has a text."""

import re

import pytest

from decision_tools import glossary
from decision_tools.system import METRICS

PAGES = ("overview", "indicators", "policy", "exposure", "hub", "sessions", "data", "methods")


def test_every_page_has_a_short_how_to_read_text():
    assert set(glossary.HOW_TO_READ) == set(PAGES)
    for page, text in glossary.HOW_TO_READ.items():
        assert 3 <= len(text.strip().splitlines()) <= 5, page


@pytest.mark.parametrize("page", PAGES)
def test_every_marked_word_of_a_how_to_read_text_is_in_the_glossary(page):
    marks = glossary.marked_terms(glossary.HOW_TO_READ[page])
    assert marks, f"the {page} text links no glossary word"
    for shown, ref in marks:
        assert glossary.TERMS.get(ref) or glossary.find(ref), f"{page}: '{ref}' is not in the glossary"
    rendered = glossary.how_to_read(page)
    assert "[[" not in rendered and "]]" not in rendered
    assert len(re.findall(r"\]\(\./methods#[a-z0-9-]+\)", rendered)) == len(marks)


def test_anchors_are_unique_and_url_safe():
    anchors = [t.anchor for t in glossary._TERMS]
    assert len(anchors) == len(set(anchors))
    for anchor in anchors:
        assert glossary.ANCHOR_PATTERN.match(anchor), anchor
        assert glossary.slug(anchor) == anchor


def test_every_entry_has_a_plain_one_or_two_sentence_definition():
    for term in glossary.TERMS.values():
        assert term.name and term.definition.endswith("."), term.anchor
        sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", term.definition) if s]
        assert 1 <= len(sentences) <= 2, term.anchor


def test_the_terms_the_issue_names_are_there():
    for anchor in ("hibernating-stock", "eol-rir", "hhi", "mci", "crma", "weee", "elv", "in-use-stock",
                   "secondary-supply", "collection-rate", "recovery-yield", "supply-risk", "confidence-labels",
                   "dataset-version"):
        assert anchor in glossary.TERMS


def test_no_alias_is_taken_from_another_term():
    # An alias that slugs to another term's anchor or name would make a mark lead to the wrong entry.
    own = {glossary.slug(w): t.anchor for t in glossary._TERMS for w in (t.anchor, t.name)}
    for term in glossary._TERMS:
        for alias in term.aliases:
            assert own.get(glossary.slug(alias), term.anchor) == term.anchor, (term.anchor, alias)
            assert glossary.find(alias).anchor == term.anchor, (term.anchor, alias)


def test_words_are_found_in_any_case_and_unknown_words_are_refused():
    assert glossary.find("Hibernating stock").anchor == "hibernating-stock"
    assert glossary.find("end-of-life recycling input rate").anchor == "eol-rir"
    assert glossary.find("no such word") is None
    assert glossary.linked_markdown("the [[HHI]] and [[shares|collection-rate]]") == (
        "the [HHI](./methods#hhi) and [shares](./methods#collection-rate)")
    with pytest.raises(ValueError, match="no entry for 'frobnication'"):
        glossary.linked_markdown("[[frobnication]]")
    with pytest.raises(ValueError, match="No 'how to read this page' text for 'nowhere'"):
        glossary.how_to_read("nowhere")


def test_every_headline_quantity_has_its_entry():
    assert set(glossary.METRIC_TERMS) == set(METRICS)
    for key in METRICS:
        assert glossary.term_of(key) is not None, key


def test_definitions_follow_the_methods_page():
    # The glossary must not contradict decision_tools/methods.md: the ratios it states are the formulas there.
    methods = (glossary.__file__.rsplit("/", 1)[0] + "/methods.md")
    text = open(methods, encoding="utf-8").read()
    assert "separately collected / end of life generated" in text
    assert "separately collected / end of life generated" in glossary.TERMS["collection-rate"].definition
    assert "secondary supply / end of life generated" in text
    assert "secondary supply / end of life generated" in glossary.TERMS["eol-rr"].definition
    assert "hibernating stock / (in-use + hibernating stock)" in text.lower()
    assert "hibernating stock / (in-use + hibernating stock)" in glossary.TERMS["hibernation-share"].definition.lower()
    for term in glossary.TERMS.values():
        if term.methods:
            for section in term.methods.split("; "):
                assert section in text, (term.anchor, section)
