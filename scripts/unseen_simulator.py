"""Unseen-simulator check: does lrdecode name the rule of recordings made by a simulator it never saw?

The "outside" simulator is plain numpy here (no project code): multilayer perceptrons
64 -> 120 -> 80 -> 10 (ReLU) learn scikit-learn's bundled 8x8 digits (standardised) by one of
three rules, SGD with momentum (`sgdm`), Adam (`adam`) or feedback alignment (`fa`: fixed random
feedback matrices in the backward pass), several animals (seeds) per rule. Each animal's two
hidden layers are its "areas", A1 (120 units) and A2 (80 units), recorded as responses to a
fixed set of held-out digits at a few sessions spread over training, and written as one long
CSV per animal (session, time, stimulus, unit, area, response), the layout
`lrdecode ingest` reads. Noise animals (i.i.d. Gaussian responses, no learning) are written
the same way.

Then, with the two command lines exactly as a user would run them:

1. `lrsim sweep`: the decoder's training data, lrsim's own networks (KNets on the digits,
   rules sgdm, adam, fa, ia) with unit responses recorded (`record_units`);
2. `lrdecode ingest` of every animal's CSV;
3. `lrdecode fit SWEEP --match ONE_ANIMAL`: one matched decoder per group of areas with the
   same unit count, in one file (every animal shares the sessions and unit counts);
4. `lrdecode predict MODEL ANIMAL...`: per area, per animal, and the novelty check;

and the summary: per-area and per-animal accuracy against chance, and how many areas and
animals the novelty check flags (it should flag the noise animals, not the learning ones).

Every stage is skipped when its output exists, so an interrupted run continues. Bulky
intermediate files (the CSVs, the ingested datasets, the sweep, the model) go to OUT/work;
the rest of OUT is small (summary.json, summary.md, animals.json, predictions/, logs/,
sweep.toml, timings.json). Usage (with the Python of the environment that has lrsim and
lrdecode, or --bin naming where their executables are)::

    python scripts/unseen_simulator.py --out docs/unseen-simulator --workers 2   # ~7 min on 2 cores
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

OUTSIDE_RULES = ("sgdm", "adam", "fa")
DECODER_RULES = ("sgdm", "adam", "fa", "ia")
LAYERS = (64, 120, 80, 10)  # input, A1, A2, output
AREAS = ("A1", "A2")
SESSION_EPOCHS = (0, 1, 3, 6, 10, 15)
LEARNING_RATES = {"sgdm": 0.01, "adam": 0.001, "fa": 0.01}
MOMENTUM = 0.9
BATCH_SIZE = 32
HELD_OUT = 400  # digits kept out of training: evaluation, and the probe stimuli among them
SPLIT_SEED = 20261207


# ------------------------------------------------------------------ the outside simulator (numpy)

def digits_split(n_stimuli: int) -> dict[str, np.ndarray]:
    """Standardised digits: a training set, a held-out set, and the probe stimuli (held out, class-balanced)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data.astype(np.float64), digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    test, train = order[:HELD_OUT], order[HELD_OUT:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    std[std == 0] = 1.0  # pixels that are always blank
    x = (x - mean) / std
    per_class = math.ceil(n_stimuli / 10)
    probe = np.concatenate([test[y[test] == c][:per_class] for c in range(10)])[:n_stimuli]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test], "x_probe": x[probe],
            "probe_index": probe}


