"""What defines one run: its factors (rule, architecture, task, curriculum, seeds) and settings.

The run id derives from the factors that vary in the study's grid, so it is readable
(``digits_knet4_fa_bs128_ms0_dsnone``) and stable: a resumed sweep finds a finished run
by its id and never duplicates it. Settings that do not enter the id (width, epochs,
measurements...) are recorded with the run and checked on resume.
"""

from __future__ import annotations

import json
import numbers
import re
from dataclasses import asdict, dataclass, field, fields

from shared_schema import MeasurementSetting

DEFAULT_CHECKPOINTS = 21
DEFAULT_PROBE_SIZE = 128
#: learning-rate schedules over a run's steps (lrsim.schedules.learning_rate_schedule)
SCHEDULES = ("constant", "step", "cosine")
#: CPU-scale runs are short: "step" (x0.1 at 30/60/90% of the steps) leaves most of them at
#: a tenth of the rate, and FA and IA then barely learn; paper-scale sweeps ask for "step".
DEFAULT_SCHEDULE = "constant"


def check_training_settings(*, epochs: object, batch_size: object, width: object, base_lr: object,
                            schedule: object, model_seed: object, dataset_seed: object) -> None:
    """Refuse training settings out of range: the one set of checks of what a `RunSpec` and a
    `lrsim.trainer.TrainConfig` share (`base_lr` is the TrainConfig's `base_learning_rate`)."""
    for name, value in (("batch_size", batch_size), ("epochs", epochs)):
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not width > 0:  # type: ignore[operator]
        raise ValueError(f"width must be > 0, got {width}")
    if base_lr is not None and not float(base_lr) > 0:  # type: ignore[arg-type]
        raise ValueError(f"the learning rate must be > 0, got {base_lr}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}: the schedule must be one of "
                         f"{', '.join(SCHEDULES)}")
    for name, seed in (("model_seed", model_seed), ("dataset_seed", dataset_seed)):
        if seed is not None and (not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"{name} must be a non-negative integer or None, got {seed!r}")


def seed_text(seed: int | None) -> str:
    return "none" if seed is None else str(seed)


def parse_seed(value: object) -> int | None:
    """A seed from a CLI or TOML value: an integer >= 0, or none/None/null for unseeded."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"a seed must be an integer >= 0 or 'none', not {value!r}")
    try:
        seed = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"a seed must be an integer >= 0 or 'none', not {value!r}") from None
    if seed < 0 or str(seed) != str(value).strip():
        raise ValueError(f"a seed must be an integer >= 0 or 'none', not {value!r}")
    return seed


@dataclass(frozen=True)
class RunSpec:
    """One training run of the virtual experiment."""

    rule: str
    architecture: str
    task: str
    batch_size: int
    model_seed: int | None = None
    dataset_seed: int | None = None
    width: float = 1.0
    epochs: int = 1
    checkpoints: int = DEFAULT_CHECKPOINTS
    base_lr: float | None = None  # at batch size 256; None = the architecture's default
    schedule: str = DEFAULT_SCHEDULE
    measurements: tuple[str, ...] = field(default=())
    record_units: int = 0
    probe_size: int = DEFAULT_PROBE_SIZE
    #: the rule's coefficients, as (name, value) pairs (e.g. IA's alpha); () = the rule's defaults
    rule_options: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        check_training_settings(epochs=self.epochs, batch_size=self.batch_size, width=self.width,
                                base_lr=self.base_lr, schedule=self.schedule, model_seed=self.model_seed,
                                dataset_seed=self.dataset_seed)
        for name in ("checkpoints", "probe_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.checkpoints < 2:
            raise ValueError("a trajectory needs at least 2 checkpoints (initialisation and one more)")
        if self.record_units < 0:
            raise ValueError("record_units must be >= 0 (0 = no unit-level recording)")
        canonical = tuple(MeasurementSetting.parse(m).label for m in self.measurements)
        object.__setattr__(self, "measurements", canonical)
        options = dict(self.rule_options.items() if isinstance(self.rule_options, dict) else self.rule_options)
        for name, value in options.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"rule option {name!r} must be a number, got {value!r}")
        object.__setattr__(self, "rule_options", tuple(sorted((str(k), float(v)) for k, v in options.items())))

    @property
    def run_id(self) -> str:
        """Readable, stable id from the grid factors (characters safe for file names)."""
        text = (f"{self.task}_{self.architecture}_{self.rule}_bs{self.batch_size}"
                f"_ms{seed_text(self.model_seed)}_ds{seed_text(self.dataset_seed)}")
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text)

    @property
    def settings(self) -> list[MeasurementSetting]:
        return [MeasurementSetting.parse(m) for m in self.measurements]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown run settings: {', '.join(sorted(unknown))}")
        values["measurements"] = tuple(values.get("measurements", ()))
        values["rule_options"] = tuple(tuple(pair) for pair in values.get("rule_options", ()))
        return cls(**values)

    def differences(self, recorded: RunSpec) -> list[str]:
        """Settings asked for now that differ from a recorded spec: 'name: asked X, recorded Y'."""
        return [f"{f.name}: asked {getattr(self, f.name)!r}, recorded {getattr(recorded, f.name)!r}"
                for f in fields(self) if getattr(self, f.name) != getattr(recorded, f.name)]
