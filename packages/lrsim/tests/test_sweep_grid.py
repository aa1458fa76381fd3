"""Sweep files expand into the study's grid, with readable and stable run ids."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import pytest

from lrsim.spec import RunSpec, parse_seed
from lrsim.sweep.grid import SweepError, load_sweep

SWEEPS = Path(__file__).parents[3] / "sweeps"
DEEP = ["resnet18", "resnet18v2", "resnet34", "resnet34v2", "alexnet", "alexnet_lrn"]
SHALLOW = ["knet4", "knet4_lrn", "knet5", "knet5_lrn"]


def test_the_paper_sweep_is_exactly_the_studys_1056_runs():
    specs = load_sweep(SWEEPS / "paper.toml").specs
    assert len(specs) == 1056
    expected = {
        (task, architecture, rule, batch, model_seed, dataset_seed)
        for task, architectures in (("imagenet", DEEP), ("simclr:imagenet", DEEP), ("audio_words", DEEP),
                                    ("cifar10", SHALLOW))
        for architecture, rule, batch, model_seed, dataset_seed in itertools.product(
            architectures, ("sgdm", "adam", "fa", "ia"), (128, 256, 512), (None, 0), (None, 0))
    }
    assert {(s.task, s.architecture, s.rule, s.batch_size, s.model_seed, s.dataset_seed) for s in specs} == expected
    assert Counter(s.rule for s in specs) == {"sgdm": 264, "adam": 264, "fa": 264, "ia": 264}
    assert {(s.epochs, s.checkpoints, s.width) for s in specs} == {(100, 21, 1.0)}
    assert len({s.run_id for s in specs}) == 1056


def test_run_ids_are_readable_stable_and_safe_file_names():
    spec = RunSpec(rule="fa", architecture="knet4", task="simclr:digits", batch_size=128, model_seed=0)
    assert spec.run_id == "simclr-digits_knet4_fa_bs128_ms0_dsnone"
    assert RunSpec.from_json(spec.to_json()) == spec
    assert RunSpec(rule="fa", architecture="knet4", task="simclr:digits", batch_size=128, model_seed=0,
                   epochs=3).run_id == spec.run_id  # settings outside the grid do not rename a run


def test_measurement_settings_are_stored_canonically():
    spec = RunSpec(rule="fa", architecture="knet4", task="digits", batch_size=32,
                   measurements=("noise=0.50 , units=0.1",))
    assert spec.measurements == ("units=0.1,noise=0.5",)


@pytest.mark.parametrize(("text", "message"), [
    ('rules = ["fa"]\nbatch_sizes = [32]\n', "missing 'tasks'"),
    ('rules = []\nbatch_sizes = [32]\n[[tasks]]\nname = "digits"\narchitectures = ["knet4"]\n',
     "'rules' must be a non-empty list"),
    ('rules = ["fa"]\nbatch_size = [32]\n', "unknown key(s) batch_size"),
    ('rules = ["fa"]\nbatch_sizes = [32]\nmodel_seeds = [-1]\n[[tasks]]\nname = "d"\narchitectures = ["k"]\n',
     "a seed must be an integer >= 0 or 'none', not -1"),
    ('rules = ["fa", "fa"]\nbatch_sizes = [32]\n[[tasks]]\nname = "d"\narchitectures = ["k"]\n', "appears twice"),
    ('rules = ["fa"]\nbatch_sizes = [0]\n[[tasks]]\nname = "d"\narchitectures = ["k"]\n',
     "batch_size must be a positive integer"),
    ('rules = ["fa"\n', "not valid TOML"),
])
def test_bad_sweep_files_are_refused_naming_the_file_and_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SweepError) as raised:
        load_sweep(path)
    assert str(raised.value).startswith("bad.toml: ") and message in str(raised.value)


def test_seeds_parse_none_and_integers_only():
    assert parse_seed("none") is None and parse_seed(None) is None and parse_seed(0) == 0 and parse_seed("7") == 7
    for bad in ("x", -1, True, "1.5"):
        with pytest.raises(ValueError):
            parse_seed(bad)


def test_per_architecture_widths_and_learning_rates_override_the_sweep_defaults(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text('rules = ["fa"]\nbatch_sizes = [32]\nwidth = 0.5\n[[tasks]]\nname = "digits"\n'
                    'architectures = ["knet4", "resnet18"]\n[widths]\nresnet18 = 0.125\n'
                    '[learning_rates]\nknet4 = 0.05\n')
    specs = {s.architecture: s for s in load_sweep(path).specs}
    assert (specs["knet4"].width, specs["knet4"].base_lr) == (0.5, 0.05)
    assert (specs["resnet18"].width, specs["resnet18"].base_lr) == (0.125, None)


def test_rule_options_reach_only_their_rule_and_bad_ones_are_named(tmp_path: Path):
    base = ('rules = ["fa", "ia"]\nbatch_sizes = [32]\n[[tasks]]\nname = "digits"\narchitectures = ["knet4_bn"]\n')
    good = tmp_path / "good.toml"
    good.write_text(base + "[rule_options.ia]\nalpha = 0.02\nbeta = 0.01\n")
    specs = {s.rule: s for s in load_sweep(good).specs}
    assert specs["ia"].rule_options == (("alpha", 0.02), ("beta", 0.01)) and specs["fa"].rule_options == ()
    assert RunSpec.from_json(specs["ia"].to_json()) == specs["ia"]
    for extra, message in (("[rule_options.ia]\nalphax = 1.0\n", "does not accept the options ['alphax']"),
                           ("[rule_options.kp]\ndecay = 0.1\n", "names a rule the sweep does not run"),
                           ("[rule_options.ia]\nalpha = -1.0\n", "coefficient alpha must be >= 0")):
        bad = tmp_path / "bad.toml"
        bad.write_text(base + extra)
        with pytest.raises(SweepError, match=re.escape(message)):
            load_sweep(bad)
