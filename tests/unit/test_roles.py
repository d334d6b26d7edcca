"""Role-finding and the measures built on it, on planted and flat maps."""

from __future__ import annotations

import numpy as np

from circuits.roles import heads_above_cut, held_out_concentration, selection_half, top_matching, top_senders
from circuits.saturation import saturation_ratio, saturation_unmet
from circuits.stats import Interval


def test_selection_half_is_seeded_and_takes_whole_queries():
    ids = [f"q{i % 10}" for i in range(40)]
    half = selection_half(ids, seed=3)
    assert len(half) == 5 and half == selection_half(reversed(ids), seed=3) and half != selection_half(ids, seed=4)


def test_top_matching_takes_the_papers_share_and_skips_nan():
    r = np.full((12, 12), 0.1)
    r[0, 0] = np.nan
    planted = [(3, 4), (5, 1), (7, 7), (8, 0), (9, 2), (10, 10), (11, 3), (2, 2), (1, 9), (4, 4), (6, 6), (0, 5),
               (11, 11)]
    for rank, head in enumerate(planted):
        r[head] = 0.9 - rank * 0.01
    assert top_matching(r) == sorted(planted)  # 13 of 144
    assert top_matching(np.array([[np.nan, 0.2]])) == [(0, 1)]


def test_scoring_cut_and_senders_rank_by_effect():
    effect = np.array([[0.1, 0.5, -0.2], [1.0, 0.31, 0.29]])
    assert heads_above_cut(effect) == [(0, 1), (1, 0), (1, 1)]
    assert heads_above_cut(-np.abs(effect)) == []
    assert top_senders(effect, 2) == [(1, 0), (0, 1)]
    assert top_senders(effect, 3, exclude={(1, 0)}) == [(0, 1), (1, 1), (1, 2)]
    assert top_senders(-np.abs(effect), 2) == []


def test_concentration_is_high_for_a_few_late_heads_and_zero_or_less_for_flat_or_early_maps():
    rng = np.random.default_rng(0)
    planted = rng.normal(0, 0.01, (6, 12))
    planted[5, [1, 4]] = 1.0
    measured = planted + rng.normal(0, 0.01, planted.shape)
    assert held_out_concentration(planted, measured, late_from=3) > 0.7
    flat_a, flat_b = rng.uniform(0.5, 1, (6, 12)), rng.uniform(0.5, 1, (6, 12))
    assert held_out_concentration(flat_a, flat_b, late_from=3) < 0.05
    early = np.zeros((6, 12))
    early[0, 3] = 1.0
    assert held_out_concentration(early, early, late_from=3) < 0
    assert np.isnan(held_out_concentration(np.zeros((6, 12)), measured, late_from=3))


def test_saturation_needs_a_first_gain_beyond_noise_and_a_plateau():
    concave = np.array([[1.0, 0.3, 0.1, 0.05]] * 5)
    assert 0 < saturation_ratio(concave) < 1
    assert np.isnan(saturation_ratio(np.array([[-0.1, 0.2]])))
    assert saturation_unmet(Interval(1.0, 0.8, 1.2, 0.1, "query", 5), 0.2) is None
    assert "beyond noise" in saturation_unmet(Interval(0.1, -0.1, 0.3, 0.1, "query", 5), 0.2)
    assert "falling" in saturation_unmet(Interval(1.0, 0.8, 1.2, 0.1, "query", 5), -0.3)
