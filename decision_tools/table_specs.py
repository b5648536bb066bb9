"""The declared layout of every input table (the CSV files under ``data/`` and the uploads that replace them).

This module owns ``TABLES``: each table's columns, types, bounds, allowed values and key, declared with the
parts in ``column_specs``. The checks that apply them are in ``table_checks``.
"""

from __future__ import annotations

from .column_specs import (ACTING_LEVELS, LEVER_PARAMETERS, LIFETIME_MODELS, MAX_GRAMS_PER_UNIT, MAX_KG_PER_YEAR, MAX_PEOPLE, MAX_SCORE,
                           MAX_UNITS_PER_CITY, MAX_YEAR, MIN_YEAR, STOCK_DRIVERS, WHY_GRAMS, WHY_KG_PER_YEAR, WHY_PEOPLE,
                           WHY_SCORE, WHY_UNITS, Column, TableSpec, share_column)
from .provenance import CONFIDENCE_LABELS

_PROVENANCE = (Column("source_id", "str"), Column("confidence", "str", choices=CONFIDENCE_LABELS))

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "sources",
            "bibliography: one row per source cited by the other tables",
            (
                Column("source_id", "str"),
                Column("citation", "str"),
                Column("publisher", "str"),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                Column("url", "str", required=False),
                Column("note", "str", required=False),
            ),
            key=("source_id",),
            has_provenance=False,
        ),
        TableSpec(
            "materials",
            "materials with their EU 2023 criticality figures",
            (
                Column("symbol", "str"),
                Column("name", "str"),
                Column("material_group", "str"),
                Column("supply_risk", "float", min_value=0.0, max_value=MAX_SCORE, why=WHY_SCORE),
                Column("economic_importance", "float", min_value=0.0, max_value=MAX_SCORE, why=WHY_SCORE),
                Column("bottleneck_stage", "str", choices=("extraction", "processing")),
                share_column("eu_eol_rir_share"),
                Column("critical_2023", "bool"),
                Column("strategic_2024", "bool"),
                Column("role", "str"),
                *_PROVENANCE,
            ),
            key=("symbol",),
        ),
        TableSpec(
            "products",
            "products with their stock driver and lifetime model",
            (
                Column("product", "str"),
                Column("name", "str"),
                Column("sector", "str"),
                Column("unit", "str"),
                Column("stock_driver", "str", choices=STOCK_DRIVERS),
                Column("lifetime_model", "str", choices=LIFETIME_MODELS),
                Column("lifetime_mean_years", "float", min_value=0.5, max_value=100.0),
                # Years (normal) or a Weibull shape: beyond 100 it is no longer a lifetime distribution.
                Column("lifetime_spread", "float", min_value=0.0, max_value=100.0,
                       why="a spread of 100 (years, or a Weibull shape) is no longer a lifetime distribution"),
                Column("hibernation_mean_years", "float", min_value=0.5, max_value=30.0),
                # Parts of the same thing (an EV's battery and motor): the Monte Carlo draws their units in
                # use and lifetime once per group. Empty (or a file without the column): its own group.
                Column("draw_group", "str", required=False, default=""),
                *_PROVENANCE,
            ),
            key=("product",),
        ),
        TableSpec(
            "eol_routing",
            "end-of-life routing shares per product and geography (EU, a country or a city), valid from a year on",
            (
                Column("geography", "str", default="EU"),
                Column("product", "str"),
                Column("from_year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                share_column("hibernation_share"),
                share_column("export_reuse_share"),
                share_column("collection_rate"),
                *_PROVENANCE,
                Column("basis", "str", required=False),
            ),
            key=("geography", "product", "from_year"),
        ),
        TableSpec(
            "product_content",
            "grams of each material per unit of product, for units made from a year on",
            (
                Column("product", "str"),
                Column("material", "str"),
                Column("from_year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR, default=str(MIN_YEAR)),
                Column("grams_per_unit", "float", min_value=0.0, max_value=MAX_GRAMS_PER_UNIT, why=WHY_GRAMS),
                *_PROVENANCE,
                Column("basis", "str", required=False),
            ),
            key=("product", "material", "from_year"),
        ),
        TableSpec(
            "recovery_yields",
            "share of a collected material recovered as secondary raw material, valid from a year on",
            (
                Column("product", "str"),
                Column("material", "str"),
                Column("from_year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                share_column("recovery_yield"),
                *_PROVENANCE,
                Column("basis", "str", required=False),
            ),
            key=("product", "material", "from_year"),
        ),
        TableSpec(
            "cities",
            "cities with population, households and centre coordinates",
            (
                Column("city", "str"),
                Column("country_iso3", "str"),
                Column("population", "int", min_value=1, max_value=MAX_PEOPLE, why=WHY_PEOPLE),
                Column("households", "int", min_value=1, max_value=MAX_PEOPLE, why=WHY_PEOPLE),
                Column("lat", "float", min_value=-90.0, max_value=90.0),
                Column("lon", "float", min_value=-180.0, max_value=180.0),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("city",),
        ),
        TableSpec(
            "districts",
            "districts of a city with population and approximate centroid",
            (
                Column("city", "str"),
                Column("district", "str"),
                Column("population", "int", min_value=0, max_value=MAX_PEOPLE, why=WHY_PEOPLE),
                Column("lat", "float", min_value=-90.0, max_value=90.0),
                Column("lon", "float", min_value=-180.0, max_value=180.0),
                *_PROVENANCE,
            ),
            key=("city", "district"),
            may_be_empty=True,  # cities without district data are modelled as a whole
        ),
        TableSpec(
            "targets",
            "EU targets and benchmarks, with their legal definition and whether a city indicator can be compared (shares 0..1)",
            (
                Column("target_id", "str"),
                Column("instrument", "str"),  # the law, article and paragraph
                Column("description", "str"),
                Column("definition", "str", default="not recorded"),  # the legal definition, numerator and denominator
                Column("denominator", "str", default="not recorded"),  # what the law divides by
                Column("indicator", "str", required=False),  # empty: not a city indicator
                Column("products", "str", required=False),  # 'all', product codes separated by ';', empty: none modelled
                Column("materials", "str"),  # 'all' or symbols separated by ';'
                share_column("value_share"),
                Column("direction", "str", choices=("min", "max")),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),  # first calendar year it applies in full
                # Defaults: targets recorded before they carried their definition are listed, never drawn.
                Column("basis", "str", choices=("same", "converted", "not_comparable"), default="not_comparable"),
                Column("conversion_factor", "float", required=False, min_value=0.0, max_value=1000.0,  # basis 'converted': value x factor
                       why="a factor above 1,000 converts between different quantities, not bases"),
                Column("reason", "str", default="recorded before targets carried their legal definition: not compared"),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("target_id",),
        ),
        TableSpec(
            "levers",
            "the levers a city has: what each moves, its range, who acts and what it costs",
            (
                Column("lever_id", "str"),
                Column("name", "str"),
                Column("description", "str"),
                Column("parameter", "str", choices=LEVER_PARAMETERS),
                Column("products", "str"),  # 'all' or product codes separated by ';'
                Column("materials", "str"),  # 'all' or material symbols separated by ';'
                Column("unit", "str"),
                Column("minimum", "float", min_value=0.0, max_value=1.0),
                Column("default", "float", min_value=0.0, max_value=1.0),
                Column("maximum", "float", min_value=0.0, max_value=1.0),
                Column("step", "float", min_value=0.0, max_value=1.0),
                Column("competence", "str", choices=("direct", "partners", "advocacy")),
                Column("who_acts", "str"),
                Column("start_year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                Column("ramp_years", "int", min_value=1, max_value=30),
                Column("cost_eur_per_inhabitant_at_max", "float", min_value=0.0, max_value=100_000.0,
                       why="100,000 EUR per inhabitant is more than a city's whole budget per inhabitant for years"),
                Column("cost_confidence", "str", choices=CONFIDENCE_LABELS),
                *_PROVENANCE,
                # Who can move the lever, and the instruments or targets behind it (ids of eu_instruments or
                # targets, ';'-separated; empty: the city's own choice). Older files lack them: not recorded.
                Column("acting_level", "str", choices=(*ACTING_LEVELS, "not recorded"), default="not recorded"),
                Column("legal_basis", "str", required=False, default=""),
            ),
            key=("lever_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "material_prices",
            "a price per kg per material, to value retained material",
            (
                Column("material", "str"),
                # The dearest metals modelled (platinum-group) trade well below a million EUR per kg.
                Column("price_eur_per_kg", "float", min_value=0.0, max_value=1e7,
                       why="10 million EUR per kg is above any metal's price ever recorded"),
                Column("price_basis", "str"),
                Column("price_date", "str"),
                *_PROVENANCE,
            ),
            key=("material",),
        ),
        TableSpec(
            "business_models",
            "value-creation models a company could use, as changes to one product's chain",
            (
                Column("model_id", "str"),
                Column("name", "str"),
                Column("description", "str"),
                Column("lifetime_extension", "float", min_value=0.0, max_value=2.0),
                share_column("reuse_share"),
                share_column("take_back_share"),
                Column("collection_points", "float", min_value=-1.0, max_value=1.0),  # -1: no collection at all
                share_column("yield_points"),
                share_column("units_needed_cut"),
                *_PROVENANCE,
            ),
            key=("model_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "eu_criticality",
            "every material of the EU 2023 criticality assessment (for the criticality chart and SR recomputation)",
            (
                Column("material_name", "str"),
                Column("symbol", "str", required=False),
                Column("material_group", "str", required=False),
                Column("supply_risk", "float", min_value=0.0, max_value=MAX_SCORE, why=WHY_SCORE),
                Column("economic_importance", "float", min_value=0.0, max_value=MAX_SCORE, why=WHY_SCORE),
                Column("bottleneck_stage", "str", choices=("extraction", "processing")),
                Column("sr_extraction", "float", required=False, min_value=0.0, max_value=MAX_SCORE, why=WHY_SCORE),
                Column("sr_processing", "float", required=False, min_value=0.0, max_value=MAX_SCORE, why=WHY_SCORE),
                Column("si_ei", "float", required=False, min_value=0.0, max_value=1.0),
                Column("si_sr", "float", required=False, min_value=0.0, max_value=1.0),
                Column("import_reliance_extraction", "float", required=False, min_value=0.0, max_value=1.0),
                Column("import_reliance_processing", "float", required=False, min_value=0.0, max_value=1.0),
                share_column("eol_rir_share"),
                Column("critical_2023", "bool"),
                Column("strategic_2024", "bool"),
                *_PROVENANCE,
            ),
            key=("material_name",),
        ),
        TableSpec(
            "supplier_shares",
            "shares 0..1 of world supply by country, per material and stage (ROW: the rest, unspecified)",
            (
                Column("material", "str"),
                Column("stage", "str", choices=("extraction", "processing")),
                Column("country_iso3", "str"),
                share_column("share"),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("material", "stage", "country_iso3"),
        ),
        TableSpec(
            "production_concentration",
            "published Herfindahl-Hirschman index over all producing countries (0..1)",
            (
                Column("material", "str"),
                Column("stage", "str", choices=("extraction", "processing")),
                share_column("hhi_published"),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("material", "stage"),
        ),
        TableSpec(
            "countries",
            "supplying countries: name, centre, political stability (WGI, normalised 0 stable .. 1)",
            (
                Column("country_iso3", "str"),
                Column("name", "str"),
                Column("lat", "float", min_value=-90.0, max_value=90.0),
                Column("lon", "float", min_value=-180.0, max_value=180.0),
                Column("wgi_pv_norm", "float", required=False, min_value=0.0, max_value=1.0),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("country_iso3",),
        ),
        TableSpec(
            "export_controls",
            "export restrictions on critical raw materials: ready-made disruption scenarios",
            (
                Column("control_id", "str"),
                Column("date", "str"),
                Column("country_iso3", "str"),
                Column("measure", "str"),
                Column("materials", "str"),  # symbols separated by ';' (some are not modelled)
                Column("confidence", "str", choices=CONFIDENCE_LABELS),
                Column("source_id", "str"),
            ),
            key=("control_id",),
        ),
        TableSpec(
            "by_products",
            "metals produced mostly as by-products of a host metal (supply cannot follow their own price)",
            (Column("material", "str"), Column("host_metals", "str"), *_PROVENANCE),
            key=("material",),
        ),
        TableSpec(
            "measured_flows",
            "measured flows of a city, for comparison with the model (kg per year)",
            (
                Column("city", "str"),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                Column("category", "str"),  # a product code or a WEEE category name
                Column("flow", "str", choices=("collected", "recycled", "exported", "residual")),
                Column("kg", "float", min_value=0.0, max_value=MAX_KG_PER_YEAR, why=WHY_KG_PER_YEAR),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("city", "year", "category", "flow"),
            may_be_empty=True,
        ),
        TableSpec(
            "ewc_crosswalk",
            "waste streams (European Waste Catalogue codes) and the product whose composition they carry",
            (Column("stream_code", "str"), Column("description", "str"), Column("product", "str"),
             Column("unit_mass_kg", "float", min_value=0.001, max_value=1e6,
                    why="1,000 t per unit is heavier than a whole wind turbine"), *_PROVENANCE),
            key=("stream_code",),
        ),
        TableSpec(
            "organisations",
            "organisations of the symbiosis hub (demo ones are fictitious)",
            (Column("org_id", "str"), Column("name", "str"), Column("org_type", "str"), Column("sector", "str"),
             Column("city", "str"), Column("lat", "float", min_value=-90.0, max_value=90.0),
             Column("lon", "float", min_value=-180.0, max_value=180.0), Column("owner", "str"),
             Column("fictitious", "bool"), *_PROVENANCE),
            key=("org_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "offers",
            "material or product streams organisations offer (kg per year)",
            (Column("offer_id", "str"), Column("org_id", "str"), Column("description", "str"), Column("stream_code", "str"),
             Column("kg_per_year", "float", min_value=0.0, max_value=MAX_KG_PER_YEAR, why=WHY_KG_PER_YEAR), Column("availability", "str"),
             Column("hide_quantity", "bool"), Column("hide_location", "bool"), *_PROVENANCE),
            key=("offer_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "needs",
            "materials organisations need (kg per year)",
            (Column("need_id", "str"), Column("org_id", "str"), Column("material", "str"),
             Column("kg_per_year", "float", min_value=0.0, max_value=MAX_KG_PER_YEAR, why=WHY_KG_PER_YEAR), Column("quality", "str"), *_PROVENANCE),
            key=("need_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "ownership",
            "units of a product per driver (inhabitant, household or city) by year and geography",
            (
                Column("geography", "str"),
                Column("product", "str"),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                Column("units_per_driver", "float", min_value=0.0, max_value=MAX_UNITS_PER_CITY, why=WHY_UNITS),
                *_PROVENANCE,
                Column("basis", "str", required=False),
            ),
            key=("geography", "product", "year"),
        ),
        TableSpec(
            "external_figures",
            "published figures the model's results are checked against (decision_tools.validation)",
            (
                Column("figure_id", "str"),
                Column("description", "str"),
                Column("geography", "str"),  # EU, EU27+4, Europe (all modelled cities), an ISO3 country code or a city
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),
                # Units vary (kg per inhabitant, W, shares, cars): the bound only refuses overflow and typos.
                Column("value", "float", min_value=0.0, max_value=1e15,
                       why="published figures in any of the units used stay far below 1e15"),
                Column("unit", "str"),
                Column("model_quantity", "str"),  # a key of decision_tools.validation.QUANTITIES
                Column("scope", "str", choices=("same", "part")),  # part: the model covers only part of the figure
                Column("scope_note", "str"),
                Column("note", "str", required=False),
                *_PROVENANCE,
            ),
            key=("figure_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "product_regimes",
            "the EU waste regimes that cover each product (WEEE and its category, Batteries Regulation, ELV, none)",
            (
                Column("product", "str"),
                Column("regimes", "str"),  # column_specs.WASTE_REGIMES separated by ';' (decision_tools.rules)
                Column("weee_category", "int", required=False, min_value=1, max_value=6),  # WEEE Annex III; empty: not WEEE
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("product",),
            may_be_empty=True,  # a product without a row: regime not recorded
        ),
        TableSpec(
            "eu_instruments",
            "EU obligations beyond the numeric targets (design, treatment, labelling, exports, programmes), with their dates",
            (
                Column("instrument_id", "str"),
                Column("instrument", "str"),
                Column("article", "str"),
                Column("obligation", "str"),
                Column("products", "str", required=False),  # 'all', product codes separated by ';', or empty
                Column("regimes", "str", required=False),  # or: every product under these regimes (WASTE_REGIMES)
                Column("materials", "str"),  # 'all' or symbols separated by ';'
                Column("from_date", "str", required=False),  # ISO date it applies from; empty: not fixed yet
                Column("who_acts", "str", choices=ACTING_LEVELS),
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("instrument_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "city_owned_stock",
            "what the municipality and its companies own (an asset register): units of a product by owner and year",
            (
                Column("city", "str"),
                Column("owner", "str"),  # the city itself or one of its companies ("Helen Ltd", "City of Espoo")
                Column("product", "str"),
                Column("year", "int", min_value=MIN_YEAR, max_value=MAX_YEAR),  # the year the count is for
                Column("units", "float", min_value=0.0, max_value=MAX_UNITS_PER_CITY,
                       why="one owner's units of one product in one city stay below 10 million (street lamps, meters)"),
                *_PROVENANCE,
                Column("note", "str", required=False),  # how the count was made (the arithmetic when derived)
            ),
            key=("city", "owner", "product", "year"),
            may_be_empty=True,  # a city without a published register has no rows (never zeros)
        ),
        TableSpec(
            "procurement_clauses",
            "procurement clauses a city can write into its tenders, each translated into one lever (decision_tools.procurement)",
            (
                Column("clause_id", "str"),
                Column("name", "str"),
                Column("description", "str"),
                Column("purchase_categories", "str"),  # product codes separated by ';': what the clause is written for
                Column("lever_id", "str"),  # the lever of levers.csv the clause moves
                # The lever's level when the clause covers all the city's own units of those products (within the lever's range).
                Column("lever_level", "float", min_value=0.0, max_value=1.0),
                Column("legal_basis", "str", required=False),  # the law that lets a buyer write it, in words
                *_PROVENANCE,
                Column("note", "str", required=False),
            ),
            key=("clause_id",),
            may_be_empty=True,
        ),
    )
}
