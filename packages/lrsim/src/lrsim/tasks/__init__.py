"""Tasks: the data and objective a network learns, by registry name.

| name | data | input_shape | num_outputs |
| --- | --- | --- | --- |
| `digits` | scikit-learn's bundled 8x8 digits (no download; the default) | (8, 8, 1) | 10 |
| `cifar10` | TFDS `cifar10` | (32, 32, 3) | 10 |
| `imagenet` | TFDS `imagenet2012` (manual download) | (image_size, image_size, 3) | 1000 |
| `imagenet32` | TFDS `imagenet_resized/32x32` | (32, 32, 3) | 1000 |
| `imagenet64` | TFDS `imagenet_resized/64x64` | (64, 64, 3) | 1000 |
| `audio_words` | TFDS `speech_commands` (stand-in for Word-Speaker-Noise) | (98, mel_bins, 1) | 12 |
| `simclr:<image task>` | SimCLR over an image task, e.g. `simclr:digits` | its image task's | embedding_dim |

Supervised tasks report `top1_accuracy` on held-out data; SimCLR reports
`linear_probe_accuracy`. Defaults: image_size 224, mel_bins 40, embedding_dim 64.

`get_task(name, **options)` builds one; every task takes `data_dir` (None: the TFDS
default, ~/tensorflow_datasets or $TFDS_DATA_DIR) and `download` (False: never touch the
network; a missing dataset raises `DatasetNotFoundError` saying how to fetch it). Other
options are the keyword arguments of each task's class; for `simclr:<name>` the options
of `SimCLRTask` (embedding_dim, temperature, augmentations, ...) go to SimCLR and the
rest to the image task. Registering a task is one line: `register_task(name, factory)`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lrsim.tasks.audio_words import AudioWordsTask
from lrsim.tasks.base import Task
from lrsim.tasks.cifar10 import Cifar10Task
from lrsim.tasks.digits import DigitsTask
from lrsim.tasks.image import ImageTask
from lrsim.tasks.imagenet import ImageNetTask, ResizedImageNetTask
from lrsim.tasks.simclr import SIMCLR_PREFIX, SimCLRTask, is_simclr_name, nt_xent
from lrsim.tasks.tfds_data import DatasetNotFoundError

TaskFactory = Callable[..., Task]

#: registry name -> factory taking keyword options (data_dir, download, ...)
TASKS: dict[str, TaskFactory] = {}


class UnknownTaskError(LookupError):
    """A task name that is not in the registry."""


def register_task(name: str, factory: TaskFactory) -> None:
    """Add a task factory under a new name; a name already taken raises ValueError."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"task names are non-empty strings without ':' (reserved for simclr:<task>), got {name!r}")
    if name in TASKS:
        raise ValueError(f"task {name!r} is already registered (factory {TASKS[name]!r}); register it under another "
                         "name")
    TASKS[name] = factory


def _task_class(factory: TaskFactory) -> type | None:
    while isinstance(factory, functools.partial):
        factory = factory.func
    return factory if isinstance(factory, type) else None


def image_task_names() -> list[str]:
    """Registered tasks whose factory builds an ImageTask, i.e. those with a SimCLR form."""
    names = []
    for name, factory in TASKS.items():
        cls = _task_class(factory)
        if cls is not None and issubclass(cls, ImageTask):
            names.append(name)
    return sorted(names)


def available_tasks() -> list[str]:
    """Every task name `get_task` accepts, SimCLR forms included."""
    return sorted(TASKS) + [SIMCLR_PREFIX + name for name in image_task_names()]


def _option_names(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword options a factory accepts (None: it takes any)."""
    parameters = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                    inspect.Parameter.POSITIONAL_OR_KEYWORD)}


def _build(name: str, factory: TaskFactory, options: dict[str, Any], extra: frozenset[str] = frozenset()) -> Task:
    accepted = _option_names(factory)
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise TypeError(f"task {name!r} has no option {', '.join(map(repr, unknown))}; its options are: "
                            f"{', '.join(sorted(accepted | extra))}")
    return factory(**options)


def _factory(name: str) -> TaskFactory:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(f"unknown task {name!r}; available tasks: {', '.join(available_tasks())}") from None


def get_task(name: str, **options: Any) -> Task:
    """Build the task registered as `name` (or `simclr:<image task>`) with keyword options."""
    if not is_simclr_name(name):
        return _build(name, _factory(name), options)
    base_name = name.removeprefix(SIMCLR_PREFIX)
    if base_name not in TASKS:
        raise UnknownTaskError(f"unknown task {name!r}: {base_name!r} is not a registered task. SimCLR runs over an "
                               f"image task: {', '.join(SIMCLR_PREFIX + n for n in image_task_names())}")
    base_class = _task_class(TASKS[base_name])
    if base_class is not None and not issubclass(base_class, ImageTask):
        raise _not_an_image_task(name, base_name)
    simclr_options = frozenset(_option_names(SimCLRTask) - {"base"})
    own = {key: options.pop(key) for key in list(options) if key in simclr_options}
    try:
        base = _build(name, _factory(base_name), options, extra=simclr_options)
    except DatasetNotFoundError as error:
        raise error.for_task(name) from None
    if not isinstance(base, ImageTask):
        raise _not_an_image_task(name, base_name)
    return SimCLRTask(base, **own)


def _not_an_image_task(name: str, base_name: str) -> ValueError:
    return ValueError(f"task {name!r}: SimCLR needs an image task and {base_name!r} is not one; use one of: "
                      f"{', '.join(SIMCLR_PREFIX + n for n in image_task_names())}")


register_task("digits", DigitsTask)
register_task("cifar10", Cifar10Task)
register_task("imagenet", ImageNetTask)
register_task("imagenet32", functools.partial(ResizedImageNetTask, 32))
register_task("imagenet64", functools.partial(ResizedImageNetTask, 64))
register_task("audio_words", AudioWordsTask)

__all__ = [
    "TASKS",
    "AudioWordsTask",
    "Cifar10Task",
    "DatasetNotFoundError",
    "DigitsTask",
    "ImageNetTask",
    "ImageTask",
    "ResizedImageNetTask",
    "SimCLRTask",
    "Task",
    "TaskFactory",
    "UnknownTaskError",
    "available_tasks",
    "get_task",
    "image_task_names",
    "nt_xent",
    "register_task",
]
