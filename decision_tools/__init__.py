"""decision_tools: the logic behind the UrbanSymbiosis dashboard, usable without Streamlit.

Modules, one concept each:
    provenance   confidence labels and how they combine
    ingestion    the project tables' layouts and their validation
    system       the city's processes and flows (what the model computes and the store checks)
    model        the city model: dynamic stock model (flodym) and the mass-balanced CRM chain
    storage      the DuckDB store: schema, build, dataset versions, workspace, read queries
    indicators   circularity indicators and the Material Circularity Indicator
    uncertainty  Monte Carlo over every input's confidence
    scenarios    policy levers, scenarios, leverage ranking, portfolio, value-creation models
    exposure     supplier concentration, EU supply risk, city exposure, disruptions
    uploads      researchers' uploads: reading, neutralising, validating, dry runs
    accounts     accounts and roles
    views        the shareable view state and saved-view ids
    charts       chart builders (Plotly, Altair, pydeck)
    exports      CSV/XLSX, PNG/SVG/HTML, the briefing and session documents
    briefing     the city briefing's content (HTML); pdf_briefing the same as a PDF
    priorities   what to do first: the largest losses and the levers that avoid them per euro
    glossary     the terms the pages use, their definitions and each page's "how to read"
    labels       names for people: materials with groups, countries, ids, short citations
    geography    the country outlines shipped in data/geo
    formatting   numbers, masses, differences and display tables for people
    cli          ``python -m decision_tools``
"""
