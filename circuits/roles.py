"""Heads found by role, as the paper finds them, for any checkpoint.

- Matching heads (§4.3): the heads whose query→document attention correlates best with token similarity,
  as many as the paper's 13 of 144, chosen on one half of the queries (:func:`selection_half`).
- Relevance scoring heads (§4.1): head→logit path effect at least 30 % of the top head's, on TFC1 and on STMC1.
- Query-contextualisation heads (§4.2): the top senders into the scoring heads' values on both datasets (the
  smaller of the two effects), other roles excluded.

Claims measure a role's heads on data the selection did not see, wherever the role is chosen from data.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import numpy as np

Head = tuple[int, int]

MATCHING_SHARE = 13 / 144  # matching heads in ms-marco-MiniLM-L-12-v2 (§4.3)
SCORING_CUT = 0.3  # the paper's "top 30% of causal importance" (§4.1)


def head_labels(heads: Iterable[Head]) -> list[str]:
    """``"layer.head"`` labels, as reports and ``--heads`` write them.

    >>> head_labels([(0, 8), (10, 1)])
    ['0.8', '10.1']
    """
    return [f"{layer}.{head}" for layer, head in heads]


def same_layer_heads(heads: Iterable[Head], n_heads: int) -> list[Head]:
    """Every head of the layers ``heads`` occupy, in order (``heads`` included).

    >>> same_layer_heads([(2, 1), (0, 3)], n_heads=2)
    [(0, 0), (0, 1), (2, 0), (2, 1)]
    """
    return [(layer, h) for layer in sorted({layer for layer, _ in heads}) for h in range(n_heads)]


def selection_half(query_ids: Iterable[object], seed: int) -> set[str]:
    """Half of the distinct query ids (seeded): roles are chosen on these and measured on the rest.

    >>> sorted(selection_half(["q1", "q2", "q3", "q4", "q1"], seed=0))
    ['q1', 'q3']
    """
    unique = sorted({str(q) for q in query_ids})
    return set(np.random.default_rng(seed).permutation(unique)[: len(unique) // 2].tolist())


def top_matching(r: np.ndarray, share: float = MATCHING_SHARE) -> list[Head]:
    """The ``share`` of heads (at least one) with the largest similarity correlation ``r`` ``[layer, head]``."""
    k = max(1, round(share * r.size))
    order = np.argsort(np.nan_to_num(r, nan=-np.inf), axis=None)[::-1][:k]
    return sorted((int(i // r.shape[1]), int(i % r.shape[1])) for i in order)


def heads_above_cut(effect: np.ndarray, cut: float = SCORING_CUT) -> list[Head]:
    """Heads whose effect is at least ``cut`` of the top head's (none if no effect is > 0).

    >>> heads_above_cut(np.array([[1.0, 0.2], [0.5, -1.0]]))
    [(0, 0), (1, 0)]
    """
    effect = np.nan_to_num(effect)
    top = effect.max()
    return sorted((int(l), int(h)) for l, h in zip(*np.nonzero(effect >= cut * top))) if top > 0 else []


def shared_heads_above_cut(effects: Iterable[np.ndarray], cut: float = SCORING_CUT) -> list[Head]:
    """Heads above the cut on every map: the paper's scoring heads exceed it "for both TFC1 and STMC1" (§4.1).

    >>> shared_heads_above_cut([np.array([[1.0, 0.5]]), np.array([[1.0, 0.1]])])
    [(0, 0)]
    """
    sets = [set(heads_above_cut(effect, cut)) for effect in effects]
    return sorted(set.intersection(*sets)) if sets else []


def shared_effect(effects: Iterable[np.ndarray]) -> np.ndarray:
    """The elementwise smallest of several effect maps (NaN as 0): a head counts only as far as it acts on every
    dataset, as the paper's "shared" heads (App. D.1).

    >>> shared_effect([np.array([[0.3, -0.1]]), np.array([[0.2, np.nan]])]).tolist()
    [[0.2, -0.1]]
    """
    return np.min(np.stack([np.nan_to_num(np.asarray(e, float)) for e in effects]), axis=0)


def top_senders(effect: np.ndarray, k: int, exclude: Collection[Head] = ()) -> list[Head]:
    """The ``k`` heads with the largest positive effect, ``exclude`` left out (ranked, largest first)."""
    effect = np.nan_to_num(np.asarray(effect, float))
    order = [tuple(int(i) for i in np.unravel_index(i, effect.shape)) for i in np.argsort(-effect, axis=None)]
    return [h for h in order if h not in exclude and effect[h] > 0][:k]


def held_out_concentration(effect_select: np.ndarray, effect_measure: np.ndarray, late_from: int) -> float:
    """Of the heads above the cut on the selection map, those in layers ≥ ``late_from``: the share of the
    measurement map's total positive effect they carry, minus the share a flat map would give them
    (``selected / all heads``). NaN without a selected head or a positive effect.

    >>> planted = np.zeros((4, 4)); planted[3, 1] = 1.0
    >>> held_out_concentration(planted, planted, late_from=2)  # one late head carries it all
    0.9375
    >>> round(held_out_concentration(planted, np.ones((4, 4)), late_from=2), 3)  # flat where measured
    0.0
    """
    heads = heads_above_cut(effect_select)
    measure = np.nan_to_num(effect_measure)
    positive = measure[measure > 0].sum()
    if not heads or positive <= 0:
        return float("nan")
    return float(sum(measure[h] for h in heads if h[0] >= late_from) / positive - len(heads) / measure.size)
