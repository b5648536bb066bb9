"""Reading and validating the project's data tables (the CSV files under ``data/``).

Each table has a declared layout (``TABLES``). ``read_project_tables`` reads every file, checks the
columns, types and rules, and cross-references between tables, and reports every problem at once,
each naming the file, the row (as numbered in the file, header = row 1), the column and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .provenance import CONFIDENCE_LABELS, split_sources  # noqa: F401 (split_sources used by uploads too)

STOCK_DRIVERS = ("per_inhabitant", "per_household", "per_city")
LIFETIME_MODELS = ("weibull", "normal", "fixed")
LEVER_PARAMETERS = ("collection_rate", "hibernation_return", "lifetime_extension", "reuse_share", "recovery_yield",
                    "recycled_content", "units_needed", "export_share")
MIN_YEAR, MAX_YEAR = 1950, 2100

# Plausibility bounds on quantities (issue 15): generous enough for any real figure, tight enough that a slipped
# unit, a misread thousands mark or an overflow (1e308, a population of 3 billion) is refused at validation,
# with the row and column named, instead of crashing the model or the database at publish. Every value inside
# them can be published (tests/unit/test_validation_rules.py builds the data with each column at its maximum).
MAX_PEOPLE = 50_000_000  # inhabitants or households of one city or district: the largest metropolitan areas hold about 40 million
WHY_PEOPLE = "one city or district has fewer than 50 million inhabitants or households"
MAX_GRAMS_PER_UNIT = 1e8  # 100 t of one material in one unit: far above the heaviest unit modelled (a wind turbine)
WHY_GRAMS = "100 t (1e8 g) of one material in one unit is far above any product modelled, a wind turbine included"
MAX_UNITS_PER_CITY = 1e7  # units per driver: per city, a city-level product may count millions (street lamps, meters)
WHY_UNITS = ("at most 10 million units per city (and 10,000 per inhabitant or household, checked against the "
             "product's stock driver)")
MAX_UNITS_PER_PERSON = 1e4  # per inhabitant or household: lamps, the most numerous product modelled, are tens
MAX_KG_PER_YEAR = 1e10  # 10 million t a year: more than the entire municipal waste of the largest city
WHY_KG_PER_YEAR = "10 million t (1e10 kg) a year is more than the entire waste of the largest city"
MAX_SCORE = 100.0  # EU criticality scores (supply risk, economic importance) stay below 10
WHY_SCORE = "the EU criticality scores stay below 10; 100 refuses only typos and overflow"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str", "float", "int", "bool"
    required: bool = True  # False: empty cells allowed
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] | None = None
    # A column added after files in the old layout existed: when a file lacks it, every row takes this
    # value (as text, as if written in the file) instead of the file being refused.
    default: str | None = None
    # Why the bounds are where they are (plausibility bounds on quantities): shown in the fix hint.
    why: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    has_provenance: bool = True
    may_be_empty: bool = False


def _share(name: str) -> Column:
    return Column(name, "float", min_value=0.0, max_value=1.0)


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
                _share("eu_eol_rir_share"),
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
                _share("hibernation_share"),
                _share("export_reuse_share"),
                _share("collection_rate"),
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
                _share("recovery_yield"),
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
                _share("value_share"),
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
                _share("reuse_share"),
                _share("take_back_share"),
                Column("collection_points", "float", min_value=-1.0, max_value=1.0),  # -1: no collection at all
                _share("yield_points"),
                _share("units_needed_cut"),
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
                _share("eol_rir_share"),
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
                _share("share"),
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
                _share("hhi_published"),
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
    )
}


def _first(values, n: int) -> list:
    """The first ``n`` items of a list, array, Index or Series (by position, whatever its labels)."""
    return list(values.iloc[:n] if isinstance(values, pd.Series) else values[:n])


@dataclass
class ValidationReport:
    """Every problem found, each a sentence naming file, row, column and value, most with a fix hint. When more
    than ``GROUP_AFTER`` rows break one rule in one column, one sentence says how many and names the first ones.
    At most ``max_problems()`` sentences are kept (a broken file can hold millions of problems); the rest are
    counted, and one last sentence says how many more there are. ``problem_count`` is the total.
    ``warnings`` are sentences about values that pass but look wrong (far from the current version's); ``reading_notes``
    say how the upload was read."""

    MAX_PROBLEMS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_PROBLEMS"
    DEFAULT_MAX_PROBLEMS = 20_000
    GROUP_AFTER = 20  # rows named one by one per rule and column; past it, one sentence with the first 20

    class Problems(list):
        """A list of problem sentences that keeps the first ``limit`` and counts the rest; once over the
        limit its last item is the sentence saying how many more there are. A sentence may stand for
        several problems (a grouped one counts every row it covers)."""

        def __init__(self, items=(), limit: int = 20_000):
            super().__init__()
            self.limit = max(1, int(limit))
            self.total = 0  # problems found
            self.listed = 0  # problems the kept sentences cover
            self.summarised = False  # the last item is the "... and N more" sentence
            self.extend(items)

        @classmethod
        def _rebuild(cls, items: list, limit: int, total: int, listed: int | None = None,
                     summarised: bool = False) -> "ValidationReport.Problems":
            out = cls(limit=limit)
            list.extend(out, items)
            out.total, out.listed, out.summarised = total, total if listed is None else listed, summarised
            return out

        def __reduce__(self):  # pickle and copy keep the sentences and the counts as they are
            return (self._rebuild, (list(self), self.limit, self.total, self.listed, self.summarised))

        @property
        def full(self) -> bool:
            return len(self) - self.summarised >= self.limit

        def append(self, sentence: str, count: int = 1) -> None:
            self.total += count
            if not self.full:
                super().append(sentence)
                self.listed += count
                return
            more = self.total - self.listed
            summary = (f"... and {more:,} more problem{'s' if more > 1 else ''} ({self.total:,} in all) not listed; "
                       "fix the ones listed and try again")
            if self.summarised:
                self[-1] = summary
            else:
                super().append(summary)
                self.summarised = True

        def extend(self, sentences) -> None:
            for sentence in sentences:
                self.append(sentence)

        def __iadd__(self, sentences):
            self.extend(sentences)
            return self

    problems: list[str] = field(default_factory=list)
    file_labels: dict[str, str] = field(default_factory=dict)  # table -> the file name to show
    warnings: list[str] = field(default_factory=list)
    reading_notes: list[str] = field(default_factory=list)  # how the file was read (encoding, decimal mark, skipped rows)

    def __post_init__(self) -> None:
        if not isinstance(self.problems, ValidationReport.Problems):
            self.problems = ValidationReport.Problems(self.problems, ValidationReport.max_problems())

    @staticmethod
    def max_problems() -> int:
        """Problem sentences kept per report: ``$URBAN_SYMBIOSIS_MAX_PROBLEMS`` or 20,000."""
        import os

        try:
            return max(1, int(float(os.environ.get(ValidationReport.MAX_PROBLEMS_ENV_VAR, "") or
                                    ValidationReport.DEFAULT_MAX_PROBLEMS)))
        except ValueError:
            return ValidationReport.DEFAULT_MAX_PROBLEMS

    @property
    def problem_count(self) -> int:
        """Every problem found, listed or not."""
        return self.problems.total if isinstance(self.problems, ValidationReport.Problems) else len(self.problems)

    def _where(self, table: str, row: int | None, column: str | None) -> str:
        where = self.file_labels.get(table, f"{table}.csv")
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        return where

    def add(self, table: str, row: int | None, column: str | None, value: object, rule: str,
            hint: str | None = None) -> None:
        """One problem: where, the value, the rule broken and (when given) how to fix it."""
        if isinstance(self.problems, ValidationReport.Problems) and self.problems.full:
            self.problems.append("")  # only counted: the sentence would not be kept
            return
        shown = "" if value is None else f": value {value!r}"
        fix = f". Fix: {hint}" if hint else ""
        self.problems.append(f"{self._where(table, row, column)}{shown}: {rule}{fix}")

    def add_rows(self, table: str, column: str | None, rows, values, rule: str, hint: str | None = None) -> None:
        """The rows (numbered as in the file) whose ``column`` breaks ``rule``, with their ``values`` (None: not
        shown): one sentence each, or past ``GROUP_AFTER`` one sentence with the count and the first rows."""
        rows, count = _first(rows, self.GROUP_AFTER + 1), len(rows)
        values = [None] * len(rows) if values is None else _first(values, self.GROUP_AFTER + 1)
        if count <= self.GROUP_AFTER:
            for row, value in zip(rows, values):
                self.add(table, int(row), column, value, rule, hint)
            return
        first = ", ".join(f"row {int(row)}" + ("" if value is None else f" {value!r}")
                          for row, value in zip(rows[: self.GROUP_AFTER], values))
        fix = f". Fix: {hint}" if hint else ""
        self.problems.append(f"{self._where(table, None, column)}: {count:,} rows: {rule} "
                             f"(the first {self.GROUP_AFTER}: {first}){fix}", count)

    def warn(self, table: str, column: str | None, rows, values, message: str) -> None:
        """A value that passes but looks wrong; like ``add_rows``, grouped past ``GROUP_AFTER`` rows."""
        count = len(rows)
        if not count:
            return
        shown = [f"row {int(row)}" + ("" if value is None else f" {value}")
                 for row, value in zip(_first(rows, self.GROUP_AFTER), _first(values, self.GROUP_AFTER))]
        where = self._where(table, None, column)
        if count == 1:
            self.warnings.append(f"{where}, {shown[0]}: {message}")
        else:
            first = "" if count <= self.GROUP_AFTER else f"the first {self.GROUP_AFTER}: "
            self.warnings.append(f"{where}: {count:,} rows: {message} ({first}{', '.join(shown)})")

    @property
    def ok(self) -> bool:
        return not self.problems


class DataValidationError(ValueError):
    """Raised when project tables break a rule; the message lists every problem."""

    def __init__(self, report: ValidationReport):
        self.report = report
        listed = "\n".join(f"  - {p}" for p in report.problems)
        super().__init__(f"{report.problem_count:,} problem(s) in the project data:\n{listed}")


def _file_row(index: int) -> int:
    """Row number as a person sees it in the file: the header is row 1."""
    return int(index) + 2


# The fix hint given with each rule (a sentence the researcher can act on).
HINT_REQUIRED = "fill in every cell of this column (the template's rules say what it holds)"
HINT_NUMBER = ("write digits with a decimal point (12.5), without units, spaces or thousands marks, or choose the "
               "file's decimal mark in the upload form")
HINT_FINITE = "write the value itself: inf, Infinity, NaN and numbers too large to compute with (1e309) are not values"
HINT_WHOLE = "write a whole number, without decimals (486000)"
HINT_BOOL = "write true or false (yes/no and 1/0 are read too)"
HINT_CHOICE = "write one of the values listed, spelt exactly so"
HINT_MIN = "check the sign, the unit and the decimal mark"
HINT_MAX = "check the unit and the decimal and thousands marks"
HINT_DUPLICATE = "keep one row per key: delete the repeated row or merge it with the earlier one"
HINT_SOURCE = ("cite a source_id listed in sources.csv (the Sources table of the Methods page), several separated by ';', "
               "or add the source there first")
BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_NAN_TEXT = ("nan", "+nan", "-nan")
_EXACT_INT = 2.0**53  # past it a float no longer holds every whole number (and Int64 refuses it)


def bound_text(value: float) -> str:
    """A bound as people write it: 0, 1, 1950, 50,000,000, 0.5, 1e+15."""
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:g}"


def _to_float(text: pd.Series) -> np.ndarray:
    """Text cells (missing where empty) as float64, NaN where empty or not a number. Arrow's parser reads a
    million cells in a tenth of the time pandas takes; when a cell does not read, pandas says which (NaN)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.cast(pa.array(text, from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False)
    except Exception:  # noqa: BLE001 - a cell that is not a number (ArrowInvalid), or no pyarrow
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _name_rows(report: ValidationReport, table: str, column: str, frame_index: pd.Index, mask: pd.Series,
               raw: pd.Series | None, rule: str, hint: str) -> None:
    """Report the rows where ``mask`` holds; nothing to do (the common, valid case) costs one ``any``."""
    if not mask.any():
        return
    labels = frame_index[mask.to_numpy(dtype=bool, na_value=False)]
    first = labels[: ValidationReport.GROUP_AFTER + 1]
    report.add_rows(table, column, labels + 2, None if raw is None else raw.loc[first], rule, hint)


def _coerce(frame: pd.DataFrame, spec: TableSpec, report: ValidationReport) -> pd.DataFrame:
    """The table with typed columns; every cell breaking its column's rule reported. Vectorised: rows are
    looked at one by one only when they break a rule, and then at most the first few per rule."""
    out = {}
    checked = {}  # what the per-column rules judge: the text, or the number as read (before a whole number is stored)
    for col in spec.columns:
        raw = frame[col.name]
        text = raw.astype("string").str.strip()
        empty = text.isna() | (text == "")

        def bad(mask: pd.Series, rule: str, hint: str, show: bool = True, column: str = col.name, raw: pd.Series = raw) -> None:
            _name_rows(report, spec.name, column, frame.index, mask, raw if show else None, rule, hint)

        if col.required:
            bad(empty, "a value is required", HINT_REQUIRED, show=False)
        if col.kind == "str":  # Python strings, None where empty: what the rest of the code compares with
            objects = text.to_numpy(dtype=object, na_value=None)
            if empty.any():
                objects[empty.to_numpy(dtype=bool, na_value=True)] = None
            values = pd.Series(objects, index=frame.index, dtype=object)
            out[col.name] = values
        elif col.kind == "bool":
            lowered = text.str.lower()
            bad(~empty & ~lowered.isin(list(BOOL_TEXT)), "must be true or false", HINT_BOOL)
            out[col.name] = lowered.map(BOOL_TEXT).astype("boolean")
            continue
        else:
            array = _to_float(text.where(~empty, None))
            numbers = pd.Series(array, index=frame.index)
            finite = np.isfinite(array)
            not_number = ~empty & ~pd.Series(finite, index=frame.index)
            if not_number.any():  # "nan" written as text is not finite either, rather than not a number
                nan_text = not_number & text.str.lower().isin(_NAN_TEXT)
                infinite = pd.Series(np.isinf(array), index=frame.index)
                bad(not_number & ~infinite & ~nan_text, "must be a number", HINT_NUMBER)
                bad(infinite | nan_text, "must be a finite number", HINT_FINITE)
            numbers = numbers.where(finite)
            if col.kind == "int":
                bad(numbers.notna() & (numbers != numbers.round()), "must be a whole number", HINT_WHOLE)
                out[col.name] = numbers.where(numbers.abs() < _EXACT_INT).round().astype("Int64")
            else:
                out[col.name] = numbers.astype("Float64")
            values = numbers
        checked[col.name] = values
    _check_column_rules(spec, pd.DataFrame(checked, index=frame.index), frame, report)
    return pd.DataFrame(out, index=frame.index)


@lru_cache(maxsize=None)
def _column_rules(table: str):
    """The table's per-column rules (bounds, allowed values) as a pandera schema, with (rule, hint) per
    column and check number for the sentence a failure is reported with. Built once per table."""
    import pandera.pandas as pa  # imported only when a table is validated: it costs a second at start-up

    columns, sentences = {}, {}
    for col in TABLES[table].columns:
        rules = []
        why = f"; {col.why}" if col.why else ""
        if col.min_value is not None:
            rules.append((pa.Check.ge(col.min_value), f"must be at least {bound_text(col.min_value)}", HINT_MIN))
        if col.max_value is not None:
            rules.append((pa.Check.le(col.max_value), f"must be at most {bound_text(col.max_value)}", f"{HINT_MAX}{why}"))
        if col.choices is not None:
            rules.append((pa.Check.isin(col.choices), f"must be one of {', '.join(col.choices)}", HINT_CHOICE))
        if rules:  # empty cells are the required rule's business (checked before), so every check skips them
            columns[col.name] = pa.Column(checks=[check for check, _, _ in rules], nullable=True)
            sentences.update({(col.name, number): (rule, hint) for number, (_, rule, hint) in enumerate(rules)})
    return pa.DataFrameSchema(columns, strict=False), sentences


def _check_column_rules(spec: TableSpec, values: pd.DataFrame, raw: pd.DataFrame, report: "ValidationReport") -> None:
    """Run the per-column rules (pandera, every failure at once) on the values as read and report each
    failing cell by row and column, with the cell as written in the file."""
    import pandera.errors

    schema, sentences = _column_rules(spec.name)
    try:
        schema.validate(values, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        failures = exc.failure_cases.dropna(subset=["index"])
        for (column, number), group in failures.groupby(["column", "check_number"], sort=False):
            rule, hint = sentences[(column, int(number))]
            labels = pd.Index(group["index"].astype("int64").unique())
            report.add_rows(spec.name, column, labels + 2, raw[column].loc[labels[: ValidationReport.GROUP_AFTER + 1]],
                            rule, hint)


def validate_table(name: str, frame: pd.DataFrame, report: ValidationReport) -> pd.DataFrame | None:
    """Check one table's columns, types, ranges and key uniqueness; return it typed, or None."""
    spec = TABLES[name]
    expected = [c.name for c in spec.columns]
    added_later = {c.name: c.default for c in spec.columns if c.default is not None and c.name not in frame.columns}
    if added_later:
        frame = frame.assign(**added_later)
    missing = [c for c in expected if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in expected]
    if missing:
        report.add(name, None, None, None, f"missing column(s) {', '.join(missing)}; expected {', '.join(expected)}",
                   "use the template's header row (the Data page and `ingest --help` give the templates)")
    if unknown:
        report.add(name, None, None, None, f"unexpected column(s) {', '.join(map(str, unknown))}",
                   f"delete them; the columns are {', '.join(expected)}")
    if missing:
        return None
    if frame.empty and not spec.may_be_empty:
        report.add(name, None, None, None, "the table has no rows")
        return None
    typed = _coerce(frame, spec, report)
    duplicated = typed.duplicated(list(spec.key), keep="first")
    if duplicated.any():
        labels = typed.index[duplicated.to_numpy(dtype=bool)]
        first = typed.loc[labels[: ValidationReport.GROUP_AFTER + 1], list(spec.key)]
        keys = [", ".join(f"{k}={row[k]}" for k in spec.key) for _, row in first.iterrows()]
        if len(labels) <= ValidationReport.GROUP_AFTER:
            for label, key in zip(labels, keys):
                report.add(name, _file_row(label), None, None, f"duplicate key ({key}): appears earlier in the file",
                           HINT_DUPLICATE)
        else:
            report.add_rows(name, None, labels + 2, keys, f"duplicate key ({', '.join(spec.key)}): appears earlier "
                            "in the file", HINT_DUPLICATE)
    return typed


def _check_references(tables: dict[str, pd.DataFrame], report: ValidationReport) -> None:
    """Cross-table rules among the tables read: codes exist, sources are listed, shares add up."""
    known_sources = set(tables["sources"]["source_id"])
    products = set(tables["products"]["product"])
    materials = set(tables["materials"]["symbol"])
    cities = set(tables["cities"]["city"])
    countries = set(tables["cities"]["country_iso3"])

    # Each distinct value is checked once (large tables repeat a few codes), then every row holding a bad one named
    # (grouped past ValidationReport.GROUP_AFTER rows).
    for name, frame in tables.items():
        if TABLES[name].has_provenance:
            values = frame["source_id"]
            unknown = {value: ";".join(bad) for value in values.unique()
                       if (bad := [source for source in split_sources(value or "") if source not in known_sources])}
            if not unknown:
                continue
            held = values[values.isin(list(unknown))]
            report.add_rows(name, "source_id", held.index + 2, held.iloc[: ValidationReport.GROUP_AFTER + 1].map(unknown),
                            "not listed in sources.csv", HINT_SOURCE)

    def check_codes(table: str, column: str, allowed: set[str], what: str) -> None:
        if table not in tables:
            return
        values = tables[table][column]
        unknown = [value for value in values.unique() if value is not None and value not in allowed]
        if not unknown:
            return
        held = values[values.isin(unknown)]
        report.add_rows(table, column, held.index + 2, held, f"unknown {what}",
                        f"use one of the {len(allowed)} known: {', '.join(sorted(allowed))}")

    def check_code_lists(table: str, column: str, allowed: set[str], what: str) -> None:
        if table not in tables:
            return
        for idx, value in tables[table][column].items():
            unknown = [code for code in split_sources(value if isinstance(value, str) else "") if code != "all" and code not in allowed]
            if unknown:
                report.add(table, _file_row(idx), column, ";".join(unknown), f"unknown {what}",
                           f"use codes separated by ';' or 'all'; known: {', '.join(sorted(allowed))}")

    for table in ("eol_routing", "product_content", "recovery_yields", "ownership"):
        check_codes(table, "product", products, "product")
    for table in ("product_content", "recovery_yields", "material_prices", "supplier_shares", "production_concentration", "by_products"):
        check_codes(table, "material", materials, "material")
    check_codes("districts", "city", cities, "city")
    check_codes("measured_flows", "city", cities, "city")
    check_codes("organisations", "city", cities, "city")
    check_codes("ewc_crosswalk", "product", products, "product")
    check_codes("needs", "material", materials, "material")
    if "organisations" in tables:
        organisations = set(tables["organisations"]["org_id"])
        check_codes("offers", "org_id", organisations, "organisation")
        check_codes("needs", "org_id", organisations, "organisation")
    if "ewc_crosswalk" in tables:
        check_codes("offers", "stream_code", set(tables["ewc_crosswalk"]["stream_code"]), "stream code")
    check_codes("ownership", "geography", {"EU"} | countries | cities, "geography (EU, a country code or a city)")
    check_codes("eol_routing", "geography", {"EU"} | countries | cities, "geography (EU, a country code or a city)")
    if "ownership" in tables:  # the column's bound is per city; per inhabitant or household it is tighter
        ownership = tables["ownership"]
        over = ownership.loc[(ownership["units_per_driver"] > MAX_UNITS_PER_PERSON).to_numpy(dtype=bool, na_value=False)]
        drivers = over["product"].map(tables["products"].set_index("product")["stock_driver"])
        held = over.loc[drivers.isin(["per_inhabitant", "per_household"]).to_numpy(dtype=bool), "units_per_driver"]
        report.add_rows("ownership", "units_per_driver", held.index + 2, held,
                        f"must be at most {bound_text(MAX_UNITS_PER_PERSON)} for a product counted per inhabitant or "
                        "household", f"{HINT_MAX}; only products counted per city may have more units per driver")
    check_code_lists("levers", "products", products, "product")
    check_code_lists("levers", "materials", materials, "material")
    check_code_lists("targets", "materials", materials, "material")
    check_code_lists("targets", "products", products, "product")  # empty: no modelled product in the target's scope
    if "countries" in tables:
        known_countries = set(tables["countries"]["country_iso3"])
        check_codes("supplier_shares", "country_iso3", known_countries | {"ROW"}, "country (or ROW)")
        check_codes("export_controls", "country_iso3", known_countries, "country")
    if "supplier_shares" in tables:
        for (material, stage), total in tables["supplier_shares"].groupby(["material", "stage"])["share"].sum().items():
            if abs(float(total) - 1.0) > 0.002:
                report.add("supplier_shares", None, "share", round(float(total), 4),
                           f"the shares of {material} at {stage} must sum to 1 (add a ROW row for the rest)")
    if "material_prices" in tables:
        for symbol in sorted(materials - set(tables["material_prices"]["material"])):
            report.add("material_prices", None, "material", symbol, "every material needs a price")
    if "levers" in tables:
        for idx, row in tables["levers"].iterrows():
            if not row["minimum"] <= row["default"] <= row["maximum"]:
                report.add("levers", _file_row(idx), "default", row["default"], "must lie between minimum and maximum")

    routed = set(tables["eol_routing"].loc[tables["eol_routing"]["geography"] == "EU", "product"])
    owned = set(tables["ownership"]["product"])
    for product in sorted(products):
        if product not in routed:
            report.add("eol_routing", None, "product", product, "every product needs routing rows for the geography EU "
                       "(the fallback where a country or city has none)")
        if product not in owned:
            report.add("ownership", None, "product", product, "every product needs ownership figures")

    content_keys = set(zip(tables["product_content"]["product"], tables["product_content"]["material"]))
    yield_keys = set(zip(tables["recovery_yields"]["product"], tables["recovery_yields"]["material"]))
    for product, material in sorted(content_keys - yield_keys):
        report.add("recovery_yields", None, None, f"{product}/{material}", "material content without a recovery yield")

    districts = tables["districts"]
    for city, total in districts.groupby("city")["population"].sum().items():
        city_population = int(tables["cities"].set_index("city").at[city, "population"])
        if abs(int(total) - city_population) > 0.005 * city_population:
            report.add(
                "districts", None, "population", int(total),
                f"districts of {city} must sum to the city population {city_population} (within 0.5 %)",
            )


FAR_FACTOR = 10.0  # a value more than 10 times, or less than a tenth of, the current one is worth a second look
NOT_QUANTITIES = ("lat", "lon", "year", "from_year", "start_year", "ramp_years")  # a ratio of these means nothing


def far_from_current(table: str, frame: pd.DataFrame, current: pd.DataFrame | None, report: ValidationReport) -> None:
    """Warn (not refuse) where an uploaded quantity is more than ``FAR_FACTOR`` times, or less than
    1/``FAR_FACTOR`` of, the current version's value for the same key: often a slipped unit or decimal mark,
    sometimes a real correction. Only keys the current version holds, and values above zero on both sides."""
    spec = TABLES[table]
    key = list(spec.key)
    if current is None or current.empty or frame.empty or any(k not in frame.columns or k not in current.columns for k in key):
        return
    quantities = [c.name for c in spec.columns if c.kind in ("float", "int") and c.name not in key
                  and c.name not in NOT_QUANTITIES and c.name in frame.columns and c.name in current.columns]
    if not quantities:
        return
    # Most rows of a large upload are new keys: only those whose first key the current version has are joined.
    near = frame[frame[key[0]].isin(current[key[0]].unique())]
    if near.empty:
        return
    old = current[key + quantities].copy()
    new = near[key + quantities].copy()
    for k in key:  # the same key may be typed differently on the two sides (Int64 and int32)
        if spec.columns[[c.name for c in spec.columns].index(k)].kind == "int":
            old[k], new[k] = old[k].astype("Int64"), new[k].astype("Int64")
    joined = new.rename_axis("_label").reset_index().merge(old, on=key, how="inner", suffixes=("", "_current"))
    for column in quantities:
        after = joined[column].astype("float64").to_numpy(na_value=np.nan)
        before = joined[f"{column}_current"].astype("float64").to_numpy(na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = after / before
        far = (after > 0) & (before > 0) & ((ratio > FAR_FACTOR) | (ratio < 1 / FAR_FACTOR))
        if not far.any():
            continue
        hits = joined[far]
        shown = [f"{a:g} (now {b:g})" for a, b in zip(hits[column].head(ValidationReport.GROUP_AFTER),
                                                      hits[f"{column}_current"].head(ValidationReport.GROUP_AFTER))]
        report.warn(table, column, hits["_label"].to_numpy() + 2, shown,
                    f"more than {FAR_FACTOR:g} times, or less than 1/{FAR_FACTOR:g} of, the current version's value for "
                    "the same key; check the unit and the decimal mark (published as it is if you go on)")


# The tables the city model needs; the others feed the pages (levers, exposure, targets, ...).
MODEL_TABLES = ("sources", "materials", "products", "eol_routing", "product_content", "recovery_yields",
                "cities", "districts", "ownership")


def read_project_tables(data_dir: Path, names: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    """Read and validate the project tables (all of them, or ``names`` and what the model needs);
    raise DataValidationError listing every problem."""
    report = ValidationReport()
    tables: dict[str, pd.DataFrame] = {}
    wanted = TABLES if names is None else [n for n in TABLES if n in set(names) | set(MODEL_TABLES)]
    for name in wanted:
        path = Path(data_dir) / f"{name}.csv"
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except FileNotFoundError:
            report.add(name, None, None, None, f"file not found at {path}")
            continue
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            report.add(name, None, None, None, f"cannot be read as a UTF-8 CSV table ({detail})")
            continue
        typed = validate_table(name, frame, report)
        if typed is not None:
            tables[name] = typed
    if report.ok:
        _check_references(tables, report)
    if not report.ok:
        raise DataValidationError(report)
    return tables


SQL_TYPES = {"str": "VARCHAR", "float": "DOUBLE", "int": "INTEGER", "bool": "BOOLEAN"}


def table_ddl(spec: TableSpec) -> str:
    """CREATE TABLE for an input table: its columns with SQL types, NOT NULL where required, and
    the key (with version_id) as primary key. Input tables are versioned: every row has a version_id."""
    columns = ["version_id INTEGER NOT NULL"] + [
        f'"{c.name}" {SQL_TYPES[c.kind]}{" NOT NULL" if c.required else ""}' for c in spec.columns
    ]
    key = ", ".join(["version_id", *(f'"{k}"' for k in spec.key)])
    return f"CREATE TABLE {spec.name} (\n    " + ",\n    ".join(columns) + f",\n    PRIMARY KEY ({key})\n);"
