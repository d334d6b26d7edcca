"""Judging claim results against a baseline report, and comparing reports across checkpoints.

Without a baseline a failing claim fails its test. With a baseline (``--axiom-baseline``):
- a claim that failed in the baseline and fails now is a known *finding* (xfail, reported, not a build break);
- a value that moved in the weakening direction by more than the claim's tolerance is a *regression*;
- a claim that passed in the baseline and fails now is a *regression*, unless its value moved by less than the
  tolerance (it sat on the threshold: a finding to look at, not a release blocker);
- an error is always a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from axiomtests.claims import CLAIMS, Claim
from circuits.report import ClaimResult, Report


@dataclass(frozen=True)
class Verdict:
    """How a test should end: ``ok``, ``finding`` (xfail), ``regression`` or ``fail``."""

    outcome: str
    message: str


def weakening(claim: Claim, before: float, after: float) -> float:
    """How far ``after`` is from ``before`` in the direction that weakens the claim (positive = weaker)."""
    return before - after if claim.threshold.op in (">=", ">") else after - before


def judge(result: ClaimResult, claim: Claim, baseline: Report | None) -> Verdict:
    """The verdict on ``result`` given an optional baseline report."""
    if result.status == "error":
        return Verdict("fail", f"{claim.id}: error: {result.details.get('error', '')}")
    previous = _find(baseline, claim.id)
    if previous is not None and previous.value is not None and result.value is not None:
        drop = weakening(claim, previous.value, result.value)
        if drop > claim.tolerance:
            return Verdict("regression", f"{claim.id}: value {result.value:.4g} is weaker than the baseline's "
                                         f"{previous.value:.4g} by {drop:.4g} (tolerance {claim.tolerance:g})")
    if result.status != "fail":
        return Verdict("ok", "")
    shown = f"{result.value:.4g}" if result.value is not None else "n/a"
    failed = f"{claim.id}: {claim.statement}: value {shown} does not satisfy {claim.threshold}"
    if previous is None:
        return Verdict("fail", failed)
    if previous.status == "fail":
        return Verdict("finding", f"known finding (fails in the baseline too): {failed}")
    if previous.value is not None and result.value is not None:
        return Verdict("finding", f"now fails, but within tolerance of the baseline's passing value "
                                  f"{previous.value:.4g}: {failed}")
    return Verdict("regression", f"regression (passed in the baseline): {failed}")


def _find(report: Report | None, claim_id: str) -> ClaimResult | None:
    if report is None:
        return None
    return next((c for c in report.claims if c.id == claim_id), None)


def compare(reports: Sequence[Report], names: Sequence[str]) -> tuple[str, list[str]]:
    """Markdown table of claim values side by side (deltas against the first report) and the regressions."""
    from tabulate import tabulate

    ids = sorted({c.id for r in reports for c in r.claims})
    rows, regressions = [], []
    for claim_id in ids:
        claim = CLAIMS.get(claim_id)
        first = _find(reports[0], claim_id)
        row = [claim_id, str(claim.threshold) if claim else ""]
        for name, report in zip(names, reports):
            current = _find(report, claim_id)
            if current is None:
                row.append("—")
                continue
            cell = f"{current.status} {current.value:.4g}" if current.value is not None else current.status
            if report is not reports[0] and first is not None and first.value is not None and current.value is not None:
                cell += f" ({current.value - first.value:+.3g})"
                if claim and judge(current, claim, reports[0]).outcome == "regression":
                    regressions.append(f"{name}: {judge(current, claim, reports[0]).message}")
                    cell += " REGRESSION"
            row.append(cell)
        rows.append(row)
    table = tabulate(rows, headers=["claim", "threshold", *names], tablefmt="github")
    return table + "\n", regressions
