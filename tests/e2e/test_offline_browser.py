"""Maps work with no network: the visitor's browser contacts only the app's own host.

Every request of Overview, Indicators, Exposure and Hub (documents, scripts, fonts, images, map
tiles, websockets) is recorded; the test fails if one goes to a host other than localhost or
127.0.0.1 (data: and blob: URLs are part of the page). Each page's deck.gl map must also be drawn:
its canvas exists and has a size.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, wait_ready

LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
INLINE_SCHEMES = {"data", "blob", "about", "chrome-extension"}
# (page, address, maps expected on it)
PAGES = [
    ("Overview", "/?city=Ghent&year=2030&material=Co", 0),
    ("Indicators", "/indicators?city=Ghent&year=2030&material=Co", 1),
    ("Exposure", "/exposure?city=Ghent&year=2030&material=Co", 1),
    ("Hub", "/hub?city=Ghent&year=2030&material=Co", 1),
]


def outside(url: str) -> bool:
    """Whether ``url`` leaves the app's host."""
    parts = urlsplit(url)
    if parts.scheme in INLINE_SCHEMES:
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS


def test_outside_is_judged_by_host():
    assert not outside("http://127.0.0.1:8501/static/js/index.js")
    assert not outside("ws://localhost:8501/_stcore/stream")
    assert not outside("data:image/png;base64,AAAA") and not outside("blob:http://127.0.0.1:8501/1234")
    assert outside("https://basemaps.cartocdn.com/gl/positron-gl-style/style.json")
    assert outside("https://fonts.gstatic.com/s/sourcesanspro/v1.woff2")
    assert outside("http://127.0.0.1.example.com/x")


@pytest.mark.parametrize(("name", "address", "maps"), PAGES, ids=[p[0] for p in PAGES])
def test_page_contacts_only_the_app_and_draws_its_maps(page, server_url, name, address, maps):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda socket: requested.append(socket.url))
    page.goto(f"{server_url}{address}")
    wait_ready(page)
    canvases = page.locator('[data-testid="stDeckGlJsonChart"] canvas')
    for index in range(maps):
        canvas = canvases.nth(index)
        canvas.scroll_into_view_if_needed(timeout=SERVER_WAIT_MS)
        canvas.wait_for(state="visible", timeout=SERVER_WAIT_MS)
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, f"{name}: map {index} has no size ({box})"
        size = canvas.evaluate("c => [c.width, c.height]")  # the drawing buffer deck.gl renders into
        assert size[0] > 0 and size[1] > 0, f"{name}: map {index} has an empty drawing buffer"
    page.wait_for_timeout(1500)  # late requests: map styles, tiles and fonts load after the first draw
    assert frontend_errors(page) == []
    assert requested, "no request was recorded: the listener did not work"
    leaving = sorted({url for url in requested if outside(url)})
    assert leaving == [], f"{name} contacted hosts other than the app's: {leaving}"
