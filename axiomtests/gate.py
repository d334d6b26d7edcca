"""Judging claim results against a baseline report, and comparing reports across checkpoints.

Without a baseline a failing claim fails its test. With a baseline (``--axiom-baseline``) a claim is judged by
evidence, not by how far its value moved:

- a *regression* is a weakening (a move in the direction that breaks the claim) beyond the claim's practical
  tolerance by more than the noise of both runs can explain: ``weakening − tolerance > z · √(se_b² + se_c²)``,
  one-sided, with ``z`` set by the registry's family-wise ``alpha`` split over the claims compared (Bonferroni),
  from Student's t at the Welch–Satterthwaite degrees of freedom when an SE rests on few units or retrains;
- a claim that failed in the baseline and fails now is a known *finding* (xfail, reported, not a build break);
- a claim that passed in the baseline and fails now without such evidence is *undecided*: it sat near the
  threshold and the sample cannot tell; the verdict says which ``--axiom-pairs`` would;
- an error is always a failure, and one where the baseline passed is a regression.

Baseline and run must be comparable (:data:`COMPARED`): a mismatch is a usage error unless overridden.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from axiomtests.claims import CLAIMS, GATE_ALPHA, REGISTRY_VERSION, Claim, claim_of
from circuits.report import ClaimResult, Report

SCALING_UNITS = ("query", "pair", "attack")
"""Resampling units whose count grows with ``--axiom-pairs`` (a larger sample narrows the interval)."""


@dataclass(frozen=True)
class Verdict:
    """How a test should end: ``ok``, ``finding`` or ``undecided`` (xfail), ``regression`` or ``fail``."""

    outcome: str
    message: str
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class Evidence:
    """The weakening of a claim between two runs, and whether it beats the noise of both."""

    weakening: float  # > 0: the claim got weaker
    se: float  # combined standard error of the two values (0 when neither run has an interval)
    z: float  # one-sided critical value
    tolerance: float

    @property
    def significant(self) -> bool:
        return self.weakening - self.tolerance > self.z * self.se

    def scale_needed(self) -> float | None:
        """By how much both samples must grow for this weakening to be significant (noise ∝ 1/√n); None when the
        weakening does not exceed the tolerance (no sample makes it a regression)."""
        excess = self.weakening - self.tolerance
        return (self.z * self.se / excess) ** 2 if excess > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {"weakening": self.weakening, "combined_se": self.se, "z": self.z, "tolerance": self.tolerance,
                "significant": self.significant}


def weakening(claim: Claim, before: float, after: float) -> float:
    """How far ``after`` is from ``before`` in the direction that weakens the claim (positive = weaker)."""
    return before - after if claim.threshold.op in (">=", ">") else after - before


def critical_z(n_claims: int, alpha: float = GATE_ALPHA, df: float = math.inf) -> float:
    """One-sided critical value at family-wise ``alpha`` over ``n_claims`` comparisons (Bonferroni): normal, or
    Student's t with ``df`` degrees of freedom when the standard errors rest on few units or retrains."""
    from scipy.stats import norm, t

    level = alpha / max(1, n_claims)
    return float(norm.isf(level) if math.isinf(df) else t.isf(level, df))


def _se(result: ClaimResult) -> float:
    return result.se if result.se is not None and math.isfinite(result.se) else 0.0


def _df(result: ClaimResult) -> float:
    """Degrees of freedom behind a result's SE: retrains − 1 for a pooled baseline, units − 1 for a bootstrap."""
    runs = result.details.get("pooled", {}).get("runs")
    if runs:
        return max(1, runs - 1)
    return max(1, result.n_units - 1) if result.n_units else math.inf


def welch_df(a: ClaimResult, b: ClaimResult) -> float:
    """Welch–Satterthwaite degrees of freedom of the combined SE of two results."""
    va, vb = _se(a) ** 2, _se(b) ** 2
    denominator = va ** 2 / _df(a) + vb ** 2 / _df(b)
    return (va + vb) ** 2 / denominator if denominator > 0 else math.inf


def evidence(claim: Claim, before: ClaimResult, after: ClaimResult, n_claims: int) -> Evidence | None:
    """The evidence for a weakening from ``before`` to ``after`` (None when either has no value), judged at the
    family-wise level over ``n_claims``."""
    if before.value is None or after.value is None:
        return None
    return Evidence(weakening(claim, before.value, after.value), math.hypot(_se(before), _se(after)),
                    critical_z(n_claims, df=welch_df(before, after)), claim.tolerance)


def gated_claims(baseline: Report) -> int:
    """How many claims a baseline gates (the Bonferroni family)."""
    return sum(1 for c in baseline.claims if c.id in CLAIMS and c.value is not None)


