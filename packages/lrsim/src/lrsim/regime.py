"""Training regimes: the learning rate a (task, architecture, rule) trains at, and what it should reach.

Tuned rates are measured by `lrsim tune` (a log-grid search over a few seeds, `lrsim.tune`)
and ship in `lrsim/regimes.json`, which records how and when they were made. A rate is
tuned at one batch size and rescaled to a run's batch size by the rule of its optimizer
family: linearly for SGD with momentum (Goyal et al. 2017, the paper's rule), by the square
root for Adam (Malladi et al. 2022), whose steps do not grow with the gradient's size.
Pairs that were never tuned fall back to `lrsim.schedules.BASE_LEARNING_RATES` at batch 256,
rescaled the same way.

`TARGETS` are the held-out task metrics a run should reach at the tuning settings (the
demo's width, 15 epochs, batch 32); `lrsim run` prints a run's metric beside its target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "REGIME_FILE",
    "TARGETS",
    "TunedRate",
    "batch_scaling",
    "load_regimes",
    "target_for",
    "target_settings",
    "tuned_rate",
]

REGIME_FILE = "regimes.json"

#: how an optimizer family's rate follows the batch size: the exponent of (batch / tuned batch)
SCALING_EXPONENTS = {"sgd_momentum": 1.0, "adam": 0.5}


def batch_scaling(optimizer: str, batch_size: int, reference_batch_size: int) -> float:
    """The factor from a rate at `reference_batch_size` to one at `batch_size` for `optimizer`."""
    if optimizer not in SCALING_EXPONENTS:
        raise KeyError(f"no batch-size rule for optimizer family {optimizer!r}; known: {', '.join(SCALING_EXPONENTS)}")
    return (batch_size / reference_batch_size) ** SCALING_EXPONENTS[optimizer]


@dataclass(frozen=True)
class TunedRate:
    """The learning rate chosen for one (task, architecture, rule), at the batch size it was tuned at."""

    task: str
    architecture: str
    rule: str
    learning_rate: float
    batch_size: int
    #: the worst seed's final metric at that rate (the criterion it was chosen by)
    score: float


def read_regime_table(path: str | Path) -> dict[str, Any]:
    """A regime table (the JSON `lrsim tune` writes), checked; ValueError names the file and the entry."""
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable regime table ({error}); rerun `lrsim tune` to write it") from None
    rates = table.get("rates") if isinstance(table, dict) else None
    if not isinstance(rates, list):
        raise ValueError(f"{path}: a regime table is a JSON object with a list 'rates'; rerun `lrsim tune`")
    for index, entry in enumerate(rates):
        try:
            TunedRate(**{name: entry[name] for name in TunedRate.__dataclass_fields__})
            if not (float(entry["learning_rate"]) > 0 and int(entry["batch_size"]) >= 1):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: rates[{index}] ({str(entry)[:80]}) needs task, architecture, rule, a "
                             f"learning_rate > 0, a batch_size >= 1 and a score") from None
    return table


@cache
def load_regimes() -> dict[tuple[str, str, str], TunedRate]:
    """The shipped tuned rates, by (task, architecture, rule)."""
    source = resources.files("lrsim") / REGIME_FILE
    with resources.as_file(source) as path:
        table = read_regime_table(path)
    out = {}
    for entry in table["rates"]:
        rate = TunedRate(**{name: entry[name] for name in TunedRate.__dataclass_fields__})
        out[rate.task, rate.architecture, rate.rule] = rate
    return out


def tuned_rate(task: str, architecture: str, rule: str) -> TunedRate | None:
    """The shipped tuned rate of this combination, or None when it was not tuned."""
    return load_regimes().get((task, architecture, rule))


def target_settings(architecture: str) -> str:
    """The settings a target holds at, for `architecture`."""
    width = "1/8" if architecture.startswith("resnet") else "1/2"
    return f"width {width}, 15 epochs, batch 32"


#: (task family, architecture family, rule) -> held-out metric to reach; "*" matches any
TARGETS: dict[tuple[str, str, str], float] = {
    **{("digits", "knet", rule): 0.95 for rule in ("sgdm", "adam")},
    **{("digits", "knet", rule): 0.90 for rule in ("kp", "ia")},
    ("digits", "knet", "fa"): 0.85,
    **{("digits", "resnet18", rule): 0.95 for rule in ("sgdm", "adam")},
    **{("digits", "resnet18", rule): 0.80 for rule in ("fa", "ia", "kp")},
    ("simclr:digits", "*", "*"): 0.80,
}


def _architecture_family(architecture: str) -> str:
    return "knet" if architecture.startswith("knet") else architecture


def target_for(task: str, architecture: str, rule: str) -> float | None:
    """The metric a run of this combination should reach at the tuning settings (None: no target set)."""
    family = _architecture_family(architecture)
    for key in ((task, family, rule), (task, family, "*"), (task, "*", rule), (task, "*", "*")):
        if key in TARGETS:
            return TARGETS[key]
    return None

