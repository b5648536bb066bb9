"""What an input table's declared layout is made of: ``Column`` and ``TableSpec``, the vocabularies the
columns draw on (stock drivers, lifetime models, lever parameters, years), and the plausibility bounds on
quantities with the reason for each. ``table_specs`` declares every table with them."""

from __future__ import annotations

from dataclasses import dataclass

STOCK_DRIVERS = ("per_inhabitant", "per_household", "per_city")
LIFETIME_MODELS = ("weibull", "normal", "fixed")
LEVER_PARAMETERS = ("collection_rate", "hibernation_return", "lifetime_extension", "reuse_share", "recovery_yield",
                    "recycled_content", "units_needed", "export_share")
# The EU waste regimes a product can fall under (product_regimes.regimes) and who can act on a lever or rule.
WASTE_REGIMES = ("WEEE", "Batteries Regulation", "ELV", "none")
ACTING_LEVELS = ("EU", "national", "city", "company")
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


def share_column(name: str) -> Column:
    """A column of shares 0..1."""
    return Column(name, "float", min_value=0.0, max_value=1.0)
