"""decision_tools: the logic behind the UrbanSymbiosis dashboard, usable without Streamlit.

Modules, one concept each:
    provenance   confidence labels and how they combine
    column_specs what a table layout is made of: Column, TableSpec, vocabularies, plausibility bounds
    table_specs  the declared layout of every input table (columns, types, bounds, keys)
    validation_report  the problems a check finds (ValidationReport, DataValidationError)
    table_checks one table checked against its layout (types, rules, keys, fix hints)
    cross_checks checks across tables (references, sums) and against the current version
    ingestion    reading the project CSVs, and an input table's DDL
    system       the city's processes and flows, and the headline metrics declared once
    model_inputs the model's inputs from the tables: regions, units that should be in use, chain parameters
    stock_model  the dynamic stock model (flodym): units in use, drawers, material by cohort
    model        the mass-balanced CRM chain and the city model's run into the store's tables
    storage      the Store, composed of the concept modules below, and the build of a fresh database
    database     the database layer: the file, opening it, transactions, the replica layout's plumbing
    migrations   numbered schema changes, applied in place when a file is opened read-write
    datasets     dataset versions: writing one, publish, roll back; results the model results read back
    saved_views, discussions, hub_records, saved_scenarios
                 what people make in the app: saved views, discussion sessions, hub records, saved scenarios
    audit        the audit log; signin_records what is kept of signing in
    indicators   circularity indicators, the Material Circularity Indicator, the cities side by side
    uncertainty  Monte Carlo over every input's confidence; indicator_ranges what it says for a year
    levers       the city's levers and applying them to the model's inputs
    scenarios    scenario runs, leverage ranking, portfolio, value-creation models, scenario vs baseline
    exposure     supplier concentration, EU supply risk, city exposure by country
    disruption   export restrictions: shortfall at every stage, what secondary supply covers
    upload_limits, upload_files, text_table, xlsx_reader, upload_numbers
                 reading an uploaded file: limits, CSV/Parquet, header rules, XLSX, numbers
    upload_kinds what can be uploaded: kinds, templates, data dictionary
    uploads      the upload check: neutralising, validating, codes, ownership, merge
    upload_changes  upload modes, the change list, history notes; upload_effect the model-effect preview
    accounts     accounts and roles
    views        the shareable view state and saved-view ids
    chain_charts the chain's Sankey and its phone list; time_charts, bar_charts, exposure_charts (Altair)
    maps         the pydeck maps (no network)
    exports      CSV/XLSX, PNG/SVG/HTML, the briefing and session documents
    briefing     the city briefing's content (HTML); pdf_briefing the same as a PDF
    priorities   what to do first: the largest losses and the levers that avoid them per euro
    glossary     the terms the pages use, their definitions and each page's "how to read"
    labels       names for people: materials with groups, countries, ids, short citations
    geography    the country outlines shipped in data/geo
    formatting   numbers, masses, differences and display tables for people
    cli          ``python -m decision_tools`` (a package: parser, common, one module per command group)
"""
