"""Decoding: features from trajectories (`features`), train/test splits (`splits`), scores
(`metrics`), hyperparameter search (`model_selection`), the protocol every analysis runs
(`protocol`), the saved decoder (`decoder`) and the relative activity scale (`scale`). The
classifiers themselves are the registry `lrdecode.classifiers`."""
