"""The quick start's demo, end to end at test size: simulate every rule (lrsim, Dask), decode
(lrdecode), report; the same script and code path as `nox -s demo`, on sweeps/demo-ci.toml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--sweep", str(ROOT / "sweeps" / "demo-ci.toml"),
         "--out", str(out), "--splits", "3", "--workers", "2"],
        capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return out, completed.stdout


def test_demo_prints_where_the_report_is_and_the_report_exists(demo: tuple[Path, str]):
    out, printed = demo
    report = out / "report.html"
    assert printed.rstrip().splitlines()[-1] == str(report.resolve())
    page = report.read_text()
    assert page.count('<img src="data:image/png;base64,') >= 4
    for analysis in ("evaluate", "pairwise", "importance"):
        assert re.search(rf'id="r\d+-{analysis}"', page)


def test_demo_sweep_trained_every_rule(demo: tuple[Path, str]):
    out, _ = demo
    evaluate = json.loads((out / "results" / "evaluate.json").read_text())
    examples_per_rule = evaluate["data"]["features"]["all"]["examples_per_rule"]
    assert set(examples_per_rule) == {"sgdm", "adam", "fa", "ia", "kp"}


def test_demo_networks_learned_their_task_before_anything_is_decoded(demo: tuple[Path, str]):
    import pandas as pd

    from shared_schema import parse_learning_curve

    out, printed = demo
    runs = pd.read_parquet(out / "sweep" / "dataset" / "runs.parquet")
    assert (runs["status"] == "complete").all()
    supervised = runs[runs["task"] == "digits"]
    assert supervised["final_metric"].min() > 0.8, supervised[["run_id", "final_metric"]]  # chance: 0.10
    for run_id, text in zip(runs["run_id"], runs["learning_curve"], strict=True):
        losses = [p["loss"] for p in parse_learning_curve(text)]
        assert max(losses[1:]) <= 1.5 * losses[0], (run_id, losses)
        assert losses[-1] < losses[0], (run_id, losses)  # SimCLR's probe starts high: its loss must fall
    assert "held-out task metric of the trained networks" in printed


def test_demo_decodes_the_rule_above_chance(demo: tuple[Path, str]):
    out, _ = demo
    summary = json.loads((out / "results" / "evaluate.json").read_text())["tables"]["summary"]
    forest = next(r for r in summary if (r["measure"], r["classifier"], r["split"]) == ("all", "rf", "paper"))
    assert forest["chance"] == pytest.approx(0.2)
    assert forest["accuracy_mean"] - 2 * forest["accuracy_sem"] > forest["chance"], forest


def readme_decoding_commands() -> list[str]:
    """The commands of the README's "Decoding" section, in order (its pip line left out: installed here)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Decoding: `lrdecode`", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("pip install")]


def test_every_command_of_the_readmes_decoding_section_runs_as_written_on_the_demos_data(demo, tmp_path: Path):
    out, _ = demo
    (tmp_path / "demo-output" / "sweep").mkdir(parents=True)
    (tmp_path / "demo-output" / "sweep" / "dataset").symlink_to(out / "sweep" / "dataset")
    commands = readme_decoding_commands()
    assert len(commands) >= 10 and commands[0].startswith("D=demo-output/sweep/dataset")
    script = "set -euo pipefail\nexport PATH=" + str(Path(sys.executable).parent) + ":$PATH\n" + "\n".join(commands)
    completed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (tmp_path / "report.html").is_file() and (tmp_path / "plan" / "plan.json").is_file()
    assert "animal recording:" in completed.stdout
    assert "left out layers with fewer than 24 recorded units" in completed.stdout
