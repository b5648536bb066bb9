"""User text is plain text on every page. A city, its districts and organisations from the data, a saved
view, a session, a comment, a challenge, an event, a scenario and a dataset version, all with names such as
`![x](http://evil.test/t.png)`, and every page is opened: whatever Streamlit renders as Markdown (bodies of
markdown, captions, headings and notices; labels, help and captions of widgets, metrics, expanders, tabs,
popovers) carries them only escaped, so no visitor's browser ever fetches or links the address."""

import datetime as dt
import re
from urllib.parse import urlparse

import pytest
from google.protobuf.message import Message

from decision_tools import storage
from tests.app.conftest import app_on_copy, sign_in
from tests.conftest import write_renamed_data

HOST = "evil.test"
MARKER = "evil"  # in every hostile text, escaped or not (the app's own Markdown has links of its own)
CITY = f"![c](http://{HOST}/city.png) <img src=http://{HOST}/c2.png> www.{HOST}"
DISTRICT = f"[d](javascript:alert(1)) ![d](http://{HOST}/district.png)"
ORGANISATION = f"![o](http://{HOST}/org.png) &lt;b&gt; a@{HOST}"
TITLE = f"![t](http://{HOST}/t.png) <img src=http://{HOST}/i.png> http://{HOST}/b"  # 80 characters: fits every title
PAGES = ["pages/overview.py", "pages/indicators.py", "pages/policy.py", "pages/exposure.py", "pages/hub.py",
         "pages/sessions.py", "pages/data.py", "pages/methods.py"]

PLAIN_ELEMENTS = {"text", "code"}  # st.text and st.code show their text as it is
MARKDOWN_FIELDS = {"body", "label", "help", "captions"}
MARKUP = [r"(?<!\\)!\[", r"(?<!\\)\]\(", r"(?<!\\)\]\[", r"(?<!\\)<\s*img", r"(?<!\\)&lt;"]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    """The small data with Ghent, its districts and every organisation renamed to hostile text, then
    user content with hostile titles, and a later (rolled back) dataset version with a hostile name."""
    data = write_renamed_data(tmp_path_factory.mktemp("hostile_data"), CITY, DISTRICT, ORGANISATION,
                              city_note=f"![n](http://{HOST}/note.png)")
    db_path = tmp_path_factory.mktemp("hostile_db") / "hostile.duckdb"
    storage.build_database(db_path, data)

    with storage.Store.open(db_path, read_only=False) as store:
        tables = {k: v.copy() for k, v in store.input_tables(1).items()}
        tables["cities"].loc[tables["cities"]["city"] == "Delft", "note"] = "a later version"
        store.publish(tables, f"![v](http://{HOST}/version.png)", f"<img src=http://{HOST}/vnote.png>", "admin")
        store.rollback_to(1, "admin")  # version 2 stays openable, and a link pinned to it names it
        state = {"city": CITY, "year": 2030, "material": "Co"}
        view_id = store.save_view(TITLE, "", state, 2, "pat")
        other = store.save_view(f"<img src=http://{HOST}/v2.png>", "policy", state, 2, "pat")
        session_id = store.create_session(TITLE, [(view_id, f"![note](http://{HOST}/note.png)"), (other, "")], "pat")
        store.add_comment(session_id, 1, "rita", f"![comment](http://{HOST}/comment.png)")
        challenge_id = store.post_challenge(TITLE, f"![desc](http://{HOST}/desc.png)", "org_uni_gnt", ["chemistry"],
                                            "thesis", "Co", view_id, dt.date(2031, 1, 1), "pat")
        store.register_interest(challenge_id, "sam")
        store.add_event(TITLE, store.EVENT_KINDS[0], dt.date(2031, 2, 1), f"![p](http://{HOST}/place.png)", challenge_id,
                        session_id, "pat")
        store.save_scenario(TITLE, CITY, {}, 2, "pat", note=f"![s](http://{HOST}/s.png)")
        need_id = store.table("needs", 2)["need_id"].iloc[0]
        store.set_match_status("off_uni_laptops", need_id, "active", 100.0, "pat")
    return db_path, view_id, session_id


@pytest.fixture()
def hostile_app(hostile_db, monkeypatch, tmp_path):
    db_path, view_id, session_id = hostile_db
    return app_on_copy(db_path, monkeypatch, tmp_path, timeout=180), view_id, session_id


