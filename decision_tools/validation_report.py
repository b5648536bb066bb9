"""The list of problems a check of input tables finds, and the error that carries it.

This module owns ``ValidationReport`` (every problem as a sentence naming file, row, column and value, grouped
and capped for huge files; warnings; how an upload was read) and ``DataValidationError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


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