class MLP:
    """64 -> 120 -> 80 -> 10, ReLU, softmax cross-entropy; backprop or feedback alignment; SGD+momentum or Adam."""

    def __init__(self, rule: str, seed: int) -> None:
        self.rule = rule
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.w, self.b = [], []
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(LAYERS)):
            gain = 2.0 if i < len(LAYERS) - 2 else 1.0  # He for the ReLU layers
            self.w.append(rng.normal(0.0, math.sqrt(gain / fan_in), size=(fan_in, fan_out)))
            self.b.append(np.zeros(fan_out))
        # feedback alignment: a fixed random matrix in place of each W^T above the first layer
        self.feedback = [rng.normal(0.0, math.sqrt(1.0 / w.shape[0]), size=w.shape) for w in self.w]
        self.params = [*self.w, *self.b]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.steps = 0

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations: input, A1, A2, logits."""
        acts = [x]
        for i, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0.0) if i < len(self.w) - 1 else z)
        return acts

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1].argmax(axis=1)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        acts = self.forward(x)
        logits = acts[-1] - acts[-1].max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())
        delta = p
        delta[np.arange(len(y)), y] -= 1.0
        delta /= len(y)
        grads_w, grads_b = [None] * len(self.w), [None] * len(self.w)
        for i in reversed(range(len(self.w))):
            grads_w[i] = acts[i].T @ delta
            grads_b[i] = delta.sum(axis=0)
            if i > 0:
                back = self.feedback[i] if self.rule == "fa" else self.w[i]
                delta = (delta @ back.T) * (acts[i] > 0)
        self.update([*grads_w, *grads_b])
        return loss

    def update(self, grads: list[np.ndarray]) -> None:
        lr = LEARNING_RATES[self.rule]
        self.steps += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if self.rule == "adam":
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                m_hat = m / (1 - 0.9 ** self.steps)
                v_hat = v / (1 - 0.999 ** self.steps)
                p -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            else:  # sgdm and fa: SGD with momentum
                m *= MOMENTUM
                m += g
                p -= lr * m


def train_animal(rule: str, seed: int, data: dict[str, np.ndarray], epochs: int
                 ) -> tuple[np.ndarray, list[float], list[float]]:
    """Responses (sessions x stimuli x units, A1 units then A2), held-out accuracy per session, and per epoch."""
    net = MLP(rule, seed)
    sessions, accuracy_at_sessions, curve = [], [], []

    def record() -> None:
        acts = net.forward(data["x_probe"])
        sessions.append(np.concatenate([acts[1], acts[2]], axis=1))
        accuracy_at_sessions.append(float((net.predict(data["x_test"]) == data["y_test"]).mean()))

    if 0 in SESSION_EPOCHS:
        record()
    n = len(data["y_train"])
    for epoch in range(1, epochs + 1):
        order = net.rng.permutation(n)
        for start in range(0, n, BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss = net.step(data["x_train"][batch], data["y_train"][batch])
            if not np.isfinite(loss):
                raise SystemExit(f"outside simulator: {rule} seed {seed} diverged in epoch {epoch}")
        curve.append(float((net.predict(data["x_test"]) == data["y_test"]).mean()))
        if epoch in SESSION_EPOCHS:
            record()
    return np.stack(sessions), accuracy_at_sessions, curve


def write_csv(path: Path, responses: np.ndarray, times: Sequence[float]) -> None:
    """One long CSV per animal: session, time, stimulus, unit, area, response (written atomically)."""
    import pandas as pd

    n_sessions, n_stimuli, n_units = responses.shape
    area_of_unit = np.repeat(np.array(AREAS), LAYERS[1:3])
    within = np.concatenate([np.arange(n) for n in LAYERS[1:3]])
    unit_names = np.array([f"{a}-{i:03d}" for a, i in zip(area_of_unit, within, strict=True)])
    session, stimulus, unit = np.meshgrid(np.arange(n_sessions), np.arange(n_stimuli), np.arange(n_units),
                                          indexing="ij")
    table = pd.DataFrame({
        "session": session.ravel(),
        "time": np.asarray(times, dtype=np.float64)[session.ravel()],
        "stimulus": stimulus.ravel(),
        "unit": unit_names[unit.ravel()],
        "area": area_of_unit[unit.ravel()],
        "response": responses.ravel(),
    })
    temporary = path.with_name(path.name + ".tmp")
    table.to_csv(temporary, index=False, float_format="%.6g")
    os.replace(temporary, path)


def stage_animals(args: argparse.Namespace, work: Path, out: Path) -> dict:
    """Train the outside MLPs, record their areas, write one CSV per animal (and the noise animals)."""
    csv_dir = work / "animals"
    csv_dir.mkdir(parents=True, exist_ok=True)
    data = digits_split(args.stimuli)
    times = [float(e) for e in SESSION_EPOCHS if e <= args.epochs]
    if times[-1] != args.epochs:
        raise SystemExit(f"--epochs {args.epochs}: the sessions are at epochs {SESSION_EPOCHS}; train at least "
                         f"to {SESSION_EPOCHS[-1]}")
    animals = []
    for r, rule in enumerate(OUTSIDE_RULES):
        for i in range(args.animals):
            name, seed = f"{rule}_{i:02d}", 1000 * (r + 1) + i
            began = time.perf_counter()
            responses, at_sessions, curve = train_animal(rule, seed, data, args.epochs)
            write_csv(csv_dir / f"{name}.csv", responses, times)
            dead = {area: int((block.max(axis=(0, 1)) <= 0).sum())
                    for area, block in zip(AREAS, np.split(responses, [LAYERS[1]], axis=2), strict=True)}
            animals.append({"animal": name, "rule": rule, "kind": "learning", "seed": seed,
                            "held_out_accuracy": curve[-1], "accuracy_at_sessions": at_sessions,
                            "learning_curve": curve, "units_never_active": dead,
                            "seconds": time.perf_counter() - began})
            print(f"  {name}: held-out accuracy {curve[-1]:.3f} (sessions: "
                  f"{', '.join(f'{a:.2f}' for a in at_sessions)}); {time.perf_counter() - began:.1f} s", flush=True)
    for i in range(args.noise_animals):
        name, seed = f"noise_{i:02d}", 9000 + i
        rng = np.random.default_rng(seed)
        responses = rng.normal(0.0, 1.0, size=(len(times), args.stimuli, sum(LAYERS[1:3])))
        write_csv(csv_dir / f"{name}.csv", responses, times)
        animals.append({"animal": name, "rule": None, "kind": "noise", "seed": seed})
        print(f"  {name}: i.i.d. Gaussian responses (mean 0, s.d. 1)", flush=True)
    record = {
        "architecture": "MLP " + " -> ".join(map(str, LAYERS)) + " (ReLU hidden layers, softmax output)",
        "areas": dict(zip(AREAS, LAYERS[1:3], strict=True)),
        "task": "sklearn load_digits, standardised with the training set's pixel means and s.d.",
        "training": {"epochs": args.epochs, "batch_size": BATCH_SIZE, "learning_rates": LEARNING_RATES,
                     "momentum": MOMENTUM, "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
                     "init": "He normal (ReLU layers), N(0, 1/fan_in) output; FA feedback N(0, 1/fan_in)"},
        "split": {"seed": SPLIT_SEED, "train": int(1797 - HELD_OUT), "held_out": HELD_OUT,
                  "probe_stimuli": int(args.stimuli),
                  "probe_digit_indices": [int(i) for i in data["probe_index"]]},
        "session_epochs": times,
        "session_times_note": "the CSV `time` column is the epoch of each session (ingest reads it as days; "
                              "only the relative spacing matters to the matched decoder)",
        "animals": animals,
    }
    failed = [a for a in animals if a["kind"] == "learning" and a["held_out_accuracy"] < args.min_accuracy]
    if failed:
        shown = ", ".join(f"{a['animal']} {a['held_out_accuracy']:.3f}" for a in failed)
        raise SystemExit(f"outside simulator: {len(failed)} animal(s) did not learn (held-out accuracy below "
                         f"--min-accuracy {args.min_accuracy}): {shown}; nothing decoded")
    (out / "animals.json").write_text(json.dumps(record, indent=1))
    return record


# ------------------------------------------------------------------ the project's command lines

def sweep_toml(args: argparse.Namespace) -> str:
    seeds = ", ".join(str(s) for s in range(args.seeds))
    return f"""# Written by scripts/unseen_simulator.py: the decoder's training data for the unseen-simulator check.
