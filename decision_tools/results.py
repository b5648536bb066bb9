"""Model results of a dataset version, read back: the chain of flows, the headline quantities (system.METRICS,
``metric_table``, ``headline`` as Figures with provenance), the sources cited, and the mass balance.

Owns the result tables (flows, stocks, unit_stocks, metric_totals): their layout, the order rows are
stored in, and ``metric_totals``, the headline quantities summed once when a version is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from . import ingestion, system
from .provenance import join_sources, weakest

_MODEL_PROVENANCE_DDL = "confidence VARCHAR NOT NULL, source_ids VARCHAR NOT NULL, downscaled BOOLEAN NOT NULL"

SCHEMA_SQL = f"""
-- Model results. district is NULL where the city is modelled as a whole.
CREATE TABLE flows (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, district VARCHAR, year INTEGER NOT NULL,
    product VARCHAR NOT NULL, material VARCHAR NOT NULL, from_process VARCHAR NOT NULL,
    to_process VARCHAR NOT NULL, kg DOUBLE NOT NULL, {_MODEL_PROVENANCE_DDL}
);
CREATE TABLE stocks (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, district VARCHAR, year INTEGER NOT NULL,
    product VARCHAR NOT NULL, material VARCHAR NOT NULL, process VARCHAR NOT NULL, kg DOUBLE NOT NULL,
    {_MODEL_PROVENANCE_DDL}
);
CREATE TABLE unit_stocks (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, district VARCHAR, year INTEGER NOT NULL,
    product VARCHAR NOT NULL, process VARCHAR NOT NULL, units DOUBLE NOT NULL
);
-- The headline quantities (system.METRICS) per city, year and material, summed over products and districts
-- when a version is written, so the pages' most frequent queries read a tenth of the rows.
CREATE TABLE metric_totals (
    version_id INTEGER NOT NULL, city VARCHAR NOT NULL, year INTEGER NOT NULL, material VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, route VARCHAR, kg DOUBLE NOT NULL, confidence VARCHAR NOT NULL,
    source_ids VARCHAR NOT NULL, downscaled BOOLEAN NOT NULL
);
"""
MODEL_TABLES = ("flows", "stocks", "unit_stocks")
RESULT_TABLES = (*MODEL_TABLES, "metric_totals")
# Results are stored in this order, so DuckDB's per-row-group min/max lets a query for one material
# and year (or one material over time) skip most of a large table.
RESULT_ORDER = {"flows": "material, year, city", "stocks": "material, year, city", "unit_stocks": "year, city",
                "metric_totals": "material, year, city"}

def _sql_text(value: str) -> str:
    """A process or metric name of decision_tools.system as an SQL literal (they are code, never user text)."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"Not a process or metric name: {value!r}")
    return f"'{value}'"


def _metric_rows_sql() -> str:
    """One row per stock or flow row that counts towards a headline quantity (system.METRICS), with its metric
    and, for losses, the route; built from the declarations so the store sums exactly what they say."""
    stock_case = " ".join(f"WHEN {_sql_text(process)} THEN {_sql_text(metric)}" for process, metric in system.METRIC_OF_STOCK.items())
    flow_case = " ".join(f"WHEN from_process = {_sql_text(a)} AND to_process = {_sql_text(b)} THEN {_sql_text(metric)}"
                         for (a, b), metric in system.METRIC_OF_FLOW.items())
    losses = ", ".join(_sql_text(p) for p in system.LOSS_PROCESSES)
    return f"""
    SELECT CASE process {stock_case} END AS metric,
           NULL AS route, city, year, product, district, material, kg, confidence, source_ids, downscaled
    FROM stocks WHERE version_id = $version AND ($city IS NULL OR city = $city)
      AND list_contains($materials, material) {{year_filter}}
      AND year >= {{first_year}}  -- the opening stock of the year before is kept only for balance checks
      AND process IN ({", ".join(_sql_text(p) for p in system.METRIC_OF_STOCK)})
    UNION ALL
    SELECT * FROM (
        SELECT CASE {flow_case} END AS metric,
               CASE WHEN to_process IN ({losses}) THEN to_process END AS route,
               city, year, product, district, material, kg, confidence, source_ids, downscaled
        FROM flows WHERE version_id = $version AND ($city IS NULL OR city = $city)
          AND list_contains($materials, material) {{year_filter}}
    ) WHERE metric IS NOT NULL
"""