def rendered_texts(at) -> list[tuple[str, str, str]]:
    """(element type, field, text) of everything on the page that Streamlit renders as Markdown, found by
    walking the whole element tree (main area and sidebar, inside containers, forms, tabs and popovers)."""
    found: list[tuple[str, str, str]] = []

    def scan(kind: str, message: Message, path: str) -> None:
        for descriptor, value in message.ListFields():
            name = path + descriptor.name
            values = value if not isinstance(value, (str, bytes, Message)) and hasattr(value, "__iter__") else [value]
            for item in values:
                if isinstance(item, Message):
                    scan(kind, item, name + ".")
                elif isinstance(item, str) and descriptor.name in MARKDOWN_FIELDS | {"url", "tooltip"}:
                    found.append((kind, name, item))

    def walk(node) -> None:
        kind = getattr(node, "type", type(node).__name__)
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message) and kind not in PLAIN_ELEMENTS:
            scan(kind, proto, "")
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at.main)
    walk(at.sidebar)
    return found


LINK_DESTINATION = re.compile(r"(?<!\\)\]\(([^)\s]*)\)")  # an unescaped "](address)"


def unsafe_url(url: str) -> bool:
    """An address that runs code or loads from the hostile host."""
    parsed = urlparse(url)
    return parsed.scheme.lower() in ("javascript", "data") or HOST in parsed.netloc.lower()


def problems(texts: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The texts that would load, link or format something: hostile text not escaped, a link to the host
    or to javascript:, an HTML tooltip."""
    bare = re.compile(rf"https?://{re.escape(HOST)}|www\.{re.escape(HOST)}|@{re.escape(HOST)}", re.IGNORECASE)
    bad = []
    for kind, field, text in texts:
        if field.endswith("url"):
            wrong = unsafe_url(text)
        elif field.endswith("tooltip"):
            wrong = '"html"' in text  # deck.gl renders an html tooltip as HTML; a text tooltip is plain
        else:  # Markdown: escapes resolved, a bare address still becomes a link unless it is broken up.
            # A link's destination ("](...)") is an address, checked as one (an app link may carry the hostile
            # city in its query, where it is never rendered); the rest is what a reader sees.
            destinations = LINK_DESTINATION.findall(text)
            visible = LINK_DESTINATION.sub("]", text)
            wrong = any(unsafe_url(url) for url in destinations) or (
                MARKER in visible and (any(re.search(pattern, visible, re.IGNORECASE) for pattern in MARKUP)
                                       or "javascript:" in visible or bare.search(visible.replace("\\", "")) is not None))
        if wrong:
            bad.append((kind, field, text))
    return bad


@pytest.mark.parametrize("page", PAGES)
def test_user_text_is_never_markup(hostile_app, page):
    make, view_id, session_id = hostile_app
    at = make(city=CITY, year="2030", material="Co", view=view_id, session=session_id, step="1", prefill_title=TITLE)
    sign_in(at, "pat")
    at.run()  # app.py (sidebar, saved-view banner, pinned-version notice) and the page the view opens
    assert not at.exception, [e.value for e in at.exception]
    first = rendered_texts(at)
    assert not problems(first), problems(first)
    shown = [t for kind, f, t in first if MARKER in t and kind in ("success", "info")]
    assert len(shown) >= 2, "the banner names the view and the notice names the version, escaped"

    at.switch_page(page).run()  # the page itself (AppTest then runs the page alone)
    assert not at.exception, [e.value for e in at.exception]
    texts = rendered_texts(at)
    assert not problems(texts), problems(texts)
    if page not in ("pages/data.py", "pages/methods.py"):  # these two show user text only in tables
        assert [t for _, f, t in texts if MARKER in t and not f.endswith(("url", "tooltip"))], \
            "the hostile text should be on the page (escaped), or this test proves nothing"


def test_the_checks_see_unescaped_text():
    """The walker and the checks catch what the pages must never show."""
    raw = [("markdown", "body", CITY), ("expander", "label", f"Your challenge: {TITLE}"), ("button", "help", ORGANISATION),
           ("link_button", "url", "javascript:alert(1)"), ("deck_gl_json_chart", "tooltip", '{"html": "{name}"}'),
           ("caption", "body", f"see www.{HOST}")]
    assert len(problems(raw)) == len(raw)
    from decision_tools.formatting import escape_markdown

    assert not problems([(k, f, escape_markdown(t, 200)) for k, f, t in raw[:3] + raw[5:]])
