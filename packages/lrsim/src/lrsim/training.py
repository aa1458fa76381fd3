"""The import path of the training API: the trainer, its step and its learning-rate schedules.

Defined by concept in `lrsim.trainer` (TrainConfig, Trainer, TrainResult, Progress, train),
`lrsim.step` (the compiled step) and `lrsim.schedules` (learning rates and schedules).
"""

from __future__ import annotations

from lrsim.schedules import (
    BASE_LEARNING_RATES,
    REFERENCE_BATCH_SIZE,
    SCHEDULES,
    learning_rate,
    learning_rate_schedule,
)
from lrsim.step import make_train_step, make_train_steps
from lrsim.trainer import Progress, TrainConfig, Trainer, TrainResult, train

__all__ = [
    "BASE_LEARNING_RATES",
    "REFERENCE_BATCH_SIZE",
    "SCHEDULES",
    "Progress",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "learning_rate",
    "learning_rate_schedule",
    "make_train_step",
    "make_train_steps",
    "train",
]
