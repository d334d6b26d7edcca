"""Pooling retrains into one baseline (``axiomtests baseline``)."""

from __future__ import annotations

import math

import pytest

from axiomtests.baseline import PoolError, pool_reports
from axiomtests.claims import CLAIMS
from axiomtests.cli import main
from axiomtests.gate import judge
from circuits.report import ClaimResult, Report, load_report
from circuits.stats import Interval


def run(weights: str, seed: int = 0, **values: float) -> Report:
    claims = [CLAIMS[k.replace("__", ".")].result(Interval(v, v - 0.04, v + 0.04, 0.02, "query", 50))
              for k, v in values.items()]
    claims.append(ClaimResult(id="foundation.faithful_eager", status="pass", value=0.0))
    return Report(checkpoint={"weights_sha256": weights, "score": "logit"},
                  environment={"seed": seed, "pairs": 64, "claims_registry": 2}, claims=claims)


def test_the_pooled_value_is_the_mean_and_its_se_the_spread_of_one_more_retrain():
    pooled = pool_reports([run("a", axiom__tfc1=0.70), run("b", axiom__tfc1=0.80), run("c", axiom__tfc1=0.90)],
                          ["a", "b", "c"])
    (tfc1,) = [c for c in pooled.claims if c.id == "axiom.tfc1"]
    assert tfc1.value == pytest.approx(0.8) and tfc1.status == "pass"
    assert tfc1.se == pytest.approx(0.1 * math.sqrt(1 + 1 / 3))
    assert tfc1.details["pooled"]["values"] == [0.7, 0.8, 0.9] and tfc1.unit == "query"
    assert pooled.checkpoint["pooled_from"] == ["a", "b", "c"]
    assert any(c.id == "foundation.faithful_eager" for c in pooled.claims)


def test_a_retrain_inside_the_spread_passes_and_a_collapse_does_not():
    pooled = pool_reports([run("a", rsh__attention_idf=0.51), run("b", rsh__attention_idf=0.31)], ["a", "b"])
    claim = CLAIMS["rsh.attention_idf"]
    retrain = CLAIMS["rsh.attention_idf"].result(Interval(0.35, 0.3, 0.4, 0.024, "query", 53))
    assert judge(retrain, claim, pooled).outcome == "ok"
    single = Report(checkpoint={}, environment={}, claims=[run("a", rsh__attention_idf=0.51).claims[0]])
    assert judge(CLAIMS["rsh.attention_idf"].result(Interval(0.31, 0.26, 0.36, 0.024, "query", 53)), claim,
                 single).outcome == "regression"  # one run's item noise cannot cover a retrain


def test_runs_of_different_settings_are_not_pooled(tmp_path):
    with pytest.raises(PoolError, match="seed: baseline 0, this run 1"):
        pool_reports([run("a", axiom__tfc1=0.7), run("b", seed=1, axiom__tfc1=0.8)], ["a", "b"])
    with pytest.raises(PoolError, match="at least two"):
        pool_reports([run("a", axiom__tfc1=0.7)], ["a"])
    paths = [run(w, axiom__tfc1=v).write(tmp_path / w) for w, v in (("a", 0.7), ("b", 0.8))]
    assert main(["baseline", *map(str, paths), "--out", str(tmp_path / "pooled" / "baseline.json")]) == 0
    assert load_report(tmp_path / "pooled" / "baseline.json").checkpoint["pooled_names"] == ["a", "b"]
    assert (tmp_path / "pooled" / "baseline.md").exists()


def test_a_spread_estimated_from_few_retrains_is_judged_with_students_t():
    from axiomtests.gate import critical_z, welch_df

    others = {c.replace(".", "__"): 0.0 for c in CLAIMS if c != "rsh.attention_idf"}  # the gate's family: 17
    pooled = pool_reports([run("a", rsh__attention_idf=0.513, **others), run("b", rsh__attention_idf=0.4865,
                                                                               **others)], ["a", "b"])
    base = next(c for c in pooled.claims if c.id == "rsh.attention_idf")
    retrain = CLAIMS["rsh.attention_idf"].result(Interval(0.308, 0.26, 0.36, 0.024, "query", 53))
    df = welch_df(base, retrain)
    assert 3 < df < 6  # one degree of freedom from the pool, 52 from the candidate's bootstrap
    assert critical_z(17, df=df) > 1.8 * critical_z(17)
    assert judge(retrain, CLAIMS["rsh.attention_idf"], pooled).outcome == "ok"
    assert judge(CLAIMS["rsh.attention_idf"].result(Interval(0.05, 0.0, 0.1, 0.024, "query", 53)),
                 CLAIMS["rsh.attention_idf"], pooled).outcome == "regression"  # a collapse still fails


def test_an_undecided_flip_against_a_pool_asks_for_more_retrains_not_more_pairs():
    pooled = pool_reports([run("a", axiom__tfc1=0.82), run("b", axiom__tfc1=0.86)], ["a", "b"])
    flip = CLAIMS["axiom.tfc1"].result(Interval(0.70, 0.62, 0.78, 0.04, "query", 78))
    verdict = judge(flip, CLAIMS["axiom.tfc1"], pooled, 64)
    assert verdict.outcome == "undecided" and "pool more retrains" in verdict.message


def test_a_pooled_claim_beats_its_control_only_when_most_runs_do():
    from axiomtests.claims import Control

    def with_control(weights: str, difference: float, low: float) -> Report:
        report = run(weights)
        report.claims.append(CLAIMS["rsh.attention_idf"].result(
            Interval(0.5, 0.45, 0.55, 0.02, "query", 50),
            control=Control("other heads", 0.5 - difference, Interval(difference, low, difference + 0.1, 0.03,
                                                                       "query", 50))))
        return report

    mostly_not = pool_reports([with_control("a", 0.2, 0.1), with_control("b", 0.01, -0.05),
                               with_control("c", 0.02, -0.04)], ["a", "b", "c"])
    (claim,) = [c for c in mostly_not.claims if c.id == "rsh.attention_idf"]
    assert claim.status == "fail" and claim.control["runs_beaten"] == 1 and not claim.control["beaten"]
    assert claim.control["difference"] == pytest.approx(0.0767, abs=1e-3)
    mostly = pool_reports([with_control("a", 0.2, 0.1), with_control("b", 0.15, 0.05)], ["a", "b"])
    assert [c for c in mostly.claims if c.id == "rsh.attention_idf"][0].status == "pass"
