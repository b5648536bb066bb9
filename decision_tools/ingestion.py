"""Reading and validating the project's data tables (the CSV files under ``data/``).

Each table has a declared layout (``TABLES``). ``read_project_tables`` reads every file, checks the
columns, types and rules, and cross-references between tables, and reports every problem at once,
each naming the file, the row (as numbered in the file, header = row 1), the column and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .provenance import CONFIDENCE_LABELS, split_sources  # noqa: F401 (split_sources used by uploads too)

STOCK_DRIVERS = ("per_inhabitant", "per_household", "per_city")
LIFETIME_MODELS = ("weibull", "normal", "fixed")
LEVER_PARAMETERS = ("collection_rate", "hibernation_return", "lifetime_extension", "reuse_share", "recovery_yield",
                    "recycled_content", "units_needed", "export_share")
MIN_YEAR, MAX_YEAR = 1950, 2100


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
                Column("supply_risk", "float", min_value=0.0),
                Column("economic_importance", "float", min_value=0.0),
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
                Column("lifetime_spread", "float", min_value=0.0),
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
                Column("grams_per_unit", "float", min_value=0.0),
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
                Column("population", "int", min_value=1),
                Column("households", "int", min_value=1),
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
                Column("population", "int", min_value=0),
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
                Column("conversion_factor", "float", required=False, min_value=0.0),  # basis 'converted': value x factor
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
                Column("cost_eur_per_inhabitant_at_max", "float", min_value=0.0),
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
                Column("price_eur_per_kg", "float", min_value=0.0),
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
                Column("supply_risk", "float", min_value=0.0),
                Column("economic_importance", "float", min_value=0.0),
                Column("bottleneck_stage", "str", choices=("extraction", "processing")),
                Column("sr_extraction", "float", required=False, min_value=0.0),
                Column("sr_processing", "float", required=False, min_value=0.0),
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
                Column("kg", "float", min_value=0.0),
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
             Column("unit_mass_kg", "float", min_value=0.001), *_PROVENANCE),
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
             Column("kg_per_year", "float", min_value=0.0), Column("availability", "str"),
             Column("hide_quantity", "bool"), Column("hide_location", "bool"), *_PROVENANCE),
            key=("offer_id",),
            may_be_empty=True,
        ),
        TableSpec(
            "needs",
            "materials organisations need (kg per year)",
            (Column("need_id", "str"), Column("org_id", "str"), Column("material", "str"),
             Column("kg_per_year", "float", min_value=0.0), Column("quality", "str"), *_PROVENANCE),
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
                Column("units_per_driver", "float", min_value=0.0),
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
                Column("value", "float", min_value=0.0),
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


@dataclass
class ValidationReport:
    """Every problem found, each a sentence naming file, row, column and value. At most
    ``max_problems()`` sentences are kept (a broken file can hold millions of problems); the rest are
    counted, and one last sentence says how many more there are. ``problem_count`` is the total."""

    MAX_PROBLEMS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_PROBLEMS"
    # 20,000: bench/upload_validation.py counts every bad row of a 1 M-row upload with 1 % bad rows (10,039 problems).
    DEFAULT_MAX_PROBLEMS = 20_000

    class Problems(list):
        """A list of problem sentences that keeps the first ``limit`` and counts the rest; once over the
        limit its last item is the sentence saying how many more there are."""

        def __init__(self, items=(), limit: int = 20_000):
            super().__init__()
            self.limit = max(1, int(limit))
            self.total = 0
            self.extend(items)

        @classmethod
        def _rebuild(cls, items: list, limit: int, total: int) -> "ValidationReport.Problems":
            out = cls(limit=limit)
            list.extend(out, items)
            out.total = total
            return out

        def __reduce__(self):  # pickle and copy keep the sentences and the count as they are
            return (self._rebuild, (list(self), self.limit, self.total))

        @property
        def full(self) -> bool:
            return self.total >= self.limit

        def append(self, sentence: str) -> None:
            self.total += 1
            if self.total <= self.limit:
                super().append(sentence)
                return
            more = self.total - self.limit
            summary = (f"... and {more:,} more problem{'s' if more > 1 else ''} ({self.total:,} in all) not listed; "
                       "fix the ones listed and try again")
            if more == 1:
                super().append(summary)
            else:
                self[-1] = summary

        def extend(self, sentences) -> None:
            for sentence in sentences:
                self.append(sentence)

        def __iadd__(self, sentences):
            self.extend(sentences)
            return self

    problems: list[str] = field(default_factory=list)
    file_labels: dict[str, str] = field(default_factory=dict)  # table -> the file name to show

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

    def add(self, table: str, row: int | None, column: str | None, value: object, rule: str) -> None:
        if isinstance(self.problems, ValidationReport.Problems) and self.problems.full:
            self.problems.append("")  # only counted: the sentence would not be kept
            return
        where = self.file_labels.get(table, f"{table}.csv")
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        shown = "" if value is None else f": value {value!r}"
        self.problems.append(f"{where}{shown}: {rule}")

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


def _coerce(frame: pd.DataFrame, spec: TableSpec, report: ValidationReport) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        raw = frame[col.name]
        text = raw.astype("string").str.strip()
        empty = text.isna() | (text == "")
        if col.required:
            for idx in frame.index[empty]:
                report.add(spec.name, _file_row(idx), col.name, None, "a value is required")
        if col.kind == "str":
            out[col.name] = text.where(~empty, None).astype(object)
            values = out[col.name]
        elif col.kind == "bool":
            lowered = text.str.lower()
            mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
            bad = ~empty & ~lowered.isin(list(mapping))
            for idx in frame.index[bad]:
                report.add(spec.name, _file_row(idx), col.name, raw[idx], "must be true or false")
            out[col.name] = lowered.map(mapping).astype("boolean")
            continue
        else:
            numbers = pd.to_numeric(text.where(~empty, None), errors="coerce")
            bad = ~empty & numbers.isna()
            for idx in frame.index[bad]:
                report.add(spec.name, _file_row(idx), col.name, raw[idx], "must be a number")
            if col.kind == "int":
                not_whole = numbers.notna() & (numbers != numbers.round())
                for idx in frame.index[not_whole]:
                    report.add(spec.name, _file_row(idx), col.name, raw[idx], "must be a whole number")
                out[col.name] = numbers.round().astype("Int64")
            else:
                out[col.name] = numbers.astype("Float64")
            values = numbers
        if col.min_value is not None:
            for idx in frame.index[values.notna() & (pd.to_numeric(values, errors="coerce") < col.min_value)]:
                report.add(spec.name, _file_row(idx), col.name, raw[idx], f"must be at least {col.min_value:g}")
        if col.max_value is not None:
            for idx in frame.index[values.notna() & (pd.to_numeric(values, errors="coerce") > col.max_value)]:
                report.add(spec.name, _file_row(idx), col.name, raw[idx], f"must be at most {col.max_value:g}")
        if col.choices is not None:
            for idx in frame.index[values.notna() & ~values.isin(col.choices)]:
                report.add(spec.name, _file_row(idx), col.name, raw[idx], f"must be one of {', '.join(col.choices)}")
    return out


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
        report.add(name, None, None, None, f"missing column(s) {', '.join(missing)}; expected {', '.join(expected)}")
    if unknown:
        report.add(name, None, None, None, f"unexpected column(s) {', '.join(map(str, unknown))}")
    if missing:
        return None
    if frame.empty and not spec.may_be_empty:
        report.add(name, None, None, None, "the table has no rows")
        return None
    typed = _coerce(frame, spec, report)
    duplicated = typed.duplicated(list(spec.key), keep="first")
    for idx in typed.index[duplicated]:
        key = ", ".join(f"{k}={typed.at[idx, k]}" for k in spec.key)
        report.add(name, _file_row(idx), None, None, f"duplicate key ({key}): appears earlier in the file")
    return typed


def _check_references(tables: dict[str, pd.DataFrame], report: ValidationReport) -> None:
    """Cross-table rules among the tables read: codes exist, sources are listed, shares add up."""
    known_sources = set(tables["sources"]["source_id"])
    products = set(tables["products"]["product"])
    materials = set(tables["materials"]["symbol"])
    cities = set(tables["cities"]["city"])
    countries = set(tables["cities"]["country_iso3"])

    # Each distinct value is checked once (large tables repeat a few codes), then every row holding a bad one named.
    for name, frame in tables.items():
        if TABLES[name].has_provenance:
            values = frame["source_id"]
            unknown = {value: bad for value in values.unique()
                       if (bad := [source for source in split_sources(value or "") if source not in known_sources])}
            for idx, value in values[values.isin(list(unknown))].items():
                for source in unknown[value]:
                    report.add(name, _file_row(idx), "source_id", source, "not listed in sources.csv")

    def check_codes(table: str, column: str, allowed: set[str], what: str) -> None:
        if table not in tables:
            return
        values = tables[table][column]
        unknown = [value for value in values.unique() if value is not None and value not in allowed]
        for idx, value in values[values.isin(unknown)].items():
            report.add(table, _file_row(idx), column, value, f"unknown {what}; known: {', '.join(sorted(allowed))}")

    def check_code_lists(table: str, column: str, allowed: set[str], what: str) -> None:
        if table not in tables:
            return
        for idx, value in tables[table][column].items():
            unknown = [code for code in split_sources(value if isinstance(value, str) else "") if code != "all" and code not in allowed]
            if unknown:
                report.add(table, _file_row(idx), column, ";".join(unknown), f"unknown {what}; use codes separated by ';' or 'all'")

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
