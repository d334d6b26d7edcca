"""The release gate on real runs: it must fail a model without the mechanism (sensitivity), and no mechanism
claim may pass on it.

Specificity (a retrain of the default recipe with another training seed passes) takes two 35-minute builds,
so it is measured, not run in CI: figures and command in ``benchmarks/GATE.md``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "datasets" / "baselines" / "default-report.json"


@pytest.mark.default_checkpoint
def test_a_randomly_initialised_model_of_the_default_fails_the_gate(tmp_path):
    from axiomtests.default_model import default_checkpoint_dir
    from circuits.report import load_report
    from circuits.tiny import random_init_like

    if not BASELINE.exists():
        pytest.skip("no committed baseline report")
    null = random_init_like(default_checkpoint_dir(), tmp_path / "random-init", n_layers=2, n_heads=4, d_model=64)
    out = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "pytest", f"--checkpoint={null}", f"--axiom-baseline={BASELINE}",
                          f"--axiom-report-dir={out}", "--axiom-findings=xfail", "--benchmark-skip",
                          "-p", "no:cacheprovider", "-q"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    report = load_report(out / "report.json")
    outcomes = {c.id: c.details.get("gate", {}).get("outcome", c.status) for c in report.claims}
    baseline = load_report(BASELINE)
    assert {c.id for c in baseline.claims} <= set(outcomes), "a claim vanished from the report"
    broken = sorted(k for k, v in outcomes.items() if v in ("regression", "error"))
    assert len(broken) >= 3, json.dumps(outcomes, indent=1)
    assert "regression" in run.stdout
    # no mechanism claim passes on a model without the mechanism (behaviour, axiom.*, may: a random model whose
    # scores drift down with length satisfies LNC1; the faithfulness checks must)
    mechanism = {c.id: c.status for c in report.claims if not c.id.startswith(("foundation.", "axiom."))}
    assert mechanism and "pass" not in mechanism.values(), json.dumps(mechanism, indent=1)
