"""One self-contained HTML page of every analysis run so far: figures embedded as PNG data
URIs, tables inline, no script, no stylesheet or image fetched from anywhere, so the file can
be mailed, archived or opened offline in any browser.

Figures are drawn again from each result's tidy tables (each analysis's plot in
`lrdecode.analyses.ANALYSES`, as the CLI draws them), so a report made from results read back
from JSON shows exactly what the analyses wrote.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lrdecode.analyses import ANALYSES
from lrdecode.errors import DecodeError
from lrdecode.io.results import RESULT_FORMAT, Result, atomic_write
from lrdecode.reporting.figures import draw_pngs

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-top: 1px solid #ccc; padding-top: 1em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.text { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .meta { color: #555; font-size: 0.85em; }
pre { background: #f8f8f8; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
nav li { margin: 0.15em 0; }
"""


def find_results(paths: Iterable[str | Path]) -> list[Path]:
    """Result JSON files named directly or found (recursively) in directories, in a stable order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*.json") if not p.name.startswith("."))
            found.extend(p for p in candidates if _is_result(p))
        elif path.is_file():
            if not _is_result(path):
                raise DecodeError(f"{path} is not an lrdecode result",
                                  "pass the .json files (or directories) written by lrdecode analyses")
            found.append(path)
        else:
            raise DecodeError(f"{path}: no such file or directory", "pass result files or directories")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise DecodeError(f"no lrdecode result in {', '.join(map(str, paths))}",
                          "run an analysis first, e.g. `lrdecode evaluate DATA --out results`")
    return unique


def _is_result(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return json.loads(file.read()).get("format") == RESULT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def figure_uris(result: Result) -> dict[str, str]:
    """Each figure of the result as a ``data:image/png;base64,...`` URI."""
    return {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            for name, png in draw_pngs(result, dpi=100).items()}


def _format_cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3f}"
    return "" if value is None else str(value)


def summary_html(summary: pd.DataFrame, max_rows: int = 60) -> str:
    """The summary table, each ``<score>_mean``/``<score>_sem`` pair shown as ``mean ± s.e.m.``."""
    columns: dict[str, list[str]] = {}
    text_columns = set()
    for column in summary.columns:
        stem = column.removesuffix("_mean").removesuffix("_sem")
        paired = f"{stem}_mean" in summary and f"{stem}_sem" in summary
        if paired and column.endswith("_sem"):
            continue
        if paired:
            columns[stem] = [_format_cell(m) + ("" if pd.isna(s) else f" ± {s:.3f}")
                             for m, s in zip(summary[column], summary[f"{stem}_sem"], strict=True)]
        else:
            columns[column] = [_format_cell(v) for v in summary[column]]
            if not pd.api.types.is_numeric_dtype(summary[column]):
                text_columns.add(column)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    rows = []
    for i in range(min(len(summary), max_rows)):
        cells = "".join(f'<td class="text">{html.escape(v[i])}</td>' if c in text_columns
                        else f"<td>{html.escape(v[i])}</td>" for c, v in columns.items())
        rows.append(f"<tr>{cells}</tr>")
    more = f'<p class="meta">{len(summary) - max_rows} more rows in the CSV.</p>' if len(summary) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _data_note(result: Result) -> str:
    data = result.data or {}
    parts = []
    if data.get("sources"):
        parts.append("data: " + ", ".join(map(str, data["sources"])))
    if data.get("runs") is not None:
        parts.append(f"{data['runs']} runs")
    if data.get("excluded_runs"):
        parts.append(f"{len(data['excluded_runs'])} runs set aside (diverged or incomplete)")
    for name, features in (data.get("features") or {}).items():
        if isinstance(features, dict) and features.get("dropped_statistics"):
            parts.append(f"{name}: {len(features['dropped_statistics'])} statistic(s) dropped as non-finite")
        if isinstance(features, dict) and features.get("dropped_examples"):
            parts.append(f"{name}: {len(features['dropped_examples'])} example(s) dropped as non-finite")
    return html.escape("; ".join(parts))


def _title(analysis: str) -> str:
    """The registry's title of an analysis; a result of another name keeps its own name."""
    known = ANALYSES.get(analysis)
    return known.title if known else analysis.replace("_", " ").capitalize()


def section_html(result: Result, source: Path, anchor: str) -> str:
    """One analysis: title, where it came from, summary table, figures, settings."""
    title = _title(result.analysis)
    figures = "".join(
        f'<figure><img src="{uri}" alt="{html.escape(result.analysis)}: {html.escape(name)}">'
        f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>"
        for name, uri in figure_uris(result).items())
    summary = summary_html(result.summary) if "summary" in result.tables and len(result.summary) else ""
    settings = html.escape(json.dumps(result.settings, indent=1, default=str))
    return (f'<section id="{anchor}"><h2>{html.escape(title)}</h2>'
            f'<p class="meta">{html.escape(str(source))} &middot; {_data_note(result)}</p>'
            f"{summary}{figures}<details><summary>settings</summary><pre>{settings}</pre></details></section>")


def build_report(paths: Sequence[Path], title: str = "Learning-rule decoding report") -> str:
    """The whole page for these result files."""
    from lrdecode import __version__

    results = [(path, Result.read(path)) for path in paths]
    anchors = [f"r{i}-{result.analysis}" for i, (_, result) in enumerate(results)]
    toc = "".join(f'<li><a href="#{a}">{html.escape(_title(r.analysis))}</a> '
                  f'<span class="meta">({html.escape(p.name)})</span></li>'
                  for a, (p, r) in zip(anchors, results, strict=True))
    sections = "".join(section_html(r, p, a) for a, (p, r) in zip(anchors, results, strict=True))
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">{len(results)} result(s), made {created} by "
            f"lrdecode {__version__}. Accuracies are mean ± s.e.m. over train/test splits; 'paper' splits "
            f"put layers of one network on both sides, 'grouped' splits keep each network on one side.</p>"
            f"<nav><ul>{toc}</ul></nav>{sections}</body></html>\n")


def write_report(paths: Iterable[str | Path], out: str | Path, title: str = "Learning-rule decoding report") -> Path:
    """Find the results, build the page and write it atomically; returns its path."""
    page = build_report(find_results(paths), title=title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, lambda f: f.write(page.encode("utf-8")))
