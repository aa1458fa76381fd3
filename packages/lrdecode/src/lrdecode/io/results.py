"""Results of analyses: one tidy object per analysis, written as JSON plus one CSV per table.

Every analysis returns a `Result`: its name, the settings it ran with, an account of the data,
and named tidy tables (one observation per row; the ``summary`` table holds the headline
rows). New analyses add tables, not new result types, so writing, reading back and plotting
stay the same for all of them. Files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

RESULT_FORMAT = "lrdecode-result"
RESULT_VERSION = "1.0.0"


@dataclass
class Result:
    """What an analysis found, as tidy tables (``summary`` first) plus its settings and data."""

    analysis: str
    settings: dict[str, Any]
    data: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return self.tables["summary"]

    def to_dict(self) -> dict[str, Any]:
        from lrdecode import __version__

        return {
            "format": RESULT_FORMAT,
            "format_version": RESULT_VERSION,
            "producer": {"name": "lrdecode", "version": __version__},
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "analysis": self.analysis,
            "settings": _jsonable(self.settings),
            "data": _jsonable(self.data),
            "tables": {name: _jsonable(table.to_dict(orient="records")) for name, table in self.tables.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def write(self, directory: str | Path, stem: str | None = None) -> list[Path]:
        """Write ``<stem>.json`` and ``<stem>_<table>.csv`` into a directory; returns the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        stem = stem or self.analysis
        written = [atomic_write(directory / f"{stem}.json", lambda f: f.write(self.to_json().encode()))]
        for name, table in self.tables.items():
            written.append(atomic_write(directory / f"{stem}_{name}.csv",
                                        lambda f, t=table: f.write(t.to_csv(index=False).encode())))
        return written

    @classmethod
    def read(cls, path: str | Path) -> Result:
        """Read a result back from its JSON file (e.g. for a report)."""
        content = json.loads(Path(path).read_text())
        if content.get("format") != RESULT_FORMAT:
            raise ValueError(f"{path} is not an lrdecode result (format {content.get('format')!r})")
        tables = {name: pd.DataFrame.from_records(rows) for name, rows in content["tables"].items()}
        return cls(analysis=content["analysis"], settings=content["settings"], data=content["data"], tables=tables)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file through a temporary sibling and rename it into place."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes files private; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays unwrapped, NaN/inf/NA as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
