"""User text (titles, names, notes, comments from people or uploads) is plain text everywhere: escaped for
Streamlit's Markdown (which renders images, links and autolinks even in widget labels), and escaped in the
HTML documents (the city briefing and the session export), never an <img>, a link or a resource to fetch."""

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from decision_tools import exports, storage
from decision_tools.formatting import escape_markdown
from tests.conftest import write_renamed_data

HOST = "evil.test"
HOSTILE = [
    f"![x](http://{HOST}/t.png)",
    f"<img src=http://{HOST}/i.png>",
    "[x](javascript:alert(1))",
    "&lt;b&gt; &#60;i&#62;",
    f"![x][1]\n\n[1]: http://{HOST}/ref.png",
    f"<http://{HOST}/angle>",
    f"bare http://{HOST}/a and HTTPS://{HOST}/b, www.{HOST} and someone@{HOST}",
    "**bold** _em_ ~~gone~~ `code` $x^2$ :red[red] :material/home: # heading\n- item\n1. one\n> quote\n---",
]
WORD_JOINER = "\u2060"


def unescaped(text: str, pattern: str) -> bool:
    """Whether ``pattern`` (a regex) occurs without a backslash before its first character."""
    return re.search(r"(?<!\\)" + pattern, text) is not None


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_leaves_no_markup(text):
    escaped = escape_markdown(text, 500)
    assert "\n" not in escaped  # one line: no block structure (reference definitions, lists, headings)
    for pattern in (r"\]\(", r"\]\[", r"!\[", r"\[", r"<", r"&", r"\*", r"_", r"~", r"`", r"\$", r"#", r"^-", r"^\d+\."):
        assert not unescaped(escaped, pattern), (pattern, escaped)
    # Bare addresses are found after the escapes are resolved, so they must be broken in the text itself.
    plain = escaped.replace("\\", "")
    assert not re.search(r"https?://|www\.|\w@\w|:material/", plain, re.IGNORECASE), plain


def test_escaped_text_reads_the_same():
    text = "![x](http://evil.test/t.png) &lt; a@b.org"
    assert escape_markdown(text, 500).replace("\\", "").replace(WORD_JOINER, "") == text
    assert escape_markdown("Ghent") == "Ghent" and escape_markdown("Southern (Eteläinen)") == "Southern \\(Eteläinen\\)"
    assert escape_markdown("x" * 500, 40) == "x" * 39 + "…"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(document: str, visible: str) -> None:
    """No image, no script, no link or resource to the hostile host or to javascript:, and ``visible``
    shown as text (with its markup characters intact)."""
    parsed = _Tags()
    parsed.feed(document)
    assert not [t for t, _ in parsed.tags if t in ("img", "script", "iframe", "object", "embed", "image", "use")]
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "xlink:href", "srcset", "poster", "action", "style"):
            value = (attrs.get(name) or "").lower()
            assert HOST not in value and not value.strip().startswith(("javascript:", "data:")), (tag, name, value)
    assert visible in " ".join(parsed.text)
    assert "<img" not in document


HOSTILE_CITY = f"![c](http://{HOST}/c.png) <img src=http://{HOST}/i.png> [j](javascript:alert(1))"
HOSTILE_DISTRICT = f"![d](http://{HOST}/d.png) <img src=http://{HOST}/d2.png>"


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    """The small data with Ghent renamed to a hostile name, its districts and organisations too."""
    data = write_renamed_data(tmp_path_factory.mktemp("hostile_data"), HOSTILE_CITY, HOSTILE_DISTRICT,
                              f"![o](http://{HOST}/o.png)")
    db_path = tmp_path_factory.mktemp("hostile_db") / "hostile.duckdb"
    storage.build_database(db_path, data)
    return db_path


def test_the_briefing_of_a_hostile_city_is_plain_text(hostile_db):
    from decision_tools.briefing import build_briefing

    with storage.Store.open(hostile_db) as store:
        doc = build_briefing(store, 1, HOSTILE_CITY, 2030, "Co").decode("utf-8")
    assert_inert(doc, HOSTILE_CITY)
    assert "&lt;img src=http://evil.test/i.png&gt;" in doc  # escaped, visible


def test_the_session_export_is_plain_text():
    items = pd.DataFrame({
        "position": [1], "view_id": ["ab'cd<x>"], "note": [f"<img src=http://{HOST}/n.png> ![n](http://{HOST}/n2.png)"],
        "title": [f"![t](http://{HOST}/t.png) <img src=x onerror=alert(1)>"], "page": ["<b>policy</b>"],
        "state": ['{"city": "<img src=http://evil.test/s.png>"}'], "dataset_version": [1],
    })
    session = {"title": f"<img src=http://{HOST}/title.png>", "created_by": "<b>pat</b>",
               "created_at": pd.Timestamp("2025-03-12"), "items": items}
    comments = pd.DataFrame({"position": [1], "created_at": [pd.Timestamp("2025-03-12 10:00")], "username": ["<i>rita</i>"],
                             "text": [f"<img src=http://{HOST}/c.png> [c](javascript:alert(1))"]})
    doc = exports.session_html(session, comments, "http://host/").decode("utf-8")
    assert_inert(doc, f"<img src=http://{HOST}/c.png> [c](javascript:alert(1))")
    assert "http://host/?view=ab%27cd%3Cx%3E" in doc  # the id is quoted inside the link
    hostile_base = exports.session_html(session, comments, "javascript:alert(1)//").decode("utf-8")
    assert_inert(hostile_base, f"<img src=http://{HOST}/c.png> [c](javascript:alert(1))")


def test_the_sankey_title_is_plain_text():
    from decision_tools import chain_charts

    chain = pd.DataFrame({"from_process": ["market"], "to_process": ["use"], "kg": [1.0]})
    title = f'<a href="http://{HOST}/a">x</a> &amp;'
    figure = chain_charts.sankey_figure(chain, title)
    assert figure.layout.title.text == f'&lt;a href="http://{HOST}/a"&gt;x&lt;/a&gt; &amp;amp;'
