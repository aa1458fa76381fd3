"""Sweep files (TOML): the study's grid of rules x architectures x tasks x curricula x seeds.

```toml
name = "demo"
rules = ["sgdm", "adam", "fa", "ia"]
batch_sizes = [32]
model_seeds = [0]            # "none" = unseeded (the paper's None)
dataset_seeds = ["none", 0]
width = 0.25                 # width multiplier of every architecture
epochs = 2
checkpoints = 11             # observation points, evenly spaced, 0 = initialisation
probe_size = 64
measurements = ["units=0.1,noise=0.5"]   # simulated instruments (the ideal one is always in)
record_units = 0
schedule = "constant"        # learning-rate schedule: constant, step (x0.1 at 30/60/90%), cosine

[[tasks]]                    # each task with the architectures trained on it
name = "digits"
architectures = ["knet4", "knet5"]

[learning_rates]             # base learning rate at batch size 256, per architecture
knet4 = 0.05

[widths]                     # width multiplier per architecture (default: `width`)
resnet18 = 0.125

[rule_options.ia]            # a rule's coefficients (default: the rule's own)
alpha = 0.02
```
Runs expand in the order tasks, architectures, rules, batch sizes, model seeds, dataset
seeds. Unknown keys, empty lists and duplicate runs are errors naming the file and key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrsim.spec import DEFAULT_CHECKPOINTS, DEFAULT_PROBE_SIZE, DEFAULT_SCHEDULE, RunSpec, parse_seed

TOP_KEYS = {"name", "description", "rules", "batch_sizes", "model_seeds", "dataset_seeds", "width", "epochs",
            "checkpoints", "probe_size", "measurements", "record_units", "schedule", "tasks", "learning_rates",
            "widths", "rule_options"}
TASK_KEYS = {"name", "architectures"}


class SweepError(ValueError):
    """A sweep file that cannot be expanded, and why."""


@dataclass(frozen=True)
class Sweep:
    name: str
    description: str
    specs: list[RunSpec]
    source: Path


def _list(config: dict[str, Any], key: str, file: str, default: list | None = None) -> list:
    value = config.get(key, default)
    if value is None:
        raise SweepError(f"{file}: missing '{key}' (a list)")
    if not isinstance(value, list) or not value:
        raise SweepError(f"{file}: '{key}' must be a non-empty list, got {value!r}")
    return value


def _rule_options(table: Any, rules: list[str], file: str) -> dict[str, tuple[tuple[str, float], ...]]:
    """[rule_options.<rule>] tables, checked against the rules' own coefficients."""
    if table == {}:
        return {}
    from lrsim.rules import RULES, get_rule

    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise SweepError(f"{file}: [rule_options] must hold one table per rule, e.g. [rule_options.ia] alpha = 0.02")
    out = {}
    for rule, options in table.items():
        if rule not in rules:
            raise SweepError(f"{file}: [rule_options.{rule}] names a rule the sweep does not run ({', '.join(rules)})")
        if rule not in RULES:
            raise SweepError(f"{file}: [rule_options.{rule}]: unknown learning rule; known: {', '.join(RULES)}")
        try:
            get_rule(rule, **options)
        except (TypeError, ValueError) as error:
            raise SweepError(f"{file}: [rule_options.{rule}]: {error}") from None
        out[rule] = tuple(sorted(options.items()))
    return out


def parse_sweep(config: dict[str, Any], source: Path) -> Sweep:
    """Expand a parsed sweep file into its runs."""
    file = source.name
    unknown = set(config) - TOP_KEYS
    if unknown:
        raise SweepError(f"{file}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(TOP_KEYS))}")
    rules = _list(config, "rules", file)
    batch_sizes = _list(config, "batch_sizes", file)
    try:
        model_seeds = [parse_seed(s) for s in _list(config, "model_seeds", file, [0])]
        dataset_seeds = [parse_seed(s) for s in _list(config, "dataset_seeds", file, [0])]
    except ValueError as error:
        raise SweepError(f"{file}: {error}") from None
    tasks = _list(config, "tasks", file)
    rates, widths = config.get("learning_rates", {}), config.get("widths", {})
    for name, table in (("learning_rates", rates), ("widths", widths)):
        if not isinstance(table, dict):
            raise SweepError(f"{file}: [{name}] must be a table of architecture = number")
    rule_options = _rule_options(config.get("rule_options", {}), rules, file)
    width = config.get("width", 1.0)
    common = {
        "epochs": config.get("epochs", 1),
        "checkpoints": config.get("checkpoints", DEFAULT_CHECKPOINTS),
        "probe_size": config.get("probe_size", DEFAULT_PROBE_SIZE),
        "measurements": tuple(config.get("measurements", ())),
        "record_units": config.get("record_units", 0),
        "schedule": config.get("schedule", DEFAULT_SCHEDULE),
    }
    specs: list[RunSpec] = []
    seen: set[str] = set()
    for number, task in enumerate(tasks):
        if not isinstance(task, dict) or set(task) - TASK_KEYS or "name" not in task:
            raise SweepError(f"{file}: [[tasks]] entry {number + 1} must have 'name' and 'architectures' only")
        for architecture in _list(task, "architectures", f"{file} [[tasks]] {task['name']}"):
            for rule in rules:
                for batch_size in batch_sizes:
                    for model_seed in model_seeds:
                        for dataset_seed in dataset_seeds:
                            try:
                                spec = RunSpec(rule=rule, architecture=architecture, task=task["name"],
                                               batch_size=batch_size, model_seed=model_seed,
                                               dataset_seed=dataset_seed, base_lr=rates.get(architecture),
                                               width=widths.get(architecture, width),
                                               rule_options=rule_options.get(rule, ()), **common)
                            except (TypeError, ValueError) as error:
                                raise SweepError(f"{file}: {error}") from None
                            if spec.run_id in seen:
                                raise SweepError(f"{file}: run {spec.run_id} appears twice in the grid")
                            seen.add(spec.run_id)
                            specs.append(spec)
    return Sweep(name=str(config.get("name", source.stem)), description=str(config.get("description", "")),
                 specs=specs, source=source)


def load_sweep(path: str | Path) -> Sweep:
    """Read and expand a sweep TOML file."""
    source = Path(path)
    try:
        config = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{source}: no such sweep file") from None
    except tomllib.TOMLDecodeError as error:
        raise SweepError(f"{source.name}: not valid TOML ({error})") from None
    return parse_sweep(config, source)
