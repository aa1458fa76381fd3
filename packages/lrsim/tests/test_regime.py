"""Training regimes: tuned rates are used and rescaled per optimizer family, the tuner chooses
stable rates and resumes, the shipped table is valid, and every rule leaves chance quickly."""

from __future__ import annotations

import json
import math
import re

import pytest

from lrsim import regime
from lrsim.architectures import ARCHITECTURES
from lrsim.regime import TunedRate, batch_scaling, load_regimes, target_for
from lrsim.rules import RULES
from lrsim.tasks import available_tasks, get_task
from lrsim.training import TrainConfig, Trainer, learning_rate
from lrsim.tune import Trial, TuneSettings, choose_rate, rise_ratio, trial_score, tune


def test_batch_scaling_is_linear_for_sgd_and_the_square_root_for_adam():
    assert batch_scaling("sgd_momentum", 64, 256) == pytest.approx(0.25)
    assert batch_scaling("adam", 64, 256) == pytest.approx(0.5)
    assert learning_rate("alexnet", "adam", 512) == pytest.approx(1e-4 * math.sqrt(2))
    with pytest.raises(KeyError, match="no batch-size rule"):
        batch_scaling("rmsprop", 64, 256)


def test_a_tuned_rate_applies_at_its_batch_size_and_is_rescaled_elsewhere(monkeypatch):
    tuned = {("digits", "knet4", "adam"): TunedRate("digits", "knet4", "adam", 2e-3, 32, 0.97),
             ("digits", "knet4", "fa"): TunedRate("digits", "knet4", "fa", 0.02, 32, 0.9)}
    monkeypatch.setattr(regime, "load_regimes", lambda: tuned)
    assert learning_rate("knet4", "adam", 32, task="digits", rule="adam") == pytest.approx(2e-3)
    assert learning_rate("knet4", "adam", 128, task="digits", rule="adam") == pytest.approx(4e-3)
    assert learning_rate("knet4", "sgd_momentum", 64, task="digits", rule="fa") == pytest.approx(0.04)
    # an explicit base rate (at 256) wins; untuned pairs fall back to the architecture's base
    assert learning_rate("knet4", "sgd_momentum", 64, 0.4, task="digits", rule="fa") == pytest.approx(0.1)
    assert learning_rate("knet4", "sgd_momentum", 32, task="cifar10", rule="fa") == pytest.approx(0.1 / 8)


def _record(rate: float, seed: int, metric: float, rise: float = 1.0, status: str = "complete") -> dict:
    return {"task": "digits", "architecture": "knet4", "rule": "fa", "learning_rate": rate, "seed": seed,
            "final_metric": metric, "rise": rise, "status": status}


def test_the_chosen_rate_has_the_best_worst_seed_and_unstable_or_diverged_seeds_score_zero():
    assert trial_score(_record(0.1, 0, 0.9, rise=1.6)) == 0.0
    assert trial_score(_record(0.1, 0, 0.9, status="diverged")) == 0.0
    records = [_record(0.01, 0, 0.80), _record(0.01, 1, 0.82),      # stable, modest
               _record(0.02, 0, 0.95), _record(0.02, 1, 0.60),      # one bad seed
               _record(0.04, 0, 0.97), _record(0.04, 1, 0.96, rise=2.0)]  # fast but its loss blew up
    chosen = choose_rate(records)
    assert chosen["learning_rate"] == 0.01 and chosen["score"] == pytest.approx(0.80)
    assert [g["score"] for g in chosen["grid"]] == pytest.approx([0.80, 0.60, 0.0])
    # ties within 0.005 go to the higher mean, then the lower rate
    tied = [_record(0.01, 0, 0.95), _record(0.01, 1, 0.95), _record(0.02, 0, 0.952), _record(0.02, 1, 0.99)]
    assert choose_rate(tied)["learning_rate"] == 0.02
    level = [_record(0.01, 0, 0.95), _record(0.01, 1, 0.96), _record(0.02, 0, 0.952), _record(0.02, 1, 0.958)]
    assert choose_rate(level)["learning_rate"] == 0.01


def _stand_in(trial: Trial, settings: TuneSettings) -> dict:
    """A trial whose metric peaks at a rate 8x the grid's centre (0.0125 for knet4 fa at batch 32)."""
    metric = max(0.0, 0.99 - 0.1 * abs(math.log2(trial.learning_rate / 0.1)))
    return {"task": trial.task, "architecture": trial.architecture, "rule": trial.rule,
            "learning_rate": trial.learning_rate, "seed": trial.seed, "status": "complete",
            "final_metric": metric, "rise": 1.0}


def test_the_tuner_extends_its_grid_past_an_edge_writes_the_table_and_resumes_from_its_trials(tmp_path):
    settings = TuneSettings(seeds=(0, 1), steps=(-1, 0, 1), extend=2)
    path = tune([("digits", "knet4", "fa")], tmp_path, settings, workers=1, runner=_stand_in)
    table = json.loads(path.read_text())
    (entry,) = table["rates"]
    # the best rate (0.1) lies 3 steps above the centre: the grid grew twice, the most it may
    assert [g["learning_rate"] for g in entry["grid"]] == [0.00625, 0.0125, 0.025, 0.05, 0.1]
    assert entry["learning_rate"] == 0.1 and entry["batch_size"] == 32
    assert table["settings"]["seeds"] == [0, 1] and table["made"].endswith("Z")
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 10

    def must_not_run(trial, settings):
        raise AssertionError(f"{trial} was already done")

    again = tune([("digits", "knet4", "fa")], tmp_path, settings, workers=1, runner=must_not_run)
    assert json.loads(again.read_text())["rates"][0]["learning_rate"] == 0.1


