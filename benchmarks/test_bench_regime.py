"""Held-out accuracy of every rule under the shipped training regime, against its target.

Every (task, architecture, rule) that lrsim/regimes.json tunes is trained at its tuned rate
with seeds 0, 1 and 2 at the targets' settings (width 1/2, ResNets 1/8; 15 epochs; batch 32;
constant rate), two trials side by side. Each combination's worst seed must reach its target
(`lrsim.regime.TARGETS`), except the documented misses below, which must still miss (so the
list says what is true; docs/REGIMES.md shows their curves and what was tried).
"""

from __future__ import annotations

from lrsim.regime import load_regimes, target_for
from lrsim.tune import Trial, TuneSettings, run_trial, trial_score

SEEDS = (0, 1, 2)
#: FA and IA on the paper's KNets (no batch norm) stay on a plateau and blow up at the rates that leave it;
#: Adam on knet5 ends at 0.947 in its worst seed; FA on ResNet-18 (width 1/8) is still rising at 15 epochs
KNOWN_MISSES = {("digits", architecture, rule) for architecture in ("knet4", "knet5", "knet4_lrn", "knet5_lrn")
                for rule in ("fa", "ia")} | {("digits", "knet5", "adam"), ("digits", "resnet18", "fa")}


def _train_all() -> dict[tuple[str, str, str], list[dict]]:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from lrsim.tune import _init_worker

    table = load_regimes()
    settings = TuneSettings(widths={a: 0.125 for (_, a, _) in table if a.startswith("resnet")})
    trials = [Trial(t, a, r, tuned.learning_rate, seed) for (t, a, r), tuned in sorted(table.items())
              for seed in SEEDS if tuned.batch_size == settings.batch_size]
    with ProcessPoolExecutor(2, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        records = list(pool.map(run_trial, trials, [settings] * len(trials)))
    out: dict[tuple[str, str, str], list[dict]] = {}
    for record in records:
        out.setdefault((record["task"], record["architecture"], record["rule"]), []).append(record)
    return out


def test_every_rule_reaches_its_target_accuracy_under_the_shipped_regime(benchmark):
    results = benchmark.pedantic(_train_all, rounds=1, iterations=1)
    rows, misses, unexpected = [], [], []
    for key, records in sorted(results.items()):
        target = target_for(*key)
        worst = min(trial_score(r) for r in records)
        rows.append(f"{key[0]:>14} {key[1]:>10} {key[2]:>5}  worst seed {worst:.3f}  target {target}")
        if target is None:
            continue
        if worst < target and key not in KNOWN_MISSES:
            misses.append(rows[-1])
        if worst >= target and key in KNOWN_MISSES:
            unexpected.append(rows[-1])
    benchmark.extra_info["worst_seed"] = {" ".join(k): min(trial_score(r) for r in v) for k, v in results.items()}
    print("\n".join(rows))
    assert not misses, "below target:\n" + "\n".join(misses)
    assert not unexpected, "listed as known misses but now met (update KNOWN_MISSES and docs):\n" + "\n".join(
        unexpected)
