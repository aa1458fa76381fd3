"""shared_schema: the lr-observables format (v1), its validator, and the numpy reference
of every observable statistic. The only code lrsim and lrdecode share."""

from shared_schema.dataset import (
    Dataset,
    DatasetWarning,
    concat_datasets,
    read_dataset,
    read_datasets,
    write_dataset,
)
from shared_schema.errors import FormatError, Problem
from shared_schema.learning_curve import encode_learning_curve, parse_learning_curve
from shared_schema.measurement import FULL, MeasurementSetting, layer_statistics
from shared_schema.names import (
    FUNCTIONS,
    LAYER_POSITIONS,
    MEASURES,
    OBSERVABLE_NAMES,
    OBSERVABLES,
    STATISTICS,
    Observable,
    from_legacy,
    layer_positions,
    observable_names,
    to_legacy,
)
from shared_schema.pivot import Trajectories, pivot, unpivot
from shared_schema.tables import FORMAT_NAME, FORMAT_VERSION
from shared_schema.validate import ValidationReport, validate_dataset
from shared_schema.version import __version__ as __version__

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FULL",
    "FUNCTIONS",
    "LAYER_POSITIONS",
    "MEASURES",
    "OBSERVABLES",
    "OBSERVABLE_NAMES",
    "STATISTICS",
    "Dataset",
    "DatasetWarning",
    "FormatError",
    "MeasurementSetting",
    "Observable",
    "Problem",
    "Trajectories",
    "ValidationReport",
    "concat_datasets",
    "encode_learning_curve",
    "from_legacy",
    "layer_positions",
    "layer_statistics",
    "observable_names",
    "parse_learning_curve",
    "pivot",
    "read_dataset",
    "read_datasets",
    "to_legacy",
    "unpivot",
    "validate_dataset",
    "write_dataset",
]
