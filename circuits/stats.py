"""Statistics of patching effects: the δ-filter, ratio-of-means effects and query-grouped bootstrap CIs.

The patching metric of a pair is ``(patched − baseline) / (perturbed − baseline)``: 0 when the patch recovers
none of the perturbation's effect on the score, 1 when it recovers all of it. Per-pair ratios explode when
``perturbed ≈ baseline``, so pairs with ``|perturbed − baseline| < δ`` are dropped (and counted) and the
aggregate is the ratio of means, ``mean(patched − baseline) / mean(perturbed − baseline)``, over the kept pairs.
Its confidence interval is a percentile bootstrap that resamples *queries* (all pairs of a query together),
because pairs built from one query are not independent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuits.errors import InputError

Array = np.ndarray


def delta_mask(baseline: Array, perturbed: Array, delta: float) -> Array:
    """Boolean ``[n_pairs]``: True where ``|perturbed − baseline| ≥ delta`` (the pairs that are kept).

    >>> delta_mask(np.array([0.0, 0.0]), np.array([1.0, 1e-4]), 1e-3).tolist()
    [True, False]
    """
    if delta < 0:
        raise InputError(f"delta must be ≥ 0, got {delta!r}")
    return np.abs(np.asarray(perturbed) - np.asarray(baseline)) >= delta


def pair_effects(patched: Array, baseline: Array, perturbed: Array) -> Array:
    """Per-pair metric ``(patched − baseline) / (perturbed − baseline)``; ``patched`` is ``[n_pairs, *index]``.

    >>> pair_effects(np.array([[0.5]]), np.array([0.0]), np.array([2.0])).tolist()
    [[0.25]]
    """
    base, gap = _broadcast(np.asarray(patched), baseline, perturbed)
    return (np.asarray(patched) - base) / gap


def ratio_of_means(patched: Array, baseline: Array, perturbed: Array) -> Array:
    """``mean(patched − baseline) / mean(perturbed − baseline)`` over pairs (axis 0), per index.

    >>> ratio_of_means(np.array([[1.0], [0.0]]), np.zeros(2), np.array([2.0, 2.0])).tolist()
    [0.25]
    """
    patched = np.asarray(patched, dtype=np.float64)
    base, gap = _broadcast(patched, baseline, perturbed)
    return (patched - base).mean(axis=0) / gap.mean(axis=0)


def _broadcast(patched: Array, baseline: Array, perturbed: Array) -> tuple[Array, Array]:
    baseline = np.asarray(baseline, dtype=np.float64)
    perturbed = np.asarray(perturbed, dtype=np.float64)
    if baseline.shape != perturbed.shape or baseline.ndim != 1 or patched.shape[:1] != baseline.shape:
        raise InputError(f"patched {patched.shape}, baseline {baseline.shape} and perturbed {perturbed.shape} "
                         "must share their first axis (one row per pair); baseline and perturbed are 1-d")
    extra = (1,) * (patched.ndim - 1)
    return baseline.reshape(-1, *extra), (perturbed - baseline).reshape(-1, *extra)


def bootstrap_ratio_ci(patched: Array, baseline: Array, perturbed: Array, groups: Sequence[Any], *,
                       n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[Array, Array]:
    """Percentile bootstrap CI of ``ratio_of_means``, resampling groups (queries) with replacement.

    Each replicate draws as many groups as there are, with replacement, and takes every pair of each drawn
    group; the replicate's ratio is ``Σ w_g·num_g / Σ w_g·den_g`` with ``num_g``, ``den_g`` the group's sums of
    ``patched − baseline`` and ``perturbed − baseline`` and ``w_g`` how often it was drawn. Seeded, vectorised.

    Returns ``(low, high)`` with the shape of one row of ``patched``.
    """
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level!r}")
    if n_boot < 1:
        raise InputError(f"n_boot must be at least 1, got {n_boot!r}")
    patched = np.asarray(patched, dtype=np.float64)
    if len(groups) != patched.shape[0]:
        raise InputError(f"{len(groups)} group ids for {patched.shape[0]} pairs: pass one query id per pair")
    base, gap = _broadcast(patched, baseline, perturbed)
    _, codes = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    n_groups = int(codes.max()) + 1
    num = _group_sums(patched - base, codes, n_groups)
    den = _group_sums(np.broadcast_to(gap, patched.shape), codes, n_groups)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = (weights @ num) / (weights @ den)
    tail = (1.0 - level) / 2 * 100
    low, high = np.nanpercentile(replicates, [tail, 100 - tail], axis=0)
    return low.reshape(patched.shape[1:]), high.reshape(patched.shape[1:])


def _group_sums(values: Array, codes: Array, n_groups: int) -> Array:
    flat = values.reshape(values.shape[0], -1)
    sums = np.zeros((n_groups, flat.shape[1]))
    np.add.at(sums, codes, flat)
    return sums


@dataclass(frozen=True)
class EffectEstimate:
    """Ratio-of-means effects with bootstrap CIs over the pairs that passed the δ-filter."""

    effect: Array
    ci_low: Array
    ci_high: Array
    kept: Array  # bool [n_pairs]
    n_groups: int

    @property
    def n_pairs(self) -> int:
        return int(self.kept.sum())

    @property
    def n_dropped(self) -> int:
        return int((~self.kept).sum())


def estimate_effects(patched: Array, baseline: Array, perturbed: Array, groups: Sequence[Any], *,
                     delta: float = 0.01, n_boot: int = 1000, level: float = 0.95, seed: int = 0
                     ) -> EffectEstimate:
    """δ-filter the pairs, then ``ratio_of_means`` and ``bootstrap_ratio_ci`` over the kept ones.

    With no pair left every effect and bound is NaN (the counts say why).

    >>> est = estimate_effects(np.array([[1.0], [3.0]]), np.zeros(2), np.array([2.0, 2.0]), ["q1", "q2"])
    >>> est.effect.tolist(), est.n_pairs, est.n_dropped
    ([1.0], 2, 0)
    """
    patched = np.asarray(patched, dtype=np.float64)
    if len(groups) != patched.shape[0]:
        raise InputError(f"{len(groups)} group ids for {patched.shape[0]} pairs: pass one query id per pair")
    kept = delta_mask(baseline, perturbed, delta)
    if not kept.any():
        nan = np.full(patched.shape[1:], np.nan)
        return EffectEstimate(nan, nan.copy(), nan.copy(), kept, 0)
    b, p = np.asarray(baseline)[kept], np.asarray(perturbed)[kept]
    kept_groups = [g for g, k in zip(groups, kept) if k]
    effect = ratio_of_means(patched[kept], b, p)
    low, high = bootstrap_ratio_ci(patched[kept], b, p, kept_groups, n_boot=n_boot, level=level, seed=seed)
    return EffectEstimate(effect, low, high, kept, len(set(map(str, kept_groups))))


@dataclass(frozen=True)
class Interval:
    """A statistic with its percentile-bootstrap CI and standard error over a named resampling unit."""

    value: float
    low: float
    high: float
    se: float
    unit: str
    n: int  # how many units were resampled

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": [self.low, self.high], "se": self.se, "unit": self.unit, "n": self.n}


def group_bootstrap(statistic: Callable[[Array], float], groups: Sequence[Any], *, unit: str,
                    strata: Sequence[Any] | None = None, n_boot: int = 1000, level: float = 0.95, seed: int = 0
                    ) -> Interval:
    """``statistic`` over all items, with a percentile CI and the bootstrap standard error, resampling whole
    groups (e.g. every pair of a query together) with replacement; within each stratum when ``strata`` (one
    label per item, constant within a group) is given.

    ``statistic`` takes an index array into the items (with repeats) and returns a float. Replicates that come
    out NaN (a degenerate draw) are left out; the SE is NaN when fewer than half of them are finite.

    >>> iv = group_bootstrap(lambda i: float(np.mean(np.array([0., 1., 1., 1.])[i])), ["a", "b", "c", "d"],
    ...                      unit="query", n_boot=200)
    >>> iv.value, iv.n, iv.unit, 0 < iv.se < 0.5
    (0.75, 4, 'query', True)
    """
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level!r}")
    if n_boot < 2:
        raise InputError(f"n_boot must be at least 2, got {n_boot!r}")
    if not len(groups):
        raise InputError(f"no {unit} to resample: the statistic has no items")
    _, codes = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    members = [np.nonzero(codes == g)[0] for g in range(int(codes.max()) + 1)]
    labels = ["all"] * len(members) if strata is None else [str(strata[m[0]]) for m in members]
    by_stratum = [np.array([g for g, s in enumerate(labels) if s == label], dtype=int) for label in sorted(set(labels))]
    singletons = all(len(m) == 1 for m in members)
    first = np.array([m[0] for m in members])
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    for b in range(n_boot):
        drawn = np.concatenate([rng.choice(pool, size=len(pool)) for pool in by_stratum])
        replicates[b] = statistic(first[drawn] if singletons else np.concatenate([members[g] for g in drawn]))
    value = float(statistic(np.arange(len(groups))))
    finite = replicates[np.isfinite(replicates)]
    if len(finite) < n_boot / 2:
        return Interval(value, float("nan"), float("nan"), float("nan"), unit, len(members))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(value, float(low), float(high), float(finite.std(ddof=1)), unit, len(members))
