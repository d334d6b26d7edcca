#!/usr/bin/env bash
# Known negatives: the claim suite on models that each lack one mechanism (figures in benchmarks/KNOCKOUTS.md).
#   bash benchmarks/knockouts.sh [OUT_DIR]      (after benchmarks/gate_power.sh OUT_DIR: it reads seed0's report)
# 1. no-matching-heads: the default with the matching heads its own seed-0 run found silenced (their output
#    projection zeroed: they still attend, but write nothing).
# 2. no-u0: the default with U0 (the top singular direction of the word embeddings, the IDF store) projected out.
# Then one table: the pooled baseline, the random init, and each knockout (axiomtests compare).
# Cost on 2 quiet CPU cores: 7-12 min per suite run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/gate-power}
py=.venv/bin/python
axiom=.venv/bin/axiomtests
suite() {  # suite CHECKPOINT NAME
    $py -m pytest axiomtests/suite "--checkpoint=$1" "--axiom-report-dir=$out/$2" --axiom-findings=xfail \
        --benchmark-skip -p no:cacheprovider -q > "$out/$2.log" 2>&1
    echo "$2: $(tail -n 1 "$out/$2.log")"
}
heads=$($py -c "import json; r = json.load(open('$out/seed0/report.json'));
print(','.join(next(c for c in r['claims'] if c['id'] == 'mh.similarity')['details']['matching_heads']))")
echo "matching heads of seed 0: $heads"
[ -f "$out/no-matching-heads/config.json" ] || $axiom knockout --heads "$heads" --out "$out/no-matching-heads"
[ -f "$out/no-u0/config.json" ] || $axiom knockout --without-u0 --out "$out/no-u0"
for name in no-matching-heads no-u0; do
    [ -f "$out/$name-run/report.json" ] || suite "$out/$name" "$name-run"
done
$axiom compare "$out/pooled/report.json" "$out/random-init-run/report.json" "$out/no-matching-heads-run/report.json" \
    "$out/no-u0-run/report.json"
