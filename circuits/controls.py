"""Controls: what a model without the mechanism would show on the same data.

A claim about a set of heads is judged against sets of other heads drawn like it (same size, same layers); a
claim about a direction of the embedding matrix against random directions of equal norm. The percentile rank
of the real set among its controls is the claim's value, resampled over queries with the controls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuits.stats import Interval, group_bootstrap

Head = tuple[int, int]


@dataclass(frozen=True)
class Control:
    """What a model without the mechanism would show on the same data (a null model, control heads, random
    directions, random words), and ``difference`` = value − control, resampled with the same draws as the
    value. A claim with a control passes only when its threshold holds *and* the difference's CI lies
    entirely on the claim's side of zero."""

    name: str
    value: float
    difference: Interval

    def beaten(self, higher_is_better: bool) -> bool:
        low, high = self.difference.ci
        return bool(low > 0) if higher_is_better else bool(high < 0)

    def as_dict(self, higher_is_better: bool) -> dict[str, Any]:
        d = self.difference
        return {"name": self.name, "value": self.value, "difference": d.value, "difference_ci": list(d.ci),
                "beaten": self.beaten(higher_is_better)}


def matched_head_sets(heads: Sequence[Head], n_heads: int, n_sets: int, seed: int) -> list[list[Head]]:
    """``n_sets`` head sets with the same size and layers as ``heads``, drawn from the heads outside it (seeded).

    >>> matched_head_sets([(0, 1), (2, 0)], n_heads=4, n_sets=2, seed=0)
    [[(0, 3), (2, 2)], [(0, 2), (2, 1)]]
    """
    rng = np.random.default_rng(seed)
    chosen = set(heads)
    sets = []
    for _ in range(n_sets):
        drawn: list[Head] = []
        for layer, _ in heads:
            options = [(layer, h) for h in range(n_heads) if (layer, h) not in chosen and (layer, h) not in drawn]
            if not options:
                raise ValueError(f"layer {layer} has no head outside the set to draw a control from")
            drawn.append(options[int(rng.integers(len(options)))])
        sets.append(sorted(drawn))
    return sets


def percentile_rank(own: np.ndarray, controls: np.ndarray, groups: Sequence[object], *, unit: str, seed: int,
                    n_boot: int = 1000) -> Interval:
    """Share of control sets whose mean effect is below the real set's: ``own`` ``[items]``, ``controls``
    ``[items, sets]``, both per item (e.g. per pair), resampled by ``groups`` (ties count half).

    >>> own = np.array([1.0, 1.2, 0.9, 1.1]); controls = np.array([[0.1, 2.0]] * 4)
    >>> percentile_rank(own, controls, ["a", "b", "c", "d"], unit="query", seed=0).value
    0.5
    """
    own, controls = np.asarray(own, float), np.asarray(controls, float)

    def rank(i: np.ndarray) -> float:
        mine, theirs = own[i].mean(), controls[i].mean(0)
        return float(np.mean(theirs < mine) + 0.5 * np.mean(theirs == mine))

    return group_bootstrap(rank, groups, unit=unit, seed=seed, n_boot=n_boot)


def random_directions(dim: int, n: int, seed: int, orthogonal_to: np.ndarray | None = None) -> np.ndarray:
    """``[n, dim]`` random unit vectors (seeded), orthogonal to ``orthogonal_to`` when given.

    >>> d = random_directions(8, 3, seed=0, orthogonal_to=np.eye(8)[0])
    >>> d.shape, bool(np.allclose(np.linalg.norm(d, axis=1), 1)), bool(np.allclose(d[:, 0], 0))
    ((3, 8), True, True)
    """
    out = np.random.default_rng(seed).standard_normal((n, dim))
    if orthogonal_to is not None:
        unit = np.asarray(orthogonal_to, float) / np.linalg.norm(orthogonal_to)
        out -= np.outer(out @ unit, unit)
    return out / np.linalg.norm(out, axis=1, keepdims=True)
