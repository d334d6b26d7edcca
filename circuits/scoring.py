"""Relevance-scoring measures (paper §4.1) on head→logit path patching: effect maps of pairs resampled by query.

Rows are the pairs that path patching kept (their perturbation moved the score by at least δ), stacked over
several perturbations (TFC1, STMC1, a random word): every measure takes the rows of one bootstrap draw, so maps
are recomputed from the resampled queries' pairs and roles re-selected in each draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from circuits.roles import held_out_concentration
from circuits.stats import ratio_of_means


@dataclass(frozen=True)
class StackedPairs:
    """Kept pairs of several patching results, one block of rows each (``axis``: the block's index)."""

    patched: np.ndarray  # [rows, layer, head]
    baseline: np.ndarray  # [rows]
    perturbed: np.ndarray  # [rows]
    query_ids: np.ndarray  # [rows]
    axis: np.ndarray  # [rows]

    @classmethod
    def of(cls, kept: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> StackedPairs:
        """Stack (patched, baseline, perturbed, query ids) blocks, in order."""
        patched, base, pert, qids = (np.concatenate([block[k] for block in kept]) for k in range(4))
        axis = np.concatenate([np.full(len(block[0]), n) for n, block in enumerate(kept)])
        return cls(patched, base, pert, qids, axis)

    def effect_map(self, rows: np.ndarray, axis: int) -> np.ndarray | None:
        """The ratio-of-means effect map ``[layer, head]`` of ``axis``'s rows among ``rows`` (None without any)."""
        mine = rows[self.axis[rows] == axis]
        return ratio_of_means(self.patched[mine], self.baseline[mine], self.perturbed[mine]) if len(mine) else None


def map_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two effect maps over the heads finite in both (NaN with fewer than 3 or a constant map)."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or a[keep].std() == 0 or b[keep].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def map_agreement(stack: StackedPairs, rows: np.ndarray, a: int, b: int) -> float:
    """:func:`map_correlation` of the effect maps of axes ``a`` and ``b`` on ``rows``."""
    first, second = stack.effect_map(rows, a), stack.effect_map(rows, b)
    return float("nan") if first is None or second is None else map_correlation(first, second)


def held_out_concentrations(stack: StackedPairs, rows: np.ndarray, selection: np.ndarray, late_from: int
                            ) -> list[float]:
    """Per axis, :func:`circuits.roles.held_out_concentration` with heads selected on the ``rows`` whose
    ``selection`` flag is set and measured on the others (NaN for every axis when one side is empty)."""
    out = []
    for axis in range(int(stack.axis.max()) + 1 if len(stack.axis) else 0):
        chosen, measured = (stack.effect_map(rows[selection[rows] == side], axis) for side in (True, False))
        if chosen is None or measured is None:
            return [float("nan")] * (int(stack.axis.max()) + 1)
        out.append(held_out_concentration(chosen, measured, late_from))
    return out
