"""Figures of results as PNG files: each analysis's plot from the registry, drawn with no display."""

from __future__ import annotations

import io
from pathlib import Path

from lrdecode.analyses import ANALYSES
from lrdecode.io.results import Result, atomic_write


def draw_pngs(result: Result, dpi: int = 120) -> dict[str, bytes]:
    """The result's figures as PNG bytes, by figure name (none for an analysis without a plot)."""
    analysis = ANALYSES.get(result.analysis)
    if analysis is None or analysis.plot is None:
        return {}
    pngs = {}
    for name, figure in analysis.plot(result).items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        pngs[name] = buffer.getvalue()
    return pngs


def write_figures(result: Result, directory: str | Path, stem: str | None = None) -> list[Path]:
    """Draw the result's figures and write them as ``<stem>_<figure>.png``."""
    pngs = draw_pngs(result)
    if not pngs:
        return []
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [atomic_write(directory / f"{stem or result.analysis}_{name}.png", lambda f, b=png: f.write(b))
            for name, png in pngs.items()]
