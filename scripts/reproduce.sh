#!/usr/bin/env bash
# The CPU-scale reproduction of Nayebi et al. 2020 (docs/REPRODUCTION.md): simulate, decode,
# and write every figure and table into docs/reproduction/. Run from the repository root with
# lrsim and lrdecode installed (e.g. in the venv of `nox -s demo`):
#
#   bash scripts/reproduce.sh            # every stage, in order
#   bash scripts/reproduce.sh evaluate   # one stage (simulate-small, simulate-limits, evaluate,
#                                        #   classifiers, linear, importance, subsample, consecutive,
#                                        #   units-noise, report)
#
# SPLITS (default 3) train/test splits per analysis: the paper used 10, which at this scale
# costs hours on 2 cores (the linear SVM's model selection alone takes ~5 min per split).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-runs}
OUT=${OUT:-docs/reproduction}
SPLITS=${SPLITS:-3}
WORKERS=${WORKERS:-2}
SMALL="$RUNS/cpu-small/dataset"
LIMITS="$RUNS/cpu-limits/dataset"
export TF_CPP_MIN_LOG_LEVEL=3

simulate-small() {  # the study's grid at CPU scale: 4 rules, 256 runs (~50 min on 2 workers)
    lrsim sweep sweeps/cpu-small.toml --out "$RUNS/cpu-small" --workers "$WORKERS" --resume
}
simulate-limits() {  # FA vs IA through 30 simulated instruments (~25 min on 1 worker)
    lrsim sweep sweeps/cpu-limits.toml --out "$RUNS/cpu-limits" --workers "$WORKERS" --resume
}
evaluate() {  # Fig. 2a per measure, Fig. 2c confusions; claims 1, 4
    lrdecode evaluate "$SMALL" -c rf -m weight -m act -m grad -m all --split paper \
        --splits "$SPLITS" --out "$OUT/evaluate" -q
}
classifiers() {  # Fig. 2a across classifiers on every observable (rf: the evaluate stage, same splits); claim 2
    lrdecode evaluate "$SMALL" -c conv1d -m all --split paper --splits "$SPLITS" --out "$OUT/classifiers" -q
    lrdecode evaluate "$SMALL" -c svm -m all --split paper --splits "$SPLITS" --out "$OUT/classifiers-svm" -q
}
linear() {  # the linear SVM per measure: which observables are linearly separable; claim 3
    lrdecode evaluate "$SMALL" -c svm -m weight -m act -m grad --split paper --splits "$SPLITS" --out "$OUT/linear" -q
}
importance() {  # Fig. 3
    lrdecode importance "$SMALL" --splits "$SPLITS" --out "$OUT/importance" -q
}
subsample() {  # Fig. 4a; claim 5
    lrdecode subsample "$SMALL" --period 1 --period 2 --period 5 --samples 3 --samples 5 --split paper \
        --splits "$SPLITS" --out "$OUT/subsample" -q
}
consecutive() {  # Fig. 4b; claim 6
    lrdecode consecutive "$SMALL" --split paper --splits "$SPLITS" --out "$OUT/consecutive" -q
}
units-noise() {  # Fig. 5; claim 7
    lrdecode units-noise "$LIMITS" --rules fa,ia -m weight -m act -m grad --split paper --splits "$SPLITS" \
        --out "$OUT/units-noise" -q
}
report() {
    lrdecode report "$OUT" --out "$OUT/report.html" --title "CPU-scale reproduction of Nayebi et al. 2020"
}

STAGES=(simulate-small simulate-limits evaluate classifiers linear importance subsample consecutive units-noise report)
for stage in "${@:-${STAGES[@]}}"; do
    echo "== $stage"
    SECONDS=0
    "$stage"
    echo "   $stage took ${SECONDS} s"
done
