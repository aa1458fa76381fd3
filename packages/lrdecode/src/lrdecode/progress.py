"""Progress reporting for long fits, without tying the analyses to a terminal library.

Analyses call ``reporter.start(label, total)``, then ``advance()`` per finished unit; the
CLI passes a rich progress bar, library users get silence by default.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives progress of a long computation."""

    def start(self, label: str, total: int) -> None: ...

    def advance(self, step: int = 1) -> None: ...

    def finish(self) -> None: ...


class Silent:
    """The default reporter: reports nothing."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, step: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


SILENT = Silent()
