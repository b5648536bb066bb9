"""The Overview offers the city briefing as PDF beside the HTML one; every table download knows the
dataset version, the link to the view and the citations of its sources (the XLSX "about" sheet)."""

from streamlit.testing.v1 import AppTest


def test_the_overview_offers_the_briefing_as_pdf_beside_html(app):
    at = app(city="Ghent", year="2030", material="Co").run()
    labels = [b.label for b in at.get("download_button")]
    assert "City briefing (printable HTML)" in labels and "City briefing (PDF)" in labels
    assert labels.index("City briefing (PDF)") == labels.index("City briefing (printable HTML)") + 1


def _metadata_script():
    from types import SimpleNamespace

    import streamlit as st

    import ui

    st.session_state["context"] = SimpleNamespace(version_id=1)
    version, link, citations = ui.download_metadata()
    st.text(f"version={version}")
    st.text(f"link={link}")
    st.text(f"citation={citations.get('EC_CRM_2023', '')}")


def test_download_metadata_has_version_link_with_the_query_and_citations(app):
    app()  # points the app's database at a copy of the small test database
    at = AppTest.from_function(_metadata_script, default_timeout=60)
    at.query_params["city"] = "Ghent"
    at.query_params["year"] = "2030"
    at.run()
    texts = [t.value for t in at.text]
    assert "version=1" in texts
    link = next(t for t in texts if t.startswith("link="))
    assert "city=Ghent" in link and "year=2030" in link and link.startswith("link=http")
    citation = next(t for t in texts if t.startswith("citation="))
    assert citation.startswith("citation=European Commission") and "(2023)" in citation
