"""Progress reporting for long fits, without tying the analyses to a terminal library.

Analyses call ``reporter.start(label, total)``, then ``advance()`` per finished unit (a split,
a fit); model selection calls ``note(text)`` for the work inside a unit (which candidate, how
many trees). Library users get silence by default; the CLI shows a progress bar on a terminal
and, when its output is not a terminal, a plain line every ``every`` seconds (`PlainReporter`).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO


class Reporter(Protocol):
    """Receives progress of a long computation."""

    def start(self, label: str, total: int) -> None: ...

    def advance(self, step: int = 1) -> None: ...

    def note(self, text: str) -> None: ...

    def finish(self) -> None: ...


class Silent:
    """The default reporter: reports nothing."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, step: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def finish(self) -> None:
        pass


SILENT = Silent()


class NotesOnly(Silent):
    """Passes on another reporter's notes only: for a loop inside a unit that reporter already counts."""

    def __init__(self, outer: Reporter) -> None:
        self.outer = outer

    def note(self, text: str) -> None:
        self.outer.note(text)


def clock(seconds: float) -> str:
    """A duration as h:mm:ss or m:ss."""
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class PlainReporter:
    """One plain line per ``every`` seconds on ``stream`` (for logs and pipes), and one per finished task.

    A line: label, units done of total, time elapsed, time left (from the mean time per unit
    so far), and the latest note. A background thread writes it, since a single fit can take
    minutes without calling back.
    """

    def __init__(self, stream: TextIO | None = None, every: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.label = ""
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self.text = ""
        self.active = False
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, label: str, total: int) -> None:
        with self._lock:
            self.label, self.total, self.done, self.text = label, total, 0, ""
            self.started = time.monotonic()
            self.active = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="lrdecode-progress", daemon=True)
            self._thread.start()

    def advance(self, step: int = 1) -> None:
        with self._lock:
            self.done += step
            self.text = ""

    def note(self, text: str) -> None:
        with self._lock:
            self.text = text

    def finish(self) -> None:
        """Write the finished task's line; nothing more until the next ``start``."""
        self.write()
        with self._lock:
            self.active = False

    def line(self) -> str:
        with self._lock:
            elapsed = time.monotonic() - self.started
            parts = [f"{self.label}: {self.done}/{self.total}", f"{clock(elapsed)} elapsed"]
            if 0 < self.done < self.total:
                parts.append(f"about {clock(elapsed / self.done * (self.total - self.done))} left")
            if self.text:
                parts.append(self.text)
        return "progress: " + ", ".join(parts)

    def write(self) -> None:
        with self._write_lock:
            if self.active and not self._stop.is_set():
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self.write()

    def close(self) -> None:
        """Stop the background thread; nothing is written after this returns."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
