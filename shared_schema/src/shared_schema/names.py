"""The 45 observable statistics, their canonical names and the original study's names.

An observable is (measure, function, statistic): the measured quantity, an elementwise
function applied first, and the statistic taken over units. Canonical names are
dot-separated (``act.abs.median``); the original study (neuroailab/lr-identify) wrote
``actabs_median``, ``weightsq_thirdquartile`` and ``gradavgraw_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

MEASURES: tuple[str, ...] = ("weight", "act", "grad")
FUNCTIONS: tuple[str, ...] = ("raw", "abs", "sq")
DISTRIBUTION_STATISTICS: tuple[str, ...] = (
    "norm",
    "mean",
    "median",
    "q3",
    "var",
    "skew",
    "kurtosis",
)
GRAD_STATISTICS: tuple[str, ...] = ("id",)
STATISTICS: tuple[str, ...] = DISTRIBUTION_STATISTICS + GRAD_STATISTICS
LAYER_POSITIONS: tuple[str, ...] = ("early", "middle", "deep")

_LEGACY_MEASURE = {"weight": "weight", "act": "act", "grad": "gradavg"}
_LEGACY_STATISTIC = {"q3": "thirdquartile"}


def statistics_for(measure: str) -> tuple[str, ...]:
    """Statistics defined for a measure: seven distribution statistics, or ``id`` for grad."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")
    return GRAD_STATISTICS if measure == "grad" else DISTRIBUTION_STATISTICS


@dataclass(frozen=True)
class Observable:
    """One observable statistic of a layer."""

    measure: str
    function: str
    statistic: str

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise ValueError(
                f"unknown function {self.function!r}; expected one of {', '.join(FUNCTIONS)}"
            )
        if self.statistic not in statistics_for(self.measure):
            raise ValueError(
                f"statistic {self.statistic!r} is not defined for measure {self.measure!r}; "
                f"expected one of {', '.join(statistics_for(self.measure))}"
            )

    @property
    def name(self) -> str:
        return f"{self.measure}.{self.function}.{self.statistic}"

    @property
    def legacy_name(self) -> str:
        statistic = _LEGACY_STATISTIC.get(self.statistic, self.statistic)
        return f"{_LEGACY_MEASURE[self.measure]}{self.function}_{statistic}"

    @classmethod
    def parse(cls, name: str) -> Observable:
        """Parse a canonical (``act.abs.median``) or original-study (``actabs_median``) name."""
        if "." in name:
            parts = name.split(".")
            if len(parts) != 3:
                raise ValueError(f"observable name {name!r} must be measure.function.statistic")
            return cls(*parts)
        return _BY_LEGACY.get(name) or _raise_unknown(name)

    def __str__(self) -> str:
        return self.name


def _raise_unknown(name: str) -> Observable:
    raise ValueError(
        f"unknown observable {name!r}; canonical names look like 'act.abs.median', "
        f"original-study names like 'actabs_median' (see `shared-schema names`)"
    )


OBSERVABLES: tuple[Observable, ...] = tuple(
    Observable(measure, function, statistic)
    for measure in MEASURES
    for function in FUNCTIONS
    for statistic in statistics_for(measure)
)
OBSERVABLE_NAMES: tuple[str, ...] = tuple(o.name for o in OBSERVABLES)
_BY_LEGACY = {o.legacy_name: o for o in OBSERVABLES}
_INDEX = {o.name: i for i, o in enumerate(OBSERVABLES)}


def observable_names(measure: str | None = None) -> tuple[str, ...]:
    """Canonical names in canonical order, optionally for one measure (``all`` = every one)."""
    if measure in (None, "all"):
        return OBSERVABLE_NAMES
    statistics_for(measure)  # validates the measure
    return tuple(o.name for o in OBSERVABLES if o.measure == measure)


def observable_index(name: str) -> int:
    """Position of an observable in canonical order (0..44)."""
    return _INDEX[Observable.parse(name).name]


def to_legacy(name: str) -> str:
    """``act.abs.median`` -> ``actabs_median``."""
    return Observable.parse(name).legacy_name


def from_legacy(name: str) -> str:
    """``actabs_median`` -> ``act.abs.median``."""
    return Observable.parse(name).name


def layer_positions(n_layers: int) -> list[str]:
    """Depth thirds of a network's recorded layers, as the original study grouped them.

    With g = max(n // 3, 1), layer i is early if i < g, middle if i < 2g, deep otherwise
    (the last third takes the remainder): KNet4 -> early, middle, deep, deep.
    """
    if n_layers < 1:
        raise ValueError("a network needs at least one recorded layer")
    group = max(n_layers // 3, 1)
    return [LAYER_POSITIONS[min(i // group, 2)] for i in range(n_layers)]
