"""Claims registry, thresholds and the baseline gate."""

from __future__ import annotations

import pytest

from axiomtests.claims import CLAIMS, ClaimConfigError, Threshold, load_claims
from axiomtests.gate import comparable_fields, compare, critical_z, judge, mismatches
from circuits.report import ClaimResult, Report
from circuits.stats import Interval

DESIGN_CLAIMS = {"axiom.tfc1", "axiom.stmc1", "axiom.tfc2", "axiom.lnc1", "rsh.path_to_logit", "rsh.tfc1_vs_stmc1",
                 "rsh.upstream_agreement", "rsh.attention_idf", "qch.idf", "mh.similarity", "mh.ablation",
                 "mh.saturation", "mh.length", "idf.u0", "idf.u0_edit", "idf.u0_causal", "semantic_bm.fit",
                 "semantic_bm.generalization", "edit.adversarial"}


def test_registry_covers_every_claim_of_the_design_with_provenance_and_reasons():
    assert set(CLAIMS) == DESIGN_CLAIMS
    for claim in CLAIMS.values():
        assert claim.provenance and claim.why and claim.metric and claim.statement
        assert repr(claim) == f"Claim({claim.id!r})"


def test_every_builtin_claim_says_its_kind_and_paper_claims_quote_the_protocol():
    import re
    import tomllib
    from importlib import resources

    entries = tomllib.loads(resources.files("axiomtests").joinpath("claims.toml").read_text())["claim"]
    assert all("kind" in e for e in entries), [e["id"] for e in entries if "kind" not in e]
    for claim in CLAIMS.values():
        assert CLAIMS[claim.id].result(0.0).kind == claim.kind
        if claim.kind == "paper":
            assert re.search(r"“[^”]{20,}”", claim.provenance), f"{claim.id}: provenance quotes no sentence"
            assert claim.paper_value is not None, f"{claim.id}: a paper claim needs the paper's number"
    assert {c.kind for c in CLAIMS.values()} == {"paper", "extension"}


def test_a_user_claim_is_an_extension_unless_it_says_otherwise():
    base = 'id="team.x"\nstatement="s"\nprovenance="p"\nmetric="m"\nthreshold="> 1"\nwhy="w"'
    assert load_claims(f"[[claim]]\n{base}")["team.x"].kind == "extension"
    with pytest.raises(ClaimConfigError, match="kind 'both'"):
        load_claims(f'[[claim]]\n{base}\nkind="both"')


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


def result(claim_id: str, value: float, se: float | None = None, unit: str = "query") -> ClaimResult:
    if se is None:
        return CLAIMS[claim_id].result(value)
    return CLAIMS[claim_id].result(Interval(value, value - 2 * se, value + 2 * se, se, unit, 30))


def baseline_with(*results: ClaimResult) -> Report:
    return Report(checkpoint={}, environment={}, claims=list(results))


def test_gate_without_baseline_fails_failing_claims():
    assert judge(result("idf.u0", -0.8), CLAIMS["idf.u0"], None).outcome == "ok"
    assert judge(result("idf.u0", -0.2), CLAIMS["idf.u0"], None).outcome == "fail"


def test_gate_without_intervals_falls_back_to_the_tolerance():
    claim = CLAIMS["axiom.tfc1"]  # >= 0.75, tolerance 0.05
    failing = baseline_with(result("axiom.tfc1", 0.6))
    assert judge(result("axiom.tfc1", 0.62), claim, failing).outcome == "finding"
    assert judge(result("axiom.tfc1", 0.5), claim, failing).outcome == "regression"  # weaker by 0.1
    passing = baseline_with(result("axiom.tfc1", 0.9))
    assert judge(result("axiom.tfc1", 0.7), claim, passing).outcome == "regression"
    assert judge(result("axiom.tfc1", 0.86), claim, passing).outcome == "ok"  # within tolerance
    lower_is_better = CLAIMS["idf.u0"]  # <= -0.5, tolerance 0.1
    base = baseline_with(result("idf.u0", -0.7))
    assert judge(result("idf.u0", -0.55), lower_is_better, base).outcome == "regression"
    assert judge(result("idf.u0", -0.9), lower_is_better, base).outcome == "ok"


def test_a_regression_must_beat_the_noise_of_both_runs_plus_the_tolerance():
    claim = CLAIMS["edit.adversarial"]  # >= 0.5, tolerance 0.1
    base = baseline_with(result("edit.adversarial", 0.333, se=0.13, unit="attack"))
    noisy = judge(result("edit.adversarial", 0.083, se=0.08, unit="attack"), claim, base, pairs=64)
    assert noisy.outcome == "finding" and not noisy.evidence["significant"]  # the issue's retrain: noise
    precise = baseline_with(result("edit.adversarial", 0.6, se=0.01, unit="attack"))
    verdict = judge(result("edit.adversarial", 0.4, se=0.01, unit="attack"), claim, precise)
    assert verdict.outcome == "regression" and "combined standard errors" in verdict.message
    # weakening within the tolerance is never a regression, however precise
    assert judge(result("edit.adversarial", 0.55, se=0.0001), claim, precise).outcome == "ok"


