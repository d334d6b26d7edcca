"""Saturation (TFC2, App. E): do later occurrences of a term add less than the first?"""

from __future__ import annotations

import numpy as np

from circuits.stats import Interval


def saturation_ratio(gains: np.ndarray) -> float:
    """Mean later gain (k=1..K) over the mean first gain (k=0→1) of ``[queries, K]`` per-step gains; NaN when
    the first gain is not positive (then nothing saturates: the ratio is undefined, never a pass).

    >>> saturation_ratio(np.array([[2.0, 1.0, 0.0], [2.0, 0.0, 1.0]]))
    0.25
    """
    first = gains[:, 0].mean()
    return float(gains[:, 1:].mean() / first) if first > 0 else float("nan")


def saturation_unmet(first: Interval, ratio: float) -> str | None:
    """Why a saturation ratio cannot pass, or None: the first gain must be positive beyond its CI (else there
    is nothing to saturate), and later gains not negative on average (a falling curve is not a plateau)."""
    if not first.low > 0:
        return (f"the first occurrence does not raise the curve beyond noise: first gain {first.value:.3g}, "
                f"95% CI [{first.low:.3g}, {first.high:.3g}]")
    if ratio < 0:
        return f"later occurrences lower the curve (ratio {ratio:.3g} < 0): a falling curve is not saturation"
    return None