def judge(result: ClaimResult, claim: Claim, baseline: Report | None, pairs: int | None = None) -> Verdict:
    """The verdict on ``result`` given an optional baseline report (run at ``pairs`` per check)."""
    previous = _find(baseline, claim.id)
    if result.status == "error":
        reason = f"{claim.id}: error: {result.details.get('error', '')}"
        if previous is not None and previous.status == "pass":
            return Verdict("regression", f"regression (passed in the baseline, now cannot be computed): {reason}")
        return Verdict("fail", reason)
    shown = f"{result.value:.4g}" if result.value is not None else "n/a"
    failed = f"{claim.id}: {claim.statement}: value {shown} does not satisfy {claim.threshold}"
    if previous is None or previous.status in ("error", "skip"):
        return Verdict("fail", failed) if result.status == "fail" else Verdict("ok", "")
    ev = evidence(claim, previous, result, gated_claims(baseline))
    if ev is not None and ev.significant:
        return Verdict("regression", f"{claim.id}: regression: value {result.value:.4g} ± {_se(result):.2g} is "
                                     f"weaker than the baseline's {previous.value:.4g} ± {_se(previous):.2g} by "
                                     f"{ev.weakening:.4g}, beyond the tolerance {claim.tolerance:g} by more than "
                                     f"{ev.z:.2f} combined standard errors ({ev.se:.2g})", ev.as_dict())
    record = ev.as_dict() if ev else None
    if result.status != "fail":
        return Verdict("ok", "", record)
    if previous.status == "fail":
        return Verdict("finding", f"known finding (fails in the baseline too): {failed}", record)
    if ev is None:
        return Verdict("regression", f"regression (passed in the baseline): {failed}")
    return Verdict("undecided", f"undecided: {failed}; it passed in the baseline ({previous.value:.4g}), and the "
                                f"change is within noise: {_advice(ev, previous, result, pairs)}", record)


def _advice(ev: Evidence, baseline: ClaimResult, result: ClaimResult, pairs: int | None) -> str:
    """What sample would decide a flip that the current one cannot."""
    scale = ev.scale_needed()
    if scale is None:
        return (f"the weakening {ev.weakening:.3g} does not exceed the tolerance {ev.tolerance:g}, so the value "
                "sits on the threshold: read it with its interval")
    runs = baseline.details.get("pooled", {}).get("runs")
    if runs:
        return (f"the baseline's spread rests on {runs} retrains (critical value {ev.z:.3g}): pool more retrains "
                "into it (axiomtests baseline) to decide; a larger --axiom-pairs narrows only this run's interval")
    unit = result.unit or "unit"
    if result.unit not in SCALING_UNITS:
        return (f"the weakening {ev.weakening:.3g} would need {scale:.2g}× the {unit}s to be significant, and a "
                f"larger --axiom-pairs does not add {unit}s")
    needed = f"--axiom-pairs {math.ceil(scale * pairs)}" if pairs else f"{scale:.2g}× the sample"
    return f"the weakening {ev.weakening:.3g} would be significant at {needed} (in both runs)"


def _find(report: Report | None, claim_id: str) -> ClaimResult | None:
    if report is None:
        return None
    return next((c for c in report.claims if c.id == claim_id), None)


def annotate_null(result: ClaimResult, null: Report | None) -> None:
    """Record the null model's result beside ``result``: a claim that passes on a model without the mechanism
    (a random initialisation of the same config) does not discriminate, whatever it says of this checkpoint."""
    previous = _find(null, result.id)
    if previous is None:
        return
    result.details["null"] = {"status": previous.status, "value": previous.value}
    result.details["discriminative"] = previous.status != "pass"


# --------------------------------------------------------------------------- comparability

COMPARED = ("seed", "pairs", "corpus", "claims registry", "score mode", "datasets")
"""What a baseline and a run must share for their values to be compared."""


def comparable_fields(report: Report) -> dict[str, Any]:
    """The fields of :data:`COMPARED` that a report records (a field it does not record is left out)."""
    env = report.environment
    fields = {"seed": env.get("seed"), "pairs": env.get("pairs"), "corpus": env.get("corpus"),
              "claims registry": env.get("claims_registry"), "score mode": report.checkpoint.get("score"),
              "datasets": {name: f.get("sha256") for name, f in sorted(report.datasets.get("files", {}).items())}
              or None}
    return {k: v for k, v in fields.items() if v is not None}


