"""The tables of format v1: their files, columns, value kinds and allowed values.

Kinds are logical: ``string`` (Arrow utf8/large_utf8 or a dictionary of them),
``integer`` (any signed or unsigned Arrow integer), ``float`` (float32/float64; integers
are accepted and widened), ``boolean``. Writers should use the canonical Arrow types
(`CANONICAL_TYPES`); readers accept any width of the right kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from shared_schema.names import FUNCTIONS, LAYER_POSITIONS, MEASURES, STATISTICS

FORMAT_NAME = "lr-observables"
FORMAT_VERSION = "1.1.0"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")  # no leading "." (no "..")
SOURCES = ("simulation", "recording")
STATUSES = ("complete", "diverged", "failed")
UNIT_MEASURES = ("act", "weight")

CANONICAL_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "category": pa.dictionary(pa.int32(), pa.string()),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    kind: str  # string | integer | float | boolean
    description: str
    nullable: bool = False
    values: tuple[str, ...] | None = None  # allowed values of a string column
    category: bool = False  # written dictionary-encoded (few distinct values, many rows)

    @property
    def canonical_type(self) -> pa.DataType:
        return CANONICAL_TYPES["category" if self.category else self.kind]


@dataclass(frozen=True)
class Table:
    """One Parquet file of a dataset."""

    file: str
    required: bool
    description: str
    columns: tuple[Column, ...]
    optional_columns: tuple[Column, ...] = field(default=())
    extra_columns_allowed: bool = False

    def column(self, name: str) -> Column:
        for column in self.columns + self.optional_columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


RUNS = Table(
    file="runs.parquet",
    required=True,
    description="One row per run: a trained network, or a recorded animal/subject.",
    columns=(
        Column("run_id", "string", "Unique id of the run: letters, digits, ._- and no leading dot."),
        Column("source", "string", "Where the run comes from.", values=SOURCES),
        Column(
            "learning_rule",
            "string",
            "Rule that trained the network; null when unknown (a recording to predict).",
            nullable=True,
        ),
        Column("task", "string", "Task or behaviour the run learned.", nullable=True),
        Column("architecture", "string", "Network architecture (or brain area family).",
               nullable=True),
        Column("batch_size", "integer", "Training batch size.", nullable=True),
        Column("model_seed", "integer", "Seed of the initialisation; null = unseeded.",
               nullable=True),
        Column("dataset_seed", "integer", "Seed of the data order; null = unseeded.",
               nullable=True),
        Column("status", "string", "How the run ended.", values=STATUSES),
        Column("status_detail", "string", "Why, when the run diverged or failed.",
               nullable=True),
        Column("hyperparameters", "string", "JSON object text of every other setting."),
    ),
    optional_columns=(
        Column("final_loss", "float", "Training loss at the end of the run.", nullable=True),
        Column("final_metric", "float", "Task metric on held-out data at the end.",
               nullable=True),
        Column("metric_name", "string", "Name of final_metric (e.g. top1_accuracy).",
               nullable=True),
        Column("learning_curve", "string",
               "JSON array of the run's evaluations in order: {epoch, metric, loss} (since 1.1.0).",
               nullable=True),
    ),
    extra_columns_allowed=True,
)

OBSERVABLES = Table(
    file="observables.parquet",
    required=True,
    description="Long table, one row per value of one statistic of one layer at one checkpoint.",
    columns=(
        Column("run_id", "string", "Run the value belongs to (a row of runs.parquet).",
               category=True),
        Column("layer", "string", "Layer name, unique within a run.", category=True),
        Column("layer_index", "integer", "Depth order of the layer in its network (0 = first)."),
        Column("layer_position", "string", "Depth third of the layer.", values=LAYER_POSITIONS,
               category=True),
        Column("checkpoint", "integer", "Checkpoint number 0..K-1 (0 = initialisation)."),
        Column("epoch", "float", "Training progress at the checkpoint (sessions: time)."),
        Column("measure", "string", "Measured quantity.", values=MEASURES, category=True),
        Column("function", "string", "Elementwise function applied first.", values=FUNCTIONS,
               category=True),
        Column("statistic", "string", "Statistic over units.", values=STATISTICS,
               category=True),
        Column("measurement", "string",
               "Label of the measurement setting (`all` = every unit, no noise).",
               category=True),
        Column("n_units", "integer", "Units measured; null when unknown (legacy imports).",
               nullable=True),
        Column("n_units_total", "integer", "Units in the measured population; null when unknown.",
               nullable=True),
        Column("noise_std", "float", "Std of the additive Gaussian measurement noise."),
        Column("measurement_seed", "integer", "Seed of the unit draw and noise."),
        Column("value", "float", "The statistic (may be NaN or infinite, see FORMAT.md)."),
    ),
)

UNITS = Table(
    file="units.parquet",
    required=False,
    description="Optional unit-level responses, to simulate measurement limits afterwards.",
    columns=(
        Column("run_id", "string", "Run (a row of runs.parquet).", category=True),
        Column("layer", "string", "Layer (or recorded area).", category=True),
        Column("checkpoint", "integer", "Checkpoint or session number 0..K-1."),
        Column("epoch", "float", "Training progress or session time."),
        Column("measure", "string", "act: responses to stimuli; weight: kernel elements.",
               values=UNIT_MEASURES, category=True),
        Column("stimulus", "integer", "Probe stimulus index (act); null for weight.",
               nullable=True),
        Column("unit", "integer", "Unit index within the layer's flattened population."),
        Column("n_units_total", "integer", "Units in the population the units were drawn from."),
        Column("value", "float", "Response of the unit (or kernel element value)."),
    ),
)

LAYERS = Table(
    file="layers.parquet",
    required=False,
    description="Optional per-layer attributes beyond name, index and position.",
    columns=(
        Column("run_id", "string", "Run (a row of runs.parquet)."),
        Column("layer", "string", "Layer of that run (present in observables.parquet)."),
    ),
    extra_columns_allowed=True,
)

TABLES: tuple[Table, ...] = (RUNS, OBSERVABLES, UNITS, LAYERS)