# lrsim's own networks (batch-normalised KNets, which learn the digits with every rule) trained by the
# decoder's four rules, 21 observation points (6 recording sessions placed on them), unit responses
# of {args.record_units} units per layer recorded to {args.stimuli} probe digits (the recording shows {args.stimuli}).
name = "unseen-simulator"
description = "Decoder training data for scripts/unseen_simulator.py"
rules = [{", ".join(f'"{r}"' for r in DECODER_RULES)}]
batch_sizes = [32]
model_seeds = [{seeds}]
dataset_seeds = [0]
width = 0.5
epochs = {args.sim_epochs}
checkpoints = 21
probe_size = {args.stimuli}
record_units = {args.record_units}

[[tasks]]
name = "digits"
architectures = ["knet4_bn", "knet5_bn"]
"""


class CommandFailed(SystemExit):
    pass


def run_command(program: Path, arguments: Sequence[str], log: Path) -> str:
    """Run one command, echoing its output and keeping it in `log`; stop the script if it fails."""
    command = [str(program), *map(str, arguments)]
    shown = " ".join([program.name, *map(str, arguments)])
    print(f"$ {shown}", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    with log.open("a") as keep:
        keep.write(f"$ {shown}\n")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert process.stdout is not None
        for line in process.stdout:
            print(f"    {line}", end="", flush=True)
            keep.write(line)
            lines.append(line)
        status = process.wait()
        keep.write(f"(exit status {status})\n")
    if status != 0:
        raise CommandFailed(f"stopped: `{shown}` failed with exit status {status} (output in {log})")
    return "".join(lines)


def find_bin(given: Path | None) -> Path:
    candidates = [given] if given else [Path(sys.executable).parent]
    if not given and shutil.which("lrdecode"):
        candidates.append(Path(shutil.which("lrdecode")).parent)
    for directory in candidates:
        if (directory / "lrsim").exists() and (directory / "lrdecode").exists():
            return directory
    raise SystemExit("lrsim and lrdecode executables not found: run this script with the Python of the environment "
                     "that has them (e.g. the venv of `nox -s demo`) or pass --bin DIR")


# ------------------------------------------------------------------ summary

def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how likely this many hits are by guessing."""
    return float(sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def _flag(values) -> np.ndarray:
    return np.array([str(v).strip().lower() in ("true", "1") for v in values])


def activity_scale(work: Path, animals: dict, min_units: int) -> dict:
    """Median raw mean and variance of the responses at the first and last session: each outside rule's areas
    (ingested) beside each simulated layer the matched decoder trains on (lrsim, first and last checkpoint).

    The act statistics the decoder reads depend on the scale of the responses; this says how far apart the two
    simulators' scales are (read from the shared-format observables, no project code)."""
    import pandas as pd

    columns = ["run_id", "layer", "checkpoint", "statistic", "value", "n_units_total"]
    wanted = [("measure", "==", "act"), ("function", "==", "raw"), ("statistic", "in", ["mean", "var"]),
              ("measurement", "==", "all")]
    group = {a["animal"]: a["rule"] or "noise" for a in animals["animals"]}
    tables = []
    for animal, rule in group.items():
        table = pd.read_parquet(work / "ingested" / animal / "observables.parquet", columns=columns, filters=wanted)
        tables.append(table.assign(who="outside " + rule))
    recorded = pd.concat(tables, ignore_index=True)
    simulated = pd.read_parquet(work / "sweep" / "dataset" / "observables.parquet", columns=columns, filters=wanted)
    simulated = simulated[simulated["n_units_total"].astype(int) >= min_units]
    rules = pd.read_parquet(work / "sweep" / "dataset" / "runs.parquet", columns=["run_id", "learning_rule"])
    simulated = simulated.merge(rules, on="run_id")
    simulated = simulated.assign(who="lrsim " + simulated["learning_rule"].astype(str))
    result: dict[str, dict] = {}
    for table in (recorded, simulated):
        table = table.astype({"layer": str, "statistic": str})
        first, last = table["checkpoint"].min(), table["checkpoint"].max()
        table = table[table["checkpoint"].isin([first, last])]
        table = table.assign(when=np.where(table["checkpoint"] == first, "first", "last"))
        for (who, layer), g in table.groupby(["who", "layer"], sort=True):
            medians = g.groupby(["statistic", "when"])["value"].median()
            result[f"{who} {layer}"] = {f"{stat}_{when}": float(v) for (stat, when), v in medians.items()}
    return result


def summarise(out: Path, work: Path, animals: dict, timings: dict) -> dict:
    import pandas as pd

    truth = {a["animal"]: a["rule"] for a in animals["animals"]}
    kind = {a["animal"]: a["kind"] for a in animals["animals"]}
    areas = pd.read_csv(out / "predictions" / "predictions_areas.csv")
    verdicts = pd.read_csv(out / "predictions" / "predictions_animals.csv")
    report = json.loads((out / "predictions" / "predictions.json").read_text())
    for table in (areas, verdicts):
        table["true_rule"] = table["animal"].map(truth)
        table["kind"] = table["animal"].map(kind)
        table["flagged"] = ~_flag(table["in_distribution"])
        table["correct"] = table["predicted"] == table["true_rule"]
    unknown = sorted(set(areas["animal"]) - set(truth))
    if unknown:
        raise SystemExit(f"predictions name animals this script did not make: {', '.join(unknown)}")

    learning_areas = areas[areas["kind"] == "learning"]
    learning_animals = verdicts[verdicts["kind"] == "learning"]
    noise_areas, noise_animals = areas[areas["kind"] == "noise"], verdicts[verdicts["kind"] == "noise"]

    def accuracy(table: pd.DataFrame) -> dict:
        n, k = len(table), int(table["correct"].sum())
        return {"accuracy": k / n if n else None, "correct": k, "n": n,
                "sem": math.sqrt((k / n) * (1 - k / n) / n) if n else None,
                "p_vs_chance_one_third": binomial_tail(k, n, 1 / 3) if n else None}

    def confusion(table: pd.DataFrame) -> dict:
        return {rule: {p: int(((table["true_rule"] == rule) & (table["predicted"] == p)).sum())
                       for p in DECODER_RULES} for rule in OUTSIDE_RULES}

    learning = [a for a in animals["animals"] if a["kind"] == "learning"]
    mlp = {rule: {"mean": float(np.mean([a["held_out_accuracy"] for a in learning if a["rule"] == rule])),
                  "min": float(min(a["held_out_accuracy"] for a in learning if a["rule"] == rule)),
                  "max": float(max(a["held_out_accuracy"] for a in learning if a["rule"] == rule)),
                  "animals": sum(a["rule"] == rule for a in learning)} for rule in OUTSIDE_RULES}
    runs = pd.read_parquet(work / "sweep" / "dataset" / "runs.parquet",
                           columns=["learning_rule", "architecture", "status", "final_metric"])
    simulated = {f"{rule} {arch}": {"runs": len(g), "complete": int((g["status"] == "complete").sum()),
                                    "final_metric_min": float(g["final_metric"].min()),
                                    "final_metric_mean": float(g["final_metric"].mean())}
                 for (rule, arch), g in runs.groupby(["learning_rule", "architecture"], sort=True)}
    summary = {
        "question": "does lrdecode, trained on lrsim networks only, name the rule of recordings from an unseen "
                    "simulator (numpy MLPs), better per animal than per area, and does it flag noise?",
        "per_area": accuracy(learning_areas),
        "per_area_by_area": {area: accuracy(g) for area, g in learning_areas.groupby("area", sort=True)},
        "per_area_by_rule": {rule: accuracy(g) for rule, g in learning_areas.groupby("true_rule", sort=True)},
        "per_area_in_distribution_only": accuracy(learning_areas[~learning_areas["flagged"]]),
        "per_animal": accuracy(learning_animals),
        "per_animal_by_rule": {rule: accuracy(g) for rule, g in learning_animals.groupby("true_rule", sort=True)},
        "chance": {"among_outside_rules": 1 / 3, "decoder_classes": 1 / len(DECODER_RULES),
                   "note": "the animals' rules are sgdm, adam or fa (1/3 by guessing among them); the decoder "
                           "chooses among 4 (with ia), 1/4 by guessing uniformly"},
        "predicted_ia": {"areas": int((learning_areas["predicted"] == "ia").sum()),
                         "animals": int((learning_animals["predicted"] == "ia").sum())},
        "confusion_areas": confusion(learning_areas),
        "confusion_animals": confusion(learning_animals),
        "noise_animals_flagged": {"fraction": float(noise_animals["flagged"].mean()) if len(noise_animals) else None,
                                  "flagged": int(noise_animals["flagged"].sum()), "n": len(noise_animals),
                                  "note": "an animal is flagged when every one of its areas is"},
        "noise_areas_flagged": {"fraction": float(noise_areas["flagged"].mean()) if len(noise_areas) else None,
                                "flagged": int(noise_areas["flagged"].sum()), "n": len(noise_areas)},
        "learning_areas_flagged": {"fraction": float(learning_areas["flagged"].mean()),
                                   "flagged": int(learning_areas["flagged"].sum()), "n": len(learning_areas),
                                   "by_area": {a: int(g["flagged"].sum()) for a, g in
                                               learning_areas.groupby("area", sort=True)}},
        "learning_animals_flagged": {"fraction": float(learning_animals["flagged"].mean()),
                                     "flagged": int(learning_animals["flagged"].sum()), "n": len(learning_animals)},
        "novelty_scores": {
            "threshold": [n["threshold"] if n else None for n in report.get("novelty", [])],
            "learning_areas": {area: [float(g["novelty_score"].min()), float(g["novelty_score"].median()),
                                      float(g["novelty_score"].max())]
                               for area, g in learning_areas.groupby("area", sort=True)},
            "noise_areas": {area: [float(g["novelty_score"].min()), float(g["novelty_score"].median()),
                                   float(g["novelty_score"].max())]
                            for area, g in noise_areas.groupby("area", sort=True)},
            "note": "min, median, max per area",
        },
        "expected_accuracy_on_simulations": report.get("expected_accuracy"),
        "match": report.get("match"),
        "activity_scale": activity_scale(work, animals, min(LAYERS[1:3])),
        "outside_mlps_held_out_accuracy": mlp,
        "simulated_runs": simulated,
        "timings_s": timings,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    (out / "summary.md").write_text(markdown(summary))
    return summary


def markdown(s: dict) -> str:
    def pct(d: dict) -> str:
        if not d["n"]:
            return "n/a"
        return f"{d['accuracy']:.3f} ± {d['sem']:.3f} ({d['correct']}/{d['n']}; p = {d['p_vs_chance_one_third']:.2g})"

    def frac(d: dict) -> str:
        return f"{d['fraction']:.3f} ({d['flagged']}/{d['n']})" if d["n"] else "n/a"

    lines = [
        "# Unseen simulator: lrdecode on numpy MLPs it never saw",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| per-area accuracy (learning animals' areas) | {pct(s['per_area'])} |",
        *[f"| per-area accuracy, {a} | {pct(d)} |" for a, d in s["per_area_by_area"].items()],
        f"| per-area accuracy, in-distribution areas only | {pct(s['per_area_in_distribution_only'])} |",
        f"| per-animal accuracy (combined areas) | {pct(s['per_animal'])} |",
        f"| chance | {s['chance']['among_outside_rules']:.3f} among the outside rules; "
        f"{s['chance']['decoder_classes']:.3f} over the decoder's 4 classes |",
        f"| predicted ia (not an outside rule) | {s['predicted_ia']['areas']} areas, "
        f"{s['predicted_ia']['animals']} animals |",
        f"| noise animals flagged | {frac(s['noise_animals_flagged'])} |",
        f"| noise areas flagged | {frac(s['noise_areas_flagged'])} |",
        f"| learning animals' areas flagged | {frac(s['learning_areas_flagged'])} |",
        "",
        "Accuracy: mean ± binomial s.e. (correct/n; p = chance of at least as many hits guessing 1 in 3).",
        "",
        "| true rule | per-area accuracy | per-animal accuracy | MLP held-out accuracy (min / mean / max) |",
        "| --- | --- | --- | --- |",
    ]
    for rule in OUTSIDE_RULES:
        m = s["outside_mlps_held_out_accuracy"][rule]
        lines.append(f"| {rule} | {pct(s['per_area_by_rule'][rule])} | {pct(s['per_animal_by_rule'][rule])} | "
                     f"{m['min']:.3f} / {m['mean']:.3f} / {m['max']:.3f} |")
    lines += ["", "Confusion (areas; rows: true rule, columns: predicted):", "",
              "| true \\ predicted | " + " | ".join(DECODER_RULES) + " |",
              "| --- |" + " --- |" * len(DECODER_RULES)]
    for rule, row in s["confusion_areas"].items():
        lines.append(f"| {rule} | " + " | ".join(str(row[p]) for p in DECODER_RULES) + " |")
    lines += ["", "Confusion (animals):", "", "| true \\ predicted | " + " | ".join(DECODER_RULES) + " |",
              "| --- |" + " --- |" * len(DECODER_RULES)]
    for rule, row in s["confusion_animals"].items():
        lines.append(f"| {rule} | " + " | ".join(str(row[p]) for p in DECODER_RULES) + " |")
    lines += ["", "Activity scale: median raw mean and variance of the responses at the first and last session "
              "(outside areas) or checkpoint (lrsim layers with enough units; the decoder's statistics depend on it):",
              "", "| who, area or layer | mean first | mean last | var first | var last |",
              "| --- | --- | --- | --- | --- |"]
    for who, v in s["activity_scale"].items():
        lines.append(f"| {who} | {v.get('mean_first', math.nan):.3g} | {v.get('mean_last', math.nan):.3g} | "
                     f"{v.get('var_first', math.nan):.3g} | {v.get('var_last', math.nan):.3g} |")
    expected = s.get("expected_accuracy_on_simulations") or []
    if expected:
        lines += ["", "Expected accuracy per area on held-out simulated runs (the model's own estimate): "
                  + "; ".join(f"{e['mean']:.3f} ± {e['sem']:.3f}" for e in expected)]
    lines += ["", "Stage timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in s["timings_s"].items()), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/unseen-simulator"), help="output directory")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="lrsim sweep workers and lrdecode --n-jobs")
    parser.add_argument("--animals", type=int, default=8, help="outside animals (seeds) per rule")
    parser.add_argument("--noise-animals", type=int, default=2, help="animals with i.i.d. Gaussian responses")
    parser.add_argument("--epochs", type=int, default=15, help="outside MLPs' training epochs")
    parser.add_argument("--stimuli", type=int, default=100, help="probe stimuli recorded (held-out digits)")
    parser.add_argument("--min-accuracy", type=float, default=0.5,
                        help="every outside animal must reach this held-out accuracy (chance 0.1)")
    parser.add_argument("--seeds", type=int, default=6, help="lrsim model seeds per rule and architecture")
    parser.add_argument("--sim-epochs", type=int, default=15, help="lrsim training epochs")
    parser.add_argument("--record-units", type=int, default=128, help="lrsim units recorded per layer (>= 120)")
    parser.add_argument("--positions", default="A1=early,A2=deep",
                        help="depth position of each area for lrdecode ingest")
    parser.add_argument("--classifier", default="rf", help="lrdecode fit --classifier")
    parser.add_argument("--noise", type=float, default=0.0,
                        help="lrdecode fit --noise (the outside recordings are noiseless)")
    parser.add_argument("--draws", type=int, default=1, help="lrdecode fit --draws")
    parser.add_argument("--bin", type=Path, default=None,
                        help="directory of the lrsim and lrdecode executables (default: this Python's)")
    args = parser.parse_args(argv)
    if args.record_units < max(LAYERS[1:3]):
        parser.error(f"--record-units must be at least {max(LAYERS[1:3])}, the largest area's units")

    out = args.out
    work = out / "work"
    logs = out / "logs"
    work.mkdir(parents=True, exist_ok=True)
    (work / ".gitignore").write_text("# bulky intermediate files of scripts/unseen_simulator.py, not for git\n*\n")
    timings_file = out / "timings.json"
    timings: dict[str, float] = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    started = time.perf_counter()

    def stage(name: str, title: str, done: bool, action) -> None:
        print(f"\n== {name}: {title}", flush=True)
        if done:
            before = f" (took {timings[name]:.0f} s when it ran)" if name in timings else ""
            print(f"   skipped: its output exists{before}", flush=True)
            return
        began = time.perf_counter()
        action()
        timings[name] = time.perf_counter() - began
        timings_file.write_text(json.dumps(timings, indent=1))
        print(f"   ({timings[name]:.1f} s)", flush=True)

    stage("animals", f"train the outside MLPs ({len(OUTSIDE_RULES)} rules x {args.animals} animals) and write "
          f"{args.noise_animals} noise animals", (out / "animals.json").exists(),
          lambda: stage_animals(args, work, out))
    animals = json.loads((out / "animals.json").read_text())
    learning = [a for a in animals["animals"] if a["kind"] == "learning"]
    for rule in OUTSIDE_RULES:
        accs = [a["held_out_accuracy"] for a in learning if a["rule"] == rule]
        print(f"   {rule}: held-out accuracy min {min(accs):.3f}, mean {np.mean(accs):.3f}, max {max(accs):.3f} "
              f"({len(accs)} animals; chance 0.100)", flush=True)

    binaries = find_bin(args.bin)
    lrsim, lrdecode = binaries / "lrsim", binaries / "lrdecode"
    dataset = work / "sweep" / "dataset"

    def sweep() -> None:
        toml = out / "sweep.toml"
        toml.write_text(sweep_toml(args))
        run_command(lrsim, ["sweep", toml, "--out", work / "sweep", "--workers", args.workers, "--resume"],
                    logs / "sweep.log")

    stage("sweep", f"lrsim sweep: decoder training data ({len(DECODER_RULES)} rules x {args.seeds} seeds x 2 "
          "architectures)", dataset.exists(), sweep)

    positions = [p.strip() for p in args.positions.split(",") if p.strip()]
    ingested = work / "ingested"

    def ingest() -> None:
        for animal in animals["animals"]:
            target = ingested / animal["animal"]
            if target.exists():
                continue
            position_args = [x for p in positions for x in ("--position", p)]
            run_command(lrdecode, ["ingest", work / "animals" / f"{animal['animal']}.csv", "--out", target,
                                   *position_args, "--task", "digits"], logs / "ingest.log")

    stage("ingest", f"lrdecode ingest of {len(animals['animals'])} animals",
          all((ingested / a["animal"]).exists() for a in animals["animals"]), ingest)

    model = work / "matched.skops"
    reference = ingested / learning[0]["animal"]
    stage("fit", f"lrdecode fit --match {reference.name}", model.exists(), lambda: run_command(
        lrdecode, ["fit", dataset, "--match", reference, "--out", model, "--classifier", args.classifier,
                   "--noise", args.noise, "--draws", args.draws, "--n-jobs", args.workers, "--quiet"],
        logs / "fit.log"))

    predictions = out / "predictions"
    stage("predict", f"lrdecode predict with all {len(animals['animals'])} animals",
          (predictions / "predictions_animals.csv").exists(), lambda: run_command(
              lrdecode, ["predict", model, *[ingested / a["animal"] for a in animals["animals"]],
                         "--out", predictions], logs / "predict.log"))

    print("\n== summary", flush=True)
    summarise(out, work, animals, timings)
    print((out / "summary.md").read_text(), flush=True)
    print(f"total {time.perf_counter() - started:.0f} s this invocation; wrote {out / 'summary.json'} and "
          f"{out / 'summary.md'}", flush=True)


if __name__ == "__main__":
    main()
