"""The learning rate of a run: its initial value at the run's batch size, and its schedule.

The initial rate is the rate `lrsim tune` chose for the (task, architecture, rule) where the
shipped regime table has one, else `base` from `BASE_LEARNING_RATES` at batch 256, rescaled
to the batch size linearly for SGD (Goyal et al. 2017) and by the square root for Adam
(`lrsim.regime`). The schedule runs over the run's steps: "constant", "step" (x0.1 after 30%,
60% and 90% of the steps) or "cosine" (to zero at the last step).
"""

from __future__ import annotations

import keras

from lrsim.regime import batch_scaling, tuned_rate
from lrsim.spec import SCHEDULES

__all__ = ["BASE_LEARNING_RATES", "REFERENCE_BATCH_SIZE", "SCHEDULES", "learning_rate", "learning_rate_schedule"]

#: the batch size at which BASE_LEARNING_RATES apply
REFERENCE_BATCH_SIZE = 256

#: Base learning rate at batch size 256, per architecture and optimizer family.
#:
#: ResNets: 0.1 for SGD with momentum (He et al. 2016). AlexNets: 0.01 at batch 128 in
#: Krizhevsky et al. 2012, i.e. 0.02 at 256. KNets: Caffe's cifar10_full uses 0.001 at batch
#: 100 over 60,000 iterations on raw 0-255 pixels; on unit-scale inputs and short schedules
#: 0.1 lets every rule learn the 8x8 digits in 8 epochs of batch 32 (the lrsim tests), while
#: 0.4 makes FA and IA diverge. Adam: 1e-3 (Kingma and Ba 2014) for the ResNets and KNets,
#: 1e-4 for the AlexNets, whose SGD rate is 5x lower than the ResNets'.
BASE_LEARNING_RATES: dict[str, dict[str, float]] = {
    "resnet18": {"sgd_momentum": 0.1, "adam": 1e-3},
    "resnet18v2": {"sgd_momentum": 0.1, "adam": 1e-3},
    "resnet34": {"sgd_momentum": 0.1, "adam": 1e-3},
    "resnet34v2": {"sgd_momentum": 0.1, "adam": 1e-3},
    "alexnet": {"sgd_momentum": 0.02, "adam": 1e-4},
    "alexnet_lrn": {"sgd_momentum": 0.02, "adam": 1e-4},
    "knet4": {"sgd_momentum": 0.1, "adam": 1e-3},
    "knet4_lrn": {"sgd_momentum": 0.1, "adam": 1e-3},
    "knet5": {"sgd_momentum": 0.1, "adam": 1e-3},
    "knet5_lrn": {"sgd_momentum": 0.1, "adam": 1e-3},
    "knet4_bn": {"sgd_momentum": 0.1, "adam": 1e-3},
    "knet5_bn": {"sgd_momentum": 0.1, "adam": 1e-3},
}

_STEP_FRACTIONS = (0.3, 0.6, 0.9)


def learning_rate(architecture: str, optimizer: str, batch_size: int, base_learning_rate: float | None = None,
                  *, task: str | None = None, rule: str | None = None) -> float:
    """The initial learning rate of a run at `batch_size`.

    `base_learning_rate` (at batch 256) when given; else the rate `lrsim tune` chose for (task,
    architecture, rule), when the shipped regime table has it; else `BASE_LEARNING_RATES`.
    Rescaled to `batch_size` linearly for SGD and by the square root for Adam (`lrsim.regime`).
    """
    if base_learning_rate is None and task is not None and rule is not None:
        tuned = tuned_rate(task, architecture, rule)
        if tuned is not None:
            return tuned.learning_rate * batch_scaling(optimizer, batch_size, tuned.batch_size)
    if base_learning_rate is None and architecture not in BASE_LEARNING_RATES:
        raise KeyError(
            f"no base learning rate for architecture {architecture!r}; add it to "
            "lrsim.training.BASE_LEARNING_RATES or pass base_learning_rate"
        )
    base = BASE_LEARNING_RATES[architecture][optimizer] if base_learning_rate is None else float(base_learning_rate)
    return base * batch_scaling(optimizer, batch_size, REFERENCE_BATCH_SIZE)


def learning_rate_schedule(
    name: str, initial: float, total_steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate as a function of the optimizer's step count over `total_steps`."""
    if name == "constant":
        return initial
    if name == "step":
        boundaries = sorted({round(f * total_steps) for f in _STEP_FRACTIONS} - {0})
        if not boundaries:
            return initial
        values = [initial * 0.1**i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(initial, decay_steps=max(total_steps, 1))
    raise ValueError(f"unknown learning-rate schedule {name!r}; choose one of {SCHEDULES}")
