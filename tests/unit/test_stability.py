"""Sample-size stability across seeds (``axiomtests stability``)."""

from __future__ import annotations

import math

import pytest

from axiomtests.claims import CLAIMS
from axiomtests.cli import main
from axiomtests.stability import claim_stability, stability_table
from circuits.report import Report
from circuits.stats import Interval


def with_ci(claim_id: str, value: float, ci):
    """A result whose bootstrap SE is the CI's half-width / 1.96 (a normal interval)."""
    if ci is None:
        return CLAIMS[claim_id].result(value)
    return CLAIMS[claim_id].result(Interval(value, ci[0], ci[1], (ci[1] - ci[0]) / (2 * 1.96), "query", 20))


def seeded(seed: int, **values) -> Report:
    claims = []
    for key, value in values.items():
        value, ci = value if isinstance(value, tuple) else (value, None)
        claims.append(with_ci(key.replace("__", "."), value, ci))
    return Report(checkpoint={"name": "m"}, environment={"seed": seed}, claims=claims)


def test_far_from_the_threshold_is_stable_and_a_straddle_is_not():
    far = claim_stability([CLAIMS["idf.u0"].result(-0.70), CLAIMS["idf.u0"].result(-0.68)])
    assert far.stable and far.margin == pytest.approx(0.19) and far.noise == pytest.approx(0.02 / math.sqrt(2))
    assert far.factor == pytest.approx((1.96 * far.noise / 0.19) ** 2)
    straddle = claim_stability([CLAIMS["idf.u0"].result(-0.52), CLAIMS["idf.u0"].result(-0.48)])
    assert not straddle.stable and straddle.verdicts == ("pass", "fail") and straddle.factor > 1


def test_a_wide_ci_outweighs_agreeing_seeds():
    ci = with_ci("axiom.tfc1", 0.80, (0.60, 1.0))
    result = claim_stability([ci, with_ci("axiom.tfc1", 0.80, (0.60, 1.0))])
    assert result.noise == pytest.approx(0.4 / (2 * 1.96)) and not result.stable
    assert result.factor == pytest.approx((0.2 / 0.05) ** 2)


def test_identical_values_away_from_the_threshold_need_no_more_sample():
    same = claim_stability([CLAIMS["idf.u0"].result(-0.6), CLAIMS["idf.u0"].result(-0.6)])
    assert same.noise == 0 and same.factor == 0 and same.stable


def test_table_lists_shared_claims_and_refuses_one_seed(tmp_path, capsys):
    a = seeded(0, axiom__tfc1=(0.66, (0.57, 0.73)), idf__u0=-0.64)
    b = seeded(1, axiom__tfc1=(0.70, (0.61, 0.78)), idf__u0=-0.64, axiom__lnc1=0.8)
    table, rows = stability_table([a, b])
    assert [r.claim_id for r in rows] == ["axiom.tfc1", "idf.u0"]
    assert "seeds 0, 1" in table and "stable" in table
    with pytest.raises(ValueError, match="at least two seeds"):
        stability_table([a])
    with pytest.raises(ValueError, match="different --axiom-seed"):
        stability_table([a, seeded(0, idf__u0=-0.6)])
    paths = [r.write(tmp_path / name) for r, name in ((a, "s0"), (b, "s1"))]
    assert main(["stability", *map(str, paths)]) == 0
    assert "| idf.u0" in capsys.readouterr().out