def test_the_critical_value_grows_with_the_number_of_claims_gated():
    assert critical_z(1) == pytest.approx(1.645, abs=1e-3)
    assert critical_z(17) > critical_z(2) > critical_z(1)
    claim = CLAIMS["axiom.tfc1"]
    one = baseline_with(result("axiom.tfc1", 0.9, se=0.03))
    many = baseline_with(result("axiom.tfc1", 0.9, se=0.03),
                         *(result(c, -0.7 if c == "idf.u0" else 0.9) for c in CLAIMS if c != "axiom.tfc1"))
    candidate = result("axiom.tfc1", 0.76, se=0.03)  # weaker by 0.14: 0.09 beyond tolerance, 2.1 se
    assert judge(candidate, claim, one).outcome == "regression"
    assert judge(candidate, claim, many).outcome == "ok"


def test_a_flip_within_noise_is_undecided_and_names_the_sample_that_would_decide():
    claim = CLAIMS["axiom.tfc1"]
    base = baseline_with(result("axiom.tfc1", 0.82, se=0.05))
    verdict = judge(result("axiom.tfc1", 0.70, se=0.05), claim, base, pairs=64)
    assert verdict.outcome == "undecided" and "--axiom-pairs" in verdict.message
    needed = int(verdict.message.split("--axiom-pairs ")[1].split()[0])
    assert needed > 64
    on_threshold = judge(result("axiom.tfc1", 0.74, se=0.05), claim, baseline_with(result("axiom.tfc1", 0.76, se=0.05)))
    assert on_threshold.outcome == "undecided" and "does not exceed the tolerance" in on_threshold.message
    groups = CLAIMS["semantic_bm.generalization"]
    flip = judge(result("semantic_bm.generalization", -0.05, se=0.1, unit="query-length group"), groups,
                 baseline_with(result("semantic_bm.generalization", 0.1, se=0.1, unit="query-length group")), 64)
    assert flip.outcome == "undecided" and "does not add query-length groups" in flip.message


def test_errors_always_fail_and_regress_where_the_baseline_passed():
    error = CLAIMS["idf.u0"].error("boom")
    assert judge(error, CLAIMS["idf.u0"], None).outcome == "fail"
    assert judge(error, CLAIMS["idf.u0"], baseline_with(result("idf.u0", -0.2))).outcome == "fail"
    verdict = judge(error, CLAIMS["idf.u0"], baseline_with(result("idf.u0", -0.7)))
    assert verdict.outcome == "regression" and "boom" in verdict.message


def test_compare_flags_regressions_errors_and_claims_not_run():
    a = baseline_with(result("axiom.tfc1", 0.9), result("idf.u0", -0.7), result("mh.length", 0.97))
    b = baseline_with(result("axiom.tfc1", 0.6), result("idf.u0", -0.72), CLAIMS["mh.length"].error("no heads"))
    c = baseline_with(result("axiom.tfc1", 0.9))
    table, regressions = compare([a, b, c], ["old", "new", "part"])
    assert "REGRESSION" in table and "(-0.3)" in table and "not run" in table
    assert len(regressions) == 2 and all(r.startswith("new: ") for r in regressions)
    assert any("mh.length" in r and "no heads" in r for r in regressions)


def test_incomparable_runs_are_named_field_by_field():
    base = Report(checkpoint={"score": "logit"}, environment={"seed": 0, "pairs": 64, "claims_registry": 2},
                  datasets={"files": {"tfc1.jsonl": {"sha256": "a"}, "lnc1.jsonl": {"sha256": "b"}}})
    run = Report(checkpoint={"score": "diff"}, environment={"seed": 1, "pairs": 64, "claims_registry": 2},
                 datasets={"files": {"tfc1.jsonl": {"sha256": "c"}, "lnc1.jsonl": {"sha256": "b"}}})
    lines = mismatches(comparable_fields(base), comparable_fields(run))
    assert lines == ["seed: baseline 0, this run 1", "score mode: baseline 'logit', this run 'diff'",
                     "datasets: tfc1.jsonl differ (sha256)"]
    assert mismatches(comparable_fields(base), comparable_fields(base)) == []
    assert mismatches(comparable_fields(base), {"pairs": 64}) == []  # a field one side lacks is not compared


def test_a_claim_that_passes_on_its_null_model_is_marked_not_discriminative():
    from axiomtests.gate import annotate_null

    null = baseline_with(result("mh.length", 1.0), result("axiom.tfc1", 0.5))
    length, tfc1, u0 = result("mh.length", 1.0), result("axiom.tfc1", 0.8), result("idf.u0", -0.6)
    for r in (length, tfc1, u0):
        annotate_null(r, null)
    assert length.details["null"] == {"status": "pass", "value": 1.0} and length.details["discriminative"] is False
    assert tfc1.details["discriminative"] is True and "null" not in u0.details
    md = Report(checkpoint={"name": "m"}, environment={}, claims=[length, tfc1, u0]).to_markdown()
    assert "null model" in md and "fail 0.5" in md and "Not discriminative" in md and "`mh.length`" in md
