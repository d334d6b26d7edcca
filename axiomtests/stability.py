"""Sample-size stability: how far each claim's verdict is from flipping, from reports of two or more seeds.

Per claim, the noise of one run's value is estimated two ways and the larger is kept: the spread across seeds
(sample standard deviation over the reports) and, where the claim has one, the bootstrap CI (half-width ÷
1.96); the seeds redraw the datasets too, which a bootstrap over one dataset's queries cannot see. The margin
is the distance of the seeds' mean value from the threshold. The verdict is *stable* when every seed agrees
and the margin exceeds 1.96 noise units. Noise falls as 1/√n, so ``(1.96·noise / margin)²`` is the factor by
which the sample would have to grow for a stable verdict (≤ 1: the current sample is enough). A few seeds give
few degrees of freedom: read the factor as an order of magnitude, not a figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from axiomtests.claims import CLAIMS
from circuits.report import ClaimResult, Report

Z95 = 1.96


@dataclass(frozen=True)
class Stability:
    """One claim across seeds."""

    claim_id: str
    values: tuple[float | None, ...]
    verdicts: tuple[str, ...]
    noise: float | None  # estimated standard deviation of the value at the current sample size
    margin: float | None  # distance of the seeds' mean value from the threshold
    factor: float | None  # sample growth needed for a stable verdict (<= 1: stable now)

    @property
    def stable(self) -> bool:
        return len(set(self.verdicts)) == 1 and self.factor is not None and self.factor <= 1


def claim_stability(results: Sequence[ClaimResult]) -> Stability:
    """Stability of one claim from its results under different seeds (same checkpoint, same sample size)."""
    claim = CLAIMS[results[0].id]
    values = [r.value for r in results]
    known = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    spread = float(known.std(ddof=1)) if len(known) > 1 else 0.0
    halves = [r.se if r.se is not None else (r.ci[1] - r.ci[0]) / (2 * Z95) for r in results if r.se or r.ci]
    noise = max([spread, *halves]) if len(known) == len(values) else None
    margin = float(abs(known.mean() - claim.threshold.bound)) if len(known) == len(values) else None
    if noise is None or margin is None:
        factor = None
    elif noise == 0:
        factor = 0.0 if margin > 0 else math.inf
    else:
        factor = (Z95 * noise / margin) ** 2 if margin > 0 else math.inf
    return Stability(claim.id, tuple(values), tuple(r.status for r in results), noise, margin, factor)


def stability_table(reports: Sequence[Report]) -> tuple[str, list[Stability]]:
    """Markdown table of every claim present in all ``reports`` (one per seed), and the rows."""
    from tabulate import tabulate

    seeds = [r.environment.get("seed") for r in reports]
    if len(reports) < 2:
        raise ValueError("stability needs reports of at least two seeds")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"the reports share seeds {seeds}: run the suite with different --axiom-seed values")
    by_id = [{c.id: c for c in r.claims if c.id in CLAIMS and c.status in ("pass", "fail")} for r in reports]
    rows = [claim_stability([found[claim_id] for found in by_id])
            for claim_id in sorted(set.intersection(*(set(found) for found in by_id)))]
    cells = [[s.claim_id, str(CLAIMS[s.claim_id].threshold),
              " / ".join(f"{v:.4g}" if v is not None else "n/a" for v in s.values), " / ".join(s.verdicts),
              _fmt(s.noise), _fmt(s.margin), "stable" if s.stable else f"×{_fmt(s.factor)} more"]
             for s in rows]
    headers = ["claim", "threshold", f"value (seeds {', '.join(map(str, seeds))})", "verdicts", "noise (sd)",
               "margin", "sample for a stable verdict"]
    return tabulate(cells, headers=headers, tablefmt="github") + "\n", rows


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "∞" if math.isinf(value) else f"{value:.3g}"
