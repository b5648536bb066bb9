"""The city briefing as PDF in a real browser: the Overview's button downloads a PDF whose text names
the city (and its year), as a person would save and open it."""

import io

from pypdf import PdfReader

from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, wait_ready


def test_the_overview_downloads_the_briefing_as_pdf(page, server_url, tmp_path):
    page.goto(f"{server_url}/?city=Ghent&year=2030&material=Co")
    wait_ready(page)
    button = page.get_by_role("button", name="City briefing (PDF)")
    button.wait_for(state="visible", timeout=SERVER_WAIT_MS)
    with page.expect_download(timeout=SERVER_WAIT_MS) as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == "briefing_Ghent_Co_2030_v1.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())
    assert "Ghent: Cobalt (Co), 2030" in text and "Top levers for secondary supply in 2030" in text
    assert frontend_errors(page) == []
