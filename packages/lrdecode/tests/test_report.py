"""The HTML report: self-contained, every analysis in it, and every figure loads in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrdecode import cli
from lrdecode.analyses import evaluate_measures, pairwise
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.reporting.report import build_report, find_results

runner = CliRunner()
BROWSERS = ("chromium", "chromium-browser", "google-chrome")

# Injected by the test (never shipped in the report): after load, count the images that decoded.
CHECKER = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", images.length + "/" + loaded);
});
</script>"""


@pytest.fixture(scope="module")
def results_dir(signal_data: LoadedData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two analyses written the way the CLI writes them, plus an unrelated JSON file."""
    directory = tmp_path_factory.mktemp("results")
    evaluate_measures(signal_data, measures=("act", "all"), classifiers=("logreg",), n_splits=2).write(directory)
    pairwise(signal_data, classifiers=("logreg",), n_splits=2).write(directory / "nested")
    (directory / "notes.json").write_text('{"not": "a result"}')
    return directory


def test_results_are_found_in_directories_and_unrelated_json_is_ignored(results_dir: Path):
    found = find_results([results_dir])
    assert sorted(p.name for p in found) == ["evaluate.json", "pairwise.json"]


def test_a_file_that_is_not_a_result_is_refused_by_name(results_dir: Path):
    with pytest.raises(DecodeError, match=r"notes\.json is not an lrdecode result"):
        find_results([results_dir / "notes.json"])


def test_no_result_found_says_which_command_makes_one(tmp_path: Path):
    with pytest.raises(DecodeError, match="lrdecode evaluate DATA --out results"):
        find_results([tmp_path])


def test_report_holds_every_analysis_and_fetches_nothing(results_dir: Path):
    page = build_report(find_results([results_dir]))
    for analysis in ("evaluate", "pairwise"):
        assert f'id="r0-{analysis}"' in page or f'id="r1-{analysis}"' in page
    figures = re.findall(r'<img src="([^"]+)"', page)
    assert len(figures) == 3  # evaluate: accuracy + confusion; pairwise: one
    assert all(uri.startswith("data:image/png;base64,") for uri in figures)
    assert not re.search(r"<script|<link|src=\"http|url\(", page)
    assert "0.250" in page  # chance of 4 rules, in the summary table


def test_report_command_writes_the_page_and_prints_its_path(results_dir: Path, tmp_path: Path):
    out = tmp_path / "site" / "report.html"
    result = runner.invoke(cli.app, ["report", str(results_dir), "--out", str(out), "--title", "Pilot study"])
    assert result.exit_code == 0, result.output
    assert f"report of 2 result(s): {out.resolve()}" in result.output.replace("\n", "")
    assert "<title>Pilot study</title>" in out.read_text()
    assert out.stat().st_mode & 0o044  # readable by others, like any file the user writes


def test_report_command_on_a_missing_path_fails_cleanly(tmp_path: Path):
    result = runner.invoke(cli.app, ["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert "no such file or directory" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


def test_report_of_results_read_back_shows_the_same_tables(results_dir: Path):
    result = Result.read(results_dir / "evaluate.json")
    accuracy = f"{result.summary['accuracy_mean'].iloc[0]:.3f} ± {result.summary['accuracy_sem'].iloc[0]:.3f}"
    assert accuracy in build_report([results_dir / "evaluate.json"])


def test_every_figure_of_the_report_loads_in_headless_chromium(results_dir: Path, tmp_path: Path):
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    page = build_report(find_results([results_dir]))
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECKER + "</body>"))
    rendered = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom",
         probe.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    match = re.search(r'data-images="(\d+)/(\d+)"', rendered)
    assert match, "the page did not finish loading in Chromium"
    total, loaded = map(int, match.groups())
    assert total == 3 and loaded == total


def test_the_data_note_counts_dropped_statistics_and_dropped_examples():
    from lrdecode.io.results import Result
    from lrdecode.reporting.report import _data_note

    result = Result(analysis="evaluate", settings={}, data={"runs": 4, "features": {"all": {
        "dropped_statistics": [{"statistic": "act.raw.skew"}],
        "dropped_examples": [{"run_id": "r1", "layer": "conv1"}, {"run_id": "r2", "layer": "conv1"}]}}})
    note = _data_note(result)
    assert "all: 1 statistic(s) dropped as non-finite" in note and "all: 2 example(s) dropped as non-finite" in note
