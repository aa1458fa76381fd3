"""The one error a user of lrdecode sees: what is wrong, where, and what to do."""

from __future__ import annotations


class DecodeError(ValueError):
    """Bad input or an impossible request, explained for the person who made it."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}. Fix: {fix}" if fix else problem)
