"""The result of a patching sweep: patched scores per pair and index, ratio-of-means effects and their CIs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from circuits.stats import EffectEstimate, pair_effects

SCHEMA = "axiomtests.patching/1"


@dataclass
class PatchResult:
    """Patched scores per pair and index, and their ratio-of-means effects with bootstrap CIs."""

    kind: str
    sites: tuple[str, ...]
    axes: tuple[str, ...]
    coords: dict[str, list[Any]]
    patched: np.ndarray  # [n_pairs, *shape]
    baseline: np.ndarray  # [n_pairs]
    perturbed: np.ndarray  # [n_pairs]
    query_ids: tuple[str, ...]
    estimate: EffectEstimate
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.patched.shape[1:]

    @property
    def effect(self) -> np.ndarray:
        return self.estimate.effect

    @property
    def ci_low(self) -> np.ndarray:
        return self.estimate.ci_low

    @property
    def ci_high(self) -> np.ndarray:
        return self.estimate.ci_high

    @property
    def n_pairs(self) -> int:
        """Pairs kept by the δ-filter."""
        return self.estimate.n_pairs

    @property
    def n_dropped(self) -> int:
        return self.estimate.n_dropped

    def per_pair(self) -> np.ndarray:
        """Per-pair metric ``(patched − baseline)/(perturbed − baseline)`` of the kept pairs."""
        kept = self.estimate.kept
        return pair_effects(self.patched[kept], self.baseline[kept], self.perturbed[kept])

    def label(self, index: tuple[int, ...]) -> str:
        """``"10.1"`` for head (10, 1); ``"mlp_out.3.17"`` for component, layer, position."""
        return ".".join(str(self.coords[axis][i]) for axis, i in zip(self.axes, index))

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` indices with the largest absolute effect, as ``(label, effect)``."""
        flat = np.nan_to_num(np.abs(self.effect), nan=-1.0).ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        return [(self.label(np.unravel_index(i, self.shape)), float(self.effect.ravel()[i])) for i in order]

    def to_dict(self, per_pair: bool = False) -> dict[str, Any]:
        """JSON-ready dict (NaN as None); ``per_pair`` adds the per-pair scores."""
        out: dict[str, Any] = {
            "schema": SCHEMA, "kind": self.kind, "sites": list(self.sites), "axes": list(self.axes),
            "coords": self.coords, "shape": list(self.shape), "effect": _json(self.effect),
            "ci_low": _json(self.ci_low), "ci_high": _json(self.ci_high), "n_pairs": self.n_pairs,
            "n_dropped": self.n_dropped, "n_queries": self.estimate.n_groups, "settings": self.settings,
            "top": [{"index": label, "effect": _finite(value)} for label, value in self.top(10)],
        }
        if per_pair:
            out["pairs"] = {"query_ids": list(self.query_ids), "baseline": _json(self.baseline),
                            "perturbed": _json(self.perturbed), "kept": self.estimate.kept.tolist(),
                            "patched": _json(self.patched)}
        return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _json(array: np.ndarray) -> Any:
    return np.vectorize(_finite, otypes=[object])(np.asarray(array, dtype=np.float64)).tolist()
