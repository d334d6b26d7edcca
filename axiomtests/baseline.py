"""A baseline pooled from retrains: what the gate compares a candidate against when retraining itself moves claims.

One run's standard error covers only the sampling of its items (queries, heads, tokens). Retraining the same
recipe with another seed moves a claim further than that: on the default recipe, training seed 1 changes which
heads are scoring heads and moves ``rsh.attention_idf`` from 0.51 to 0.31 (``benchmarks/GATE.md``). A baseline
pooled from runs of several retrains asks the gate the question a release needs: *is the candidate weaker than
a retrain of the released recipe would be?*

Per claim, from the runs' values ``v_i`` (sample variance ``s²``): the value is the mean and the pooled SE is
``s·√(1 + 1/n)``, the spread of one more retrain around the mean of ``n``. The runs share their items (the pooled
reports must agree in suite seed, pairs, corpus and dataset hashes), so ``s`` is retrain-to-retrain variation
alone; the candidate's own item noise enters the gate from the candidate's side. With two or three retrains ``s``
is itself a rough estimate: pool more runs for a sharper gate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from axiomtests.claims import CLAIMS
from axiomtests.gate import comparable_fields, mismatches
from circuits.errors import AxiomError
from circuits.report import ClaimResult, Report

Z95 = 1.959964


class PoolError(AxiomError):
    """The reports cannot be pooled into one baseline."""


def pool_reports(reports: Sequence[Report], names: Sequence[str]) -> Report:
    """One baseline report from runs of retrains of one recipe (same suite seed, pairs, corpus, datasets)."""
    if len(reports) < 2:
        raise PoolError("pooling needs the reports of at least two retrains; for one run, use its report.json")
    first = comparable_fields(reports[0])
    for name, report in zip(names[1:], reports[1:]):
        lines = mismatches(first, comparable_fields(report))
        if lines:
            raise PoolError(f"{name} was not run like {names[0]}: " + "; ".join(lines) +
                            ". Fix: run every retrain with the same --axiom-seed, --axiom-pairs and corpus.")
    ids = sorted({c.id for c in reports[0].claims})
    claims = [_pooled([_find(r, claim_id) for r in reports]) for claim_id in ids]
    shared = {k: v for k, v in reports[0].checkpoint.items() if k not in ("name", "weights_sha256")}
    checkpoint = {**shared, "name": f"pool of {len(reports)} runs: {', '.join(names)}",
                  "pooled_from": [r.checkpoint.get("weights_sha256") for r in reports], "pooled_names": list(names)}
    return replace(reports[0], checkpoint=checkpoint, claims=claims, figures=[])


def _find(report: Report, claim_id: str) -> ClaimResult | None:
    return next((c for c in report.claims if c.id == claim_id), None)


def _pooled(results: Sequence[ClaimResult | None]) -> ClaimResult:
    present = [r for r in results if r is not None]
    with_values = [r for r in present if r.value is not None]
    claim = CLAIMS.get(present[0].id)
    if claim is None or len(with_values) < 2:  # foundation checks, or a claim too few runs could compute
        return replace(present[0], details={**present[0].details, "pooled": {"runs": len(with_values)}})
    values = np.array([r.value for r in with_values], dtype=float)
    spread = float(values.std(ddof=1))
    se = spread * math.sqrt(1 + 1 / len(values))
    mean = float(values.mean())
    pooled = claim.result(mean)
    details: dict = {"pooled": {"runs": len(values), "values": values.tolist(), "between_retrain_sd": spread,
                                "run_se": [r.se for r in with_values], "statuses": [r.status for r in with_values]}}
    control = _pooled_control([r.control for r in with_values if r.control])
    unmet = [r.details["unmet"] for r in with_values if r.details.get("unmet")]
    status = pooled.status
    if control is not None and not control["beaten"]:
        status = "fail"
    if 2 * len(unmet) > len(with_values):
        status, details["unmet"] = "fail", f"in {len(unmet)} of {len(with_values)} runs: {unmet[0]}"
    return replace(pooled, status=status, control=control, ci=(mean - Z95 * se, mean + Z95 * se), se=se,
                   unit=with_values[0].unit, n_units=with_values[0].n_units, details=details)


def _pooled_control(controls: Sequence[dict]) -> dict | None:
    """The runs' controls pooled like their values: mean control and difference, the difference's retrain
    interval; beaten when most runs beat their control."""
    if not controls:
        return None
    diffs = np.array([c["difference"] for c in controls], dtype=float)
    half = Z95 * float(diffs.std(ddof=1)) * math.sqrt(1 + 1 / len(diffs)) if len(diffs) > 1 else float("nan")
    beaten = sum(bool(c["beaten"]) for c in controls)
    return {"name": controls[0]["name"], "value": float(np.mean([c["value"] for c in controls])),
            "difference": float(diffs.mean()), "difference_ci": [float(diffs.mean() - half), float(diffs.mean() + half)],
            "beaten": 2 * beaten > len(controls), "runs_beaten": beaten}