def mismatches(baseline: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """One line per field both sides record and that differs."""
    out = []
    for field in COMPARED:
        if field in baseline and field in run and baseline[field] != run[field]:
            if field == "datasets":
                differ = sorted(k for k in set(baseline[field]) | set(run[field])
                                if baseline[field].get(k) != run[field].get(k))
                out.append(f"datasets: {', '.join(differ)} differ (sha256)")
            else:
                out.append(f"{field}: baseline {baseline[field]!r}, this run {run[field]!r}")
    return out


def run_fields(seed: int, pairs: int, corpora: Sequence[str] | str | None) -> dict[str, Any]:
    """The comparable fields a run knows from its options alone (before anything is loaded)."""
    return {"seed": seed, "pairs": pairs, "corpus": corpus_label(corpora), "claims registry": REGISTRY_VERSION}


def corpus_label(corpora: Sequence[str] | str | None) -> str:
    """``default``, the base corpus, or ``base+extra+…`` when SemanticBM has extra corpora.

    >>> corpus_label(None), corpus_label(["beir/scifact"]), corpus_label(("a", "b"))
    ('default', 'beir/scifact', 'a+b')
    """
    if isinstance(corpora, str):
        return corpora
    return "+".join(corpora) if corpora else "default"


def incomparable_message(lines: Sequence[str], baseline_path: str) -> str:
    return (f"the baseline {baseline_path} is not comparable with this run: " + "; ".join(lines) +
            ". Fix: rerun with the baseline's settings, regenerate the baseline with this run's, or pass "
            "--axiom-allow-incomparable to gate anyway.")


# --------------------------------------------------------------------------- compare

ITEM_CHANGES_SHOWN = 3  # per claim, the clearest item-level changes compare lists


def item_changes(first: Report, other: Report, first_name: str, name: str) -> str:
    """Markdown: per claim both runs kept items of (``items.csv.gz``), how many items they share and the quantities
    whose paired mean difference (``other − first``, bootstrap CI over the items' groups) excludes 0, the clearest
    first; empty when the reports share no claim with items. The CIs are not corrected for the many quantities: about
    5% of unchanged ones cross 0 by chance, which the count beside the number of quantities lets a reader judge."""
    from tabulate import tabulate

    from circuits.items import changed_quantities, shared_positions

    before, after = first.items, other.items
    claims = sorted(before.keys() & after.keys())
    if not claims:
        return ""
    rows = []
    for claim_id in claims:
        shared = shared_positions(before[claim_id], after[claim_id])
        changes = changed_quantities(before[claim_id], after[claim_id], shared=shared) if shared else []
        shown = [f"{c['quantity']}: {c['before']:.4g} → {c['after']:.4g} ({c['difference']:+.3g}, CI "
                 f"[{c['ci'][0]:.3g}, {c['ci'][1]:.3g}], {c['items']} items)" for c in changes[:ITEM_CHANGES_SHOWN]]
        total = len(before[claim_id].values.keys() & after[claim_id].values.keys())
        for n, text in enumerate(shown or ["none"]):
            rows.append([claim_id, len(shared), f"{len(changes)} of {total}", text] if n == 0 else ["", "", "", text])
    return (f"\nItem by item, {name} against {first_name} (the items both runs measured; paired differences whose "
            "95% CI excludes 0, uncorrected for the number of quantities):\n\n"
            + tabulate(rows, headers=["claim", "shared items", "quantities changed", "clearest changes"],
                       tablefmt="github") + "\n")


def compare(reports: Sequence[Report], names: Sequence[str]) -> tuple[str, list[str]]:
    """Markdown table of claim values side by side (deltas against the first report) and the regressions.

    Each later report is judged against the first as the gate would: a significant weakening, or a pass that
    became an error or lost its value, is a regression. A claim a report did not run shows as ``not run``.
    """
    from tabulate import tabulate

    ids = sorted({c.id for r in reports for c in r.claims})
    rows, regressions = [], []
    pairs = [r.environment.get("pairs") for r in reports]
    for claim_id in ids:
        first = _find(reports[0], claim_id)
        claim = CLAIMS.get(claim_id) or (claim_of(first) if first is not None else None)
        row = [claim_id, str(claim.threshold) if claim else ""]
        for name, report, n in zip(names, reports, pairs):
            current = _find(report, claim_id)
            if current is None:
                row.append("not run")
                continue
            cell = f"{current.status} {current.value:.4g}" if current.value is not None else current.status
            if current.se is not None and current.value is not None:
                cell += f" ± {current.se:.2g}"
            if report is not reports[0] and first is not None:
                if first.value is not None and current.value is not None:
                    cell += f" ({current.value - first.value:+.3g})"
                verdict = judge(current, claim, reports[0], n) if claim else None
                if verdict is not None and verdict.outcome in ("regression", "undecided"):
                    cell += " REGRESSION" if verdict.outcome == "regression" else " undecided"
                    if verdict.outcome == "regression":
                        regressions.append(f"{name}: {verdict.message}")
            row.append(cell)
        rows.append(row)
    table = tabulate(rows, headers=["claim", "threshold", *names], tablefmt="github") + "\n"
    for name, report in zip(names[1:], reports[1:]):
        table += item_changes(reports[0], report, names[0], name)
    base = comparable_fields(reports[0])
    for name, report in zip(names[1:], reports[1:]):
        lines = mismatches(base, comparable_fields(report))
        if lines:
            table += f"\nwarning: {name} is not comparable with {names[0]}: " + "; ".join(lines) + "\n"
    return table, regressions
