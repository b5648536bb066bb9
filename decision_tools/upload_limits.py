"""What one upload may hold: its size in MB, and its rows, columns, cells and unpacked bytes once read.

This module owns the limits (each set by an environment variable, or its default), the checks every reader runs
before it materialises anything, and the two refusals a reader raises (``TooLarge``, ``Refused``), whose
message is the sentence for the user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MAX_UPLOAD_MB_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 20
# What an upload may hold once unpacked, checked before it is read into memory (a 100 KB Parquet or XLSX
# file can unpack to millions of rows). bench/upload_validation.py checks a 1,000,000-row, 8-column upload.
MAX_ROWS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_ROWS"
DEFAULT_MAX_ROWS = 1_000_000  # data rows, the header not counted
MAX_COLUMNS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_COLUMNS"
DEFAULT_MAX_COLUMNS = 100
MAX_CELLS_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UPLOAD_CELLS"
DEFAULT_MAX_CELLS = 10_000_000  # data rows x columns
MAX_UNPACKED_MB_ENV_VAR = "URBAN_SYMBIOSIS_MAX_UNPACKED_MB"
UNPACKED_PER_UPLOAD_MB = 10  # default: 10 x the upload limit (200 MB with the default 20 MB)
MAX_COMPRESSION_RATIO = 100  # a spreadsheet part that unpacks more than 100-fold is a zip bomb (real sheets: under 20)
MAX_XLSX_PARTS = 1_000  # files inside an XLSX (a workbook has about ten)
SPLIT_ADVICE = ("split it into files that each cover whole cities, products or materials (an upload replaces every "
                "row of what it covers) and upload them one after another")


def max_upload_bytes() -> int:
    return int(float(os.environ.get(MAX_UPLOAD_MB_ENV_VAR, DEFAULT_MAX_UPLOAD_MB)) * 1024 * 1024)


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may hold once unpacked: data rows, columns, cells (data rows x columns) and bytes."""

    rows: int
    columns: int
    cells: int
    unpacked_bytes: int


def upload_limits() -> UploadLimits:
    """The limits in force: each environment variable, or its default."""
    def setting(name: str, default: float) -> float:
        return float(os.environ.get(name, "").strip() or default)

    return UploadLimits(
        rows=int(setting(MAX_ROWS_ENV_VAR, DEFAULT_MAX_ROWS)),
        columns=int(setting(MAX_COLUMNS_ENV_VAR, DEFAULT_MAX_COLUMNS)),
        cells=int(setting(MAX_CELLS_ENV_VAR, DEFAULT_MAX_CELLS)),
        unpacked_bytes=int(setting(MAX_UNPACKED_MB_ENV_VAR, UNPACKED_PER_UPLOAD_MB * max_upload_bytes() / 2**20) * 2**20),
    )


class TooLarge(ValueError):
    """An upload over a limit; the message is the sentence for the user."""


def check_size(limits: UploadLimits, rows: int, columns: int, what: str = "the file holds") -> None:
    """Refuse a table of ``rows`` data rows and ``columns`` columns over the limits, before reading it."""
    if rows > limits.rows:
        raise TooLarge(f"{what} {rows:,} rows; an upload holds at most {limits.rows:,} rows: {SPLIT_ADVICE}")
    if columns > limits.columns:
        raise TooLarge(f"{what} {columns:,} columns; an upload holds at most {limits.columns:,} columns: "
                        "keep only the template's columns and upload again")
    if rows * columns > limits.cells:
        raise TooLarge(f"{what} {rows * columns:,} cells ({rows:,} rows by {columns:,} columns); an upload holds at most "
                        f"{limits.cells:,} cells: remove the columns the template does not have, or {SPLIT_ADVICE}")


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.{1 if size < 10 * 2**20 else 0}f} MB"


def check_unpacked(size: int, limits: UploadLimits, what: str = "the file unpacks to") -> None:
    if size > limits.unpacked_bytes:
        raise TooLarge(f"{what} {_megabytes(size)}; an upload may unpack to at most {_megabytes(limits.unpacked_bytes)}: "
                        f"{SPLIT_ADVICE}")


class Refused(ValueError):
    """A file that cannot be read as the researcher sent it; the message is the sentence for the user."""
