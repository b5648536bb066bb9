"""Reading the project's data tables (the CSV files under ``data/``) and their database layout.

``read_project_tables`` reads every file, checks it against its declared layout (``table_specs.TABLES``,
``table_checks``) and the cross-references between tables (``cross_checks``), and reports every problem at once,
each naming the file, the row (as numbered in the file, header = row 1), the column and the value.
``table_ddl`` gives an input table's CREATE TABLE from the same layout.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .cross_checks import check_references
from .table_checks import validate_table
from .column_specs import TableSpec
from .table_specs import TABLES
from .validation_report import DataValidationError, ValidationReport


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
        check_references(tables, report)
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