def test_a_cut_last_line_is_dropped_and_trials_of_other_settings_are_refused(tmp_path):
    settings = TuneSettings(seeds=(0,), steps=(0,), extend=0)
    tune([("digits", "knet4", "fa")], tmp_path, settings, workers=1, runner=_stand_in)
    trials = tmp_path / "trials.jsonl"
    trials.write_text(trials.read_text() + '{"task": "digits", "archi')
    again = TuneSettings(seeds=(0, 1), steps=(0,), extend=0)
    tune([("digits", "knet4", "fa")], tmp_path, again, workers=1, runner=_stand_in)
    lines = trials.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["settings"]["epochs"] == 15 for line in lines)
    with pytest.raises(ValueError, match=r"line 1: a trial made with other settings \(epochs 15 there, 5 now\)"):
        tune([("digits", "knet4", "fa")], tmp_path, TuneSettings(epochs=5, seeds=(0,), steps=(0,), extend=0),
             workers=1, runner=_stand_in)


def test_a_combination_with_no_stable_rate_is_not_written(tmp_path):
    def blows_up(trial, settings):
        return {**_stand_in(trial, settings), "rise": 40.0}

    table = json.loads(tune([("digits", "knet4", "fa")], tmp_path, TuneSettings(seeds=(0,), steps=(0,)), workers=1,
                            runner=blows_up).read_text())
    assert table["rates"] == [] and table["unstable"][0]["rule"] == "fa"


def test_a_corrupt_trials_file_is_named_with_its_line(tmp_path):
    (tmp_path / "trials.jsonl").write_text('not json\n{"also": "not a trial"}\n')
    with pytest.raises(ValueError, match=r"trials.jsonl, line 1: not a trial record"):
        tune([("digits", "knet4", "fa")], tmp_path, TuneSettings(seeds=(0,)), workers=1, runner=_stand_in)


def test_the_shipped_regime_table_is_valid_and_names_known_tasks_architectures_and_rules():
    table = load_regimes()
    assert table, "lrsim/regimes.json ships no tuned rate"
    for (task, architecture, rule), tuned in table.items():
        assert task in available_tasks() and architecture in ARCHITECTURES and rule in RULES
        assert tuned.learning_rate > 0 and tuned.batch_size >= 1 and 0 <= tuned.score <= 1


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not a readable regime table"),
    ('{"rates": {}}', "a JSON object with a list 'rates'"),
    ('{"rates": [{"task": "digits", "architecture": "knet4", "rule": "fa", "learning_rate": -1, "batch_size": 32, '
     '"score": 0.9}]}', "rates[0]"),
])
def test_a_bad_regime_table_is_refused_naming_the_file_and_entry(tmp_path, text, message):
    from lrsim.regime import read_regime_table

    path = tmp_path / "regimes.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        read_regime_table(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_targets_follow_the_issue_table():
    assert target_for("digits", "knet5_lrn", "fa") == 0.85
    assert target_for("digits", "knet4_bn", "adam") == 0.95
    assert target_for("digits", "resnet18", "kp") == 0.80
    assert target_for("simclr:digits", "knet4", "ia") == 0.80
    assert target_for("cifar10", "knet4", "fa") is None


def test_the_loss_rise_is_the_worst_epoch_over_the_start_and_infinite_when_not_finite():
    assert rise_ratio(2.0, [2.4, 3.2, 1.0]) == pytest.approx(1.6)
    assert rise_ratio(2.0, [1.0, float("nan")]) == math.inf


@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_leaves_chance_within_three_epochs_under_the_shipped_regime(rule):
    """knet4_bn at width 1/4 on the embedded digits: chance is 0.10."""
    task = get_task("digits")
    config = TrainConfig("knet4_bn", rule, epochs=3, batch_size=32, width=0.25, model_seed=0, dataset_seed=0,
                         schedule="constant")
    result = Trainer(task, config).fit()
    curve = result.learning_curve
    assert result.status == "complete"
    assert curve[0]["epoch"] == 0.0 and curve[0]["metric"] < 0.25
    assert result.final_metric > 0.6
    assert max(p["loss"] for p in curve[1:]) <= 1.5 * curve[0]["loss"]


def test_a_checkpoint_trained_at_another_rate_than_the_regime_now_gives_is_refused(tmp_path, monkeypatch):
    from lrsim.checkpoints import CheckpointError

    from .conftest import TinyDigits

    task = TinyDigits(n_train=64)
    config = TrainConfig("knet4", "fa", epochs=1, batch_size=32, width=0.25, dataset_seed=0)
    Trainer(task, config, checkpoint_dir=tmp_path).fit()
    changed = {("tiny-digits", "knet4", "fa"): TunedRate("tiny-digits", "knet4", "fa", 0.5, 32, 0.9)}
    monkeypatch.setattr(regime, "load_regimes", lambda: changed)
    with pytest.raises(CheckpointError, match=r"trained at learning rate 0.0125, but this configuration now gives 0.5"):
        Trainer(task, config, checkpoint_dir=tmp_path)
