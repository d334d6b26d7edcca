"""Scoring-head measures on stacked patching rows: a planted late head is found and agreed on; noise is not."""

from __future__ import annotations

import numpy as np

from circuits.scoring import StackedPairs, held_out_concentrations, map_agreement, map_correlation


def stack(planted: bool, seed: int = 0, queries: int = 20, layers: int = 4, heads: int = 4) -> StackedPairs:
    """Two perturbations × ``queries`` pairs: with ``planted``, head 3.1 carries the whole gain in both."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(2):
        base, pert = np.zeros(queries), np.ones(queries)
        patched = rng.normal(0, 0.05, (queries, layers, heads)) if planted else rng.normal(0.5, 0.5,
                                                                                            (queries, layers, heads))
        if planted:
            patched[:, 3, 1] += 1.0
        blocks.append((patched, base, pert, np.array([f"q{i}" for i in range(queries)])))
    return StackedPairs.of(blocks)


def test_a_planted_late_head_concentrates_the_effect_held_out_and_both_maps_agree():
    s = stack(planted=True)
    rows = np.arange(len(s.axis))
    selection = np.array([int(q[1:]) % 2 == 0 for q in s.query_ids])
    assert all(c > 0.8 for c in held_out_concentrations(s, rows, selection, late_from=2))
    assert map_agreement(s, rows, 0, 1) > 0.9


def test_noise_concentrates_nothing_and_maps_do_not_agree():
    s = stack(planted=False)
    rows = np.arange(len(s.axis))
    selection = np.array([int(q[1:]) % 2 == 0 for q in s.query_ids])
    assert all(c < 0.2 for c in held_out_concentrations(s, rows, selection, late_from=2))
    assert abs(map_agreement(s, rows, 0, 1)) < 0.6


def test_an_empty_side_gives_nan_and_constant_maps_no_correlation():
    s = stack(planted=True)
    rows = np.arange(len(s.axis))
    assert all(np.isnan(held_out_concentrations(s, rows, np.ones(len(rows), bool), late_from=2)))
    assert np.isnan(map_correlation(np.ones((2, 2)), np.arange(4.0)))
