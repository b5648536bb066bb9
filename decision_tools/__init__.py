"""decision_tools: the logic behind the UrbanSymbiosis dashboard, usable without Streamlit.

Modules, one concept each:
    provenance  confidence labels and how they combine
    ingestion   reading and validating the project's CSV tables
    system      the city's processes and flows (what the model computes and the store checks)
    model       the city model: dynamic stock model (flodym) and the mass-balanced CRM chain
    storage     the DuckDB store: schema, build, dataset versions, read queries
    views       the shareable view state (city, year, material) and its validation
    charts      chart builders (Plotly Sankey, Altair time series)
    formatting  numbers and masses for people
    cli         ``python -m decision_tools``
"""
