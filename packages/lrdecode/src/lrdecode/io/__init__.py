"""Reading and writing: the datasets to decode (`data`), analysis results (`results`) and model
files (`model_files`). Recordings are turned into datasets by `lrdecode.recordings`."""
