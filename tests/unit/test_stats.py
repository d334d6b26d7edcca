"""δ-filter, ratio-of-means effects and the query-grouped bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.errors import InputError
from circuits.stats import (bootstrap_ratio_ci, delta_mask, estimate_effects, pair_effects, ratio_of_means)

BASE = np.array([0.0, 1.0, -1.0, 2.0])
PERT = np.array([2.0, 2.0, 1.0, 2.0005])


def test_delta_filter_keeps_pairs_that_moved_enough():
    assert delta_mask(BASE, PERT, 1e-3).tolist() == [True, True, True, False]
    assert delta_mask(BASE, PERT, 0).all()
    with pytest.raises(InputError, match="delta must be ≥ 0"):
        delta_mask(BASE, PERT, -1)


def test_metric_is_zero_at_the_baseline_and_one_at_the_perturbed_score():
    patched = np.stack([BASE, PERT, (BASE + PERT) / 2], axis=1)  # [pairs, 3]
    np.testing.assert_allclose(pair_effects(patched, BASE, PERT), [[0, 1, 0.5]] * 4)
    np.testing.assert_allclose(ratio_of_means(patched, BASE, PERT), [0, 1, 0.5])


def test_ratio_of_means_is_not_the_mean_of_ratios():
    base, pert = np.zeros(2), np.array([1.0, 3.0])
    patched = np.array([[1.0], [0.0]])  # per-pair 1.0 and 0.0
    assert pair_effects(patched, base, pert).mean() == 0.5
    assert ratio_of_means(patched, base, pert)[0] == pytest.approx(0.25)  # (1 + 0) / (1 + 3)


def test_effects_keep_the_index_shape():
    patched = np.random.default_rng(0).normal(size=(4, 3, 5))
    assert ratio_of_means(patched, BASE, PERT).shape == (3, 5)
    low, high = bootstrap_ratio_ci(patched, BASE, PERT, ["a", "b", "a", "c"], n_boot=20)
    assert low.shape == high.shape == (3, 5) and np.all(low <= high)


@pytest.mark.parametrize("call, message", [
    (lambda: ratio_of_means(np.zeros((3, 2)), BASE, PERT), "first axis"),
    (lambda: ratio_of_means(np.zeros((4, 2)), BASE, PERT[:3]), "first axis"),
    (lambda: bootstrap_ratio_ci(np.zeros((4, 1)), BASE, PERT, ["a"]), "1 group ids for 4 pairs"),
    (lambda: bootstrap_ratio_ci(np.zeros((4, 1)), BASE, PERT, list("abcd"), level=1.0), "level"),
    (lambda: bootstrap_ratio_ci(np.zeros((4, 1)), BASE, PERT, list("abcd"), n_boot=0), "n_boot"),
    (lambda: estimate_effects(np.zeros((4, 1)), BASE, PERT, ["a"]), "1 group ids for 4 pairs"),
])
def test_bad_inputs_are_refused(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_estimate_drops_and_counts_flat_pairs():
    patched = np.stack([PERT], axis=1)
    est = estimate_effects(patched, BASE, PERT, ["a", "b", "c", "d"], delta=1e-3, n_boot=100)
    assert (est.n_pairs, est.n_dropped, est.n_groups) == (3, 1, 3)
    np.testing.assert_allclose(est.effect, [1.0])
    np.testing.assert_allclose([est.ci_low[0], est.ci_high[0]], [1.0, 1.0])
    none = estimate_effects(patched, BASE, BASE, list("abcd"))
    assert none.n_pairs == 0 and none.n_dropped == 4 and np.isnan(none.effect).all()
    assert np.isnan(none.ci_low).all() and np.isnan(none.ci_high).all()


def test_bootstrap_resamples_queries_not_pairs():
    rng = np.random.default_rng(1)
    base, pert = np.zeros(40), np.ones(40)
    noisy = rng.normal(0.5, 0.3, size=(40, 1))
    one_query = bootstrap_ratio_ci(noisy, base, pert, ["q"] * 40, n_boot=200)
    per_pair = bootstrap_ratio_ci(noisy, base, pert, list(range(40)), n_boot=200)
    # one query: every replicate draws the same 40 pairs, so the interval collapses to the point estimate
    assert one_query[0][0] == pytest.approx(one_query[1][0]) == pytest.approx(noisy.mean())
    assert per_pair[1][0] - per_pair[0][0] > 0.1


def test_bootstrap_is_seeded_and_covers_the_estimate():
    rng = np.random.default_rng(2)
    base, pert = rng.normal(size=30), rng.normal(size=30) + 3
    patched = (base + 0.4 * (pert - base))[:, None] + rng.normal(0, 0.2, size=(30, 1))
    groups = [f"q{i % 10}" for i in range(30)]
    a = bootstrap_ratio_ci(patched, base, pert, groups, n_boot=300, seed=7)
    b = bootstrap_ratio_ci(patched, base, pert, groups, n_boot=300, seed=7)
    c = bootstrap_ratio_ci(patched, base, pert, groups, n_boot=300, seed=8)
    assert a[0] == b[0] and a[1] == b[1] and (a[0] != c[0] or a[1] != c[1])
    point = ratio_of_means(patched, base, pert)
    assert a[0][0] < point[0] < a[1][0]
    narrow = bootstrap_ratio_ci(patched, base, pert, groups, n_boot=300, seed=7, level=0.5)
    assert a[0][0] <= narrow[0][0] <= narrow[1][0] <= a[1][0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(0.5, 5), st.floats(-3, 3)), min_size=1, max_size=12),
       st.floats(0.1, 10))
def test_effect_is_invariant_to_shifting_and_scaling_scores(rows, scale):
    base = np.array([r[0] for r in rows])
    pert = base + np.array([r[1] for r in rows])
    patched = (base + np.array([r[2] for r in rows]))[:, None]
    effect = ratio_of_means(patched, base, pert)
    moved = ratio_of_means(scale * patched + 7.0, scale * base + 7.0, scale * pert + 7.0)
    np.testing.assert_allclose(moved, effect, rtol=1e-9, atol=1e-9)


def test_group_bootstrap_resamples_whole_groups_and_names_its_unit():
    from circuits.stats import group_bootstrap

    values = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    groups = ["a", "a", "b", "b", "c", "c"]
    iv = group_bootstrap(lambda i: float(values[i].mean()), groups, unit="query", n_boot=500, seed=1)
    assert (iv.value, iv.unit, iv.n) == (0.5, "query", 3)
    assert iv.low <= iv.value <= iv.high and iv.se > 0
    # every replicate is a mean of whole groups (each 0, 1 or 0.5): a pair-level bootstrap would give sixths
    seen = set()
    group_bootstrap(lambda i: seen.add(round(float(values[i].mean()) * 6)) or 0.0, groups, unit="query", n_boot=200)
    assert seen <= {0, 1, 2, 3, 4, 5, 6} and all(k % 1 == 0 for k in seen)
    assert group_bootstrap(lambda i: float(values[i].mean()), groups, unit="query", seed=1) == \
        group_bootstrap(lambda i: float(values[i].mean()), groups, unit="query", seed=1)


def test_group_bootstrap_se_shrinks_with_the_sample_and_strata_stay_apart():
    from circuits.stats import group_bootstrap

    rng = np.random.default_rng(0)
    small, large = rng.normal(size=25), rng.normal(size=400)
    se_small = group_bootstrap(lambda i: float(small[i].mean()), range(25), unit="pair").se
    se_large = group_bootstrap(lambda i: float(large[i].mean()), range(400), unit="pair").se
    assert se_large < se_small / 2.5  # ~1/√16 = 1/4
    labels = np.array([True] * 3 + [False] * 30)
    x = np.where(labels, 1.0, 0.0)
    gap = group_bootstrap(lambda i: float(x[i][labels[i]].mean() - x[i][~labels[i]].mean()), range(33),
                          unit="head", strata=labels)
    assert gap.value == gap.low == gap.high == 1.0  # a stratum is never drawn empty


def test_group_bootstrap_reports_an_undefined_statistic_as_nan():
    from circuits.stats import group_bootstrap

    iv = group_bootstrap(lambda i: float("nan"), range(5), unit="query")
    assert np.isnan(iv.se) and np.isnan(iv.low)
    with pytest.raises(InputError, match="no query"):
        group_bootstrap(lambda i: 0.0, [], unit="query")