_METRIC_ROWS_SQL = _metric_rows_sql()
_GROUPABLE = ("city", "year", "product", "district", "route")
_TOTALS_GROUPABLE = {"city", "year", "route"}  # what metric_totals keeps; product and district need the rows
_PROVENANCE_AGGREGATES = ("list(DISTINCT confidence) AS confidences, list(DISTINCT source_ids) AS source_lists, "
                          "bool_or(downscaled) AS downscaled")


@dataclass(frozen=True)
class Figure:
    """One number with its provenance."""

    key: str
    label: str
    kg: float
    confidence: str
    source_ids: str
    downscaled: bool


def _as_list(materials: str | Sequence[str]) -> list[str]:
    return [materials] if isinstance(materials, str) else list(materials)


def _once_per_distinct(lists: Sequence, combine) -> list:
    """``combine`` applied to each list, computed once per distinct list: a table of thousands of rows
    carries only a handful of distinct provenance sets."""
    results: dict[tuple, object] = {}
    combined = []
    for values in lists:
        key = tuple(sorted(values))
        if key not in results:
            results[key] = combine(key)
        combined.append(results[key])
    return combined


def _combine_provenance(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn the confidences and source_lists columns into one confidence and one source_ids each."""
    frame["confidence"] = _once_per_distinct(frame["confidences"], weakest)
    frame["source_ids"] = _once_per_distinct(frame["source_lists"], join_sources)
    return frame.drop(columns=["confidences", "source_lists"])


def metric_totals(con, version_id: int) -> pd.DataFrame:
    """The headline quantities of a version per city, year, material, metric and route, with their
    provenance combined (weakest confidence, union of sources) as metric_table does."""
    rows_sql = _METRIC_ROWS_SQL.format(year_filter="", first_year=system.REPORT_START)
    materials = [row[0] for row in con.execute("SELECT DISTINCT material FROM flows WHERE version_id = ?", [version_id]).fetchall()]
    frame = con.execute(f"SELECT city, year, material, metric, route, sum(kg) AS kg, {_PROVENANCE_AGGREGATES} "
                        f"FROM ({rows_sql}) GROUP BY ALL",
                        {"version": version_id, "city": None, "materials": materials}).df()
    return _combine_provenance(frame)


class ResultsMixin:
    """The Store's read queries over the result tables."""

    def year_range(self, version_id: int) -> tuple[int, int]:
        row = self._frame("SELECT min(year) AS lo, max(year) AS hi FROM flows WHERE version_id = ?", [version_id])
        return int(row.at[0, "lo"]), int(row.at[0, "hi"])

    def chain(self, version_id: int, city: str, year: int, materials: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Flows of the chain for a city and year, kg per year per material, summed over products and
        districts, in the order of the chain. ``materials`` None means every material."""
        return self._frame(
            """
            SELECT material, from_process, to_process, sum(kg) AS kg
            FROM flows
            WHERE version_id = $version AND city = $city AND year = $year
              AND ($materials IS NULL OR list_contains($materials, material))
            GROUP BY material, from_process, to_process
            ORDER BY material, list_position($edges, [from_process, to_process])
            """,
            {"version": version_id, "city": city, "year": year,
             "materials": None if materials is None else _as_list(materials),
             "edges": [[frm, to] for frm, to, _ in system.EDGES]},
        )

    def metric_table(self, version_id: int, city: str | None, materials: str | Sequence[str], year: int | None = None,
                     by: tuple[str, ...] = ()) -> pd.DataFrame:
        """The headline quantities (system.METRICS) summed over everything but ``by``, with provenance.

        ``city`` None means every city; ``materials`` is one symbol or several (summed). Returns one
        row per metric (and per value of ``by``): kg, confidence (weakest input), source_ids
        (union), downscaled (any input downscaled from a national or EU average).
        """
        unknown = [b for b in by if b not in _GROUPABLE]
        if unknown:
            raise ValueError(f"Cannot group by {', '.join(unknown)}; choose from {', '.join(_GROUPABLE)}.")
        year_filter = "AND year = $year" if year is not None else ""
        if set(by) <= _TOTALS_GROUPABLE:
            rows_sql = (f"SELECT * FROM metric_totals WHERE version_id = $version AND ($city IS NULL OR city = $city) "
                        f"AND list_contains($materials, material) {year_filter}")
        else:
            rows_sql = _METRIC_ROWS_SQL.format(year_filter=year_filter, first_year=system.REPORT_START)
        keys = ", ".join(("metric",) + by)
        params = {"version": version_id, "city": city, "materials": _as_list(materials)}
        if year is not None:
            params["year"] = year
        frame = self._frame(f"SELECT {keys}, sum(kg) AS kg, {_PROVENANCE_AGGREGATES} FROM ({rows_sql}) "
                            f"GROUP BY {keys} ORDER BY {keys}", params)
        return _combine_provenance(frame)

    def headline(self, version_id: int, city: str, year: int, material: str) -> dict[str, Figure]:
        """The headline figures for one city, year and material, each with provenance."""
        frame = self.metric_table(version_id, city, material, year).set_index("metric")
        figures = {}
        for key, metric in system.METRICS.items():
            if key in frame.index:
                row = frame.loc[key]
                figures[key] = Figure(key, metric.label, float(row["kg"]), row["confidence"], row["source_ids"], bool(row["downscaled"]))
        return figures

    def sources(self, version_id: int) -> pd.DataFrame:
        """Every source with the confidence labels and tables of the rows that cite it."""
        unions = " UNION ALL ".join(
            f"SELECT '{name}' AS table_name, unnest(string_split(source_id, ';')) AS source_id, confidence "
            f"FROM {name} WHERE version_id = $version"
            for name in ingestion.TABLES if ingestion.TABLES[name].has_provenance
        )
        return self._frame(
            f"""
            WITH cites AS ({unions})
            SELECT s.source_id, s.citation, s.publisher, s.year, s.url, s.note,
                   string_agg(DISTINCT c.confidence, ', ' ORDER BY c.confidence) AS confidence_labels,
                   string_agg(DISTINCT c.table_name, ', ' ORDER BY c.table_name) AS used_in,
                   count(c.source_id) AS rows_citing
            FROM sources s LEFT JOIN cites c ON c.source_id = s.source_id
            WHERE s.version_id = $version
            GROUP BY ALL ORDER BY s.source_id
            """,
            {"version": version_id},
        )

    def mass_balance(self, version_id: int | None = None) -> pd.DataFrame:
        """Residual of every balanced process (inflow - outflow - stock change) per row of the
        model, worst first, with the residual relative to the process throughput."""
        balanced = ", ".join(f"'{p}'" for p in system.BALANCED_PROCESSES)
        return self._frame(
            f"""
            WITH moves AS (
                SELECT version_id, city, district, year, product, material, to_process AS process, kg AS kg_in, 0.0 AS kg_out FROM flows
                UNION ALL
                SELECT version_id, city, district, year, product, material, from_process, 0.0, kg FROM flows
            ), totals AS (
                SELECT version_id, city, district, year, product, material, process,
                       sum(kg_in) AS kg_in, sum(kg_out) AS kg_out
                FROM moves WHERE process IN ({balanced}) AND ($version IS NULL OR version_id = $version)
                GROUP BY ALL
            ), changes AS (
                SELECT version_id, city, district, year, product, material, process,
                       kg - lag(kg) OVER (PARTITION BY version_id, city, district, product, material, process ORDER BY year) AS stock_change
                FROM stocks WHERE ($version IS NULL OR version_id = $version)
            )
            SELECT t.*, coalesce(c.stock_change, 0.0) AS stock_change,
                   t.kg_in - t.kg_out - coalesce(c.stock_change, 0.0) AS residual_kg,
                   abs(t.kg_in - t.kg_out - coalesce(c.stock_change, 0.0)) / greatest(t.kg_in, t.kg_out, 1e-12) AS relative_residual
            FROM totals t LEFT JOIN changes c
              ON c.version_id = t.version_id AND c.city = t.city AND c.district IS NOT DISTINCT FROM t.district
             AND c.year = t.year AND c.product = t.product AND c.material = t.material AND c.process = t.process
            ORDER BY relative_residual DESC
            """,
            {"version": version_id},
        )


def metrics_wide(rows: pd.DataFrame, by: str, labelled: bool = False) -> pd.DataFrame:
    """Rows of ``metric_table`` grouped by ``by`` (metric, kg, ...) as one row per value of ``by`` and one
    column per headline quantity, in system.METRICS order, 0 kg where it has none (a missing ``by``, such as
    the district of a city modelled whole, is a row too). ``labelled``: columns
    named "<label> (kg)" for people, else by metric key."""
    wide = (rows.pivot_table(index=by, columns="metric", values="kg", aggfunc="sum", dropna=False)  # keeps a NULL district
            .reindex(columns=list(system.METRICS)).fillna(0.0))
    if labelled:
        wide.columns = [f"{system.METRICS[key].label} (kg)" for key in wide.columns]
    return wide.rename_axis(columns=None).reset_index()
