"""Claims registry, thresholds and the baseline gate."""

from __future__ import annotations

import pytest

from axiomtests.claims import CLAIMS, ClaimConfigError, Threshold, load_claims
from axiomtests.gate import compare, judge
from circuits.report import ClaimResult, Report

DESIGN_CLAIMS = {"axiom.tfc1", "axiom.stmc1", "axiom.tfc2", "axiom.lnc1", "rsh.path_to_logit", "rsh.tfc1_vs_stmc1",
                 "rsh.attention_idf", "qch.idf", "mh.similarity", "mh.ablation", "mh.saturation", "mh.length",
                 "idf.u0", "idf.u0_edit", "semantic_bm.fit", "semantic_bm.generalization", "edit.adversarial"}


def test_registry_covers_every_claim_of_the_design_with_provenance_and_reasons():
    assert set(CLAIMS) == DESIGN_CLAIMS
    for claim in CLAIMS.values():
        assert claim.provenance and claim.why and claim.metric and claim.statement
        assert repr(claim) == f"Claim({claim.id!r})"


@pytest.mark.parametrize(("text", "value", "holds"), [
    (">= 0.5", 0.5, True), (">= 0.5", 0.49, False), ("< 1", 0.99, True), ("<= -0.5", -0.7, True),
    ("> 0", 0.0, False), (">= 0.5", float("nan"), False)])
def test_thresholds(text, value, holds):
    assert Threshold.parse(text).holds(value) is holds


@pytest.mark.parametrize(("toml", "message"), [
    ('[[claim]]\nid = "x"', "lacks"),
    ('[[claim]]\nid="x"\nstatement="s"\nprovenance="p"\nmetric="m"\nthreshold="about 3"\nwhy="w"', "not of the form"),
    ('[[claim]]\nid="x"\nstatement="s"\nprovenance="p"\nmetric="m"\nthreshold="> 1"\nwhy="w"\ncolour="red"',
     "unknown keys"),
    ("[[claim]\n", "not valid TOML")])
def test_bad_registries_are_refused(toml, message):
    with pytest.raises(ClaimConfigError, match=message):
        load_claims(toml)


def result(claim_id: str, value: float) -> ClaimResult:
    return CLAIMS[claim_id].result(value)


def baseline_with(*results: ClaimResult) -> Report:
    return Report(checkpoint={}, environment={}, claims=list(results))


def test_gate_without_baseline_fails_failing_claims():
    assert judge(result("idf.u0", -0.8), CLAIMS["idf.u0"], None).outcome == "ok"
    assert judge(result("idf.u0", -0.2), CLAIMS["idf.u0"], None).outcome == "fail"


def test_gate_known_finding_regression_and_tolerance():
    claim = CLAIMS["axiom.tfc1"]  # >= 0.75, tolerance 0.05
    failing = baseline_with(result("axiom.tfc1", 0.6))
    assert judge(result("axiom.tfc1", 0.62), claim, failing).outcome == "finding"
    assert judge(result("axiom.tfc1", 0.5), claim, failing).outcome == "regression"  # weaker by 0.1
    passing = baseline_with(result("axiom.tfc1", 0.9))
    assert judge(result("axiom.tfc1", 0.7), claim, passing).outcome == "regression"
    assert judge(result("axiom.tfc1", 0.86), claim, passing).outcome == "ok"  # within tolerance
    on_threshold = baseline_with(result("axiom.tfc1", 0.76))
    assert judge(result("axiom.tfc1", 0.74), claim, on_threshold).outcome == "finding"  # crossed by noise
    lower_is_better = CLAIMS["idf.u0"]  # <= -0.5, tolerance 0.1
    base = baseline_with(result("idf.u0", -0.7))
    assert judge(result("idf.u0", -0.55), lower_is_better, base).outcome == "regression"
    assert judge(result("idf.u0", -0.9), lower_is_better, base).outcome == "ok"


def test_errors_always_fail():
    error = ClaimResult(id="idf.u0", status="error", details={"error": "boom"})
    assert judge(error, CLAIMS["idf.u0"], baseline_with(result("idf.u0", -0.7))).outcome == "fail"


def test_compare_flags_regressions():
    a = baseline_with(result("axiom.tfc1", 0.9), result("idf.u0", -0.7))
    b = baseline_with(result("axiom.tfc1", 0.6), result("idf.u0", -0.72))
    table, regressions = compare([a, b], ["old", "new"])
    assert "REGRESSION" in table and "(-0.3)" in table
    assert len(regressions) == 1 and regressions[0].startswith("new: ") and "axiom.tfc1" in regressions[0]
