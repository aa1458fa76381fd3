"""Problems found in a dataset, and the error that carries them to the user."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in one file of a dataset."""

    file: str
    message: str
    fix: str
    column: str | None = None
    row: int | None = None
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = self.file
        if self.column is not None:
            where += f", {'field' if self.file.endswith('.json') else 'column'} '{self.column}'"
        if self.row is not None:
            where += f", row {self.row}"
        return f"{where}: {self.message}. Fix: {self.fix}"


class FormatError(ValueError):
    """A dataset (or a table about to be written) breaks format v1.

    The message is one paragraph: the first problem, then how many more there are.
    """

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("FormatError needs at least one problem")
        self.problems = problems
        message = str(problems[0])
        if len(problems) > 1:
            message += f" ({len(problems) - 1} more problem(s); run `shared-schema validate` to list them)"
        super().__init__(message)
