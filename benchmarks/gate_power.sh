#!/usr/bin/env bash
# Specificity and sensitivity of the release gate on the default recipe (figures in benchmarks/GATE.md).
#   bash benchmarks/gate_power.sh [OUT_DIR]
# Specificity: the default recipe retrained with training seeds 1 and 2 (same data, same split) must pass the gate
# against the committed baseline. Sensitivity: a randomly initialised model of the default's config must fail it.
# Cost on 2 CPU cores: about 10 min per retrain and 7-10 min per suite run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/gate-power}
py=.venv/bin/python
base=datasets/baselines/default-report.json
suite() {  # suite CHECKPOINT NAME: the claim suite gated against the baseline; prints the gate's exit code
    $py -m pytest axiomtests/suite "--checkpoint=$1" "--axiom-baseline=$base" "--axiom-report-dir=$out/$2" \
        --axiom-findings=xfail --benchmark-skip -p no:cacheprovider -q > "$out/$2.log" 2>&1
    echo "$2: gate exit code $? ($(tail -n 1 "$out/$2.log"))"
}
mkdir -p "$out"
for seed in 1 2; do
    [ -f "$out/retrain-seed$seed/config.json" ] ||
        $py -m axiomtests.default_model --out "$out/retrain-seed$seed" --training-seed "$seed" > "$out/build-seed$seed.log" 2>&1
    suite "$out/retrain-seed$seed" "retrain-seed$seed"
done
$py -c "from pathlib import Path; from axiomtests.default_model import default_checkpoint_dir;
from circuits.tiny import random_init_like; random_init_like(default_checkpoint_dir(), Path('$out/random-init'))"
suite "$out/random-init" random-init
.venv/bin/axiomtests compare "$base" "$out"/retrain-seed1/report.json "$out"/retrain-seed2/report.json \
    "$out"/random-init/report.json
