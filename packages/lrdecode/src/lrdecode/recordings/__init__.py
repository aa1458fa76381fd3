"""Real recordings in: NWB, NumPy and CSV unit responses to the format (README: Real recordings)."""

from lrdecode.recordings.ingest import infer_format, ingest, read_recording, recording_to_dataset
from lrdecode.recordings.recording import Recording, RecordingError, RecordingWarning, check

__all__ = ["Recording", "RecordingError", "RecordingWarning", "check", "infer_format", "ingest",
           "read_recording", "recording_to_dataset"]
