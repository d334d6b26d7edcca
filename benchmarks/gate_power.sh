#!/usr/bin/env bash
# Specificity and sensitivity of the release gate on the default recipe (figures in benchmarks/GATE.md).
#   bash benchmarks/gate_power.sh [OUT_DIR]
# 1. The claim suite (seed 0, 64 pairs) on the default checkpoint and on two retrains of its recipe (training
#    seeds 1 and 2: same data, same split), each without a baseline.
# 2. The three runs pooled into one baseline (axiomtests baseline), as datasets/baselines/default-report.json is.
# 3. Specificity, leave one out: each retrain judged against the pool of the other two runs must not regress.
# 4. Sensitivity: a randomly initialised model of the default's config, judged against the pool, must regress.
# Cost on 2 quiet CPU cores: about 35 min per retrain build (recipe 2, one thread) and 8-10 min per suite run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/gate-power}
py=.venv/bin/python
axiom=.venv/bin/axiomtests
mkdir -p "$out"
suite() {  # suite CHECKPOINT NAME: the claim suite, no baseline; the report lands in OUT/NAME ("": the default)
    $py -m pytest axiomtests/suite ${1:+"--checkpoint=$1"} "--axiom-report-dir=$out/$2" --axiom-findings=xfail \
        --benchmark-skip -p no:cacheprovider -q > "$out/$2.log" 2>&1
    echo "$2: $(tail -n 1 "$out/$2.log")"
}
default=$($py -c "from axiomtests.default_model import default_checkpoint_dir; print(default_checkpoint_dir())")
[ -f "$out/seed0/report.json" ] || suite "" seed0  # as ./dev run and CI run it: the shipped default
for seed in 1 2; do
    [ -f "$out/retrain-seed$seed/config.json" ] ||
        $py -m axiomtests.default_model --out "$out/retrain-seed$seed" --training-seed "$seed" > "$out/build-seed$seed.log" 2>&1
    [ -f "$out/seed$seed/report.json" ] || suite "$out/retrain-seed$seed" "seed$seed"
done
$axiom baseline "$out"/seed{0,1,2}/report.json --out "$out/pooled/report.json"
for held in 0 1 2; do
    others=()
    for s in 0 1 2; do [ "$s" = "$held" ] || others+=("$out/seed$s/report.json"); done
    $axiom baseline "${others[@]}" --out "$out/without-seed$held/report.json"
    echo "== specificity: seed $held against the pool of the other two (exit 0 = no regression)"
    $axiom compare "$out/without-seed$held/report.json" "$out/seed$held/report.json" --fail-on-regression
    echo "exit $?"
done
[ -f "$out/random-init/config.json" ] || $py -c "from pathlib import Path; from circuits.tiny import random_init_like;
random_init_like(Path('$default'), Path('$out/random-init'))"
[ -f "$out/random-init-run/report.json" ] || suite "$out/random-init" random-init-run
echo "== sensitivity: a random initialisation of the default's config against the pool (exit 1 = regressions)"
$axiom compare "$out/pooled/report.json" "$out/random-init-run/report.json" --fail-on-regression
echo "exit $?"
