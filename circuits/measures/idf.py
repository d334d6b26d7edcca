"""Measures of IDF in the embedding matrix (§4.4, §6.3): U0 edits against random directions, the IDF
dependence lost without U0, unsafe documents demoted by lowering their tokens' IDF."""

from __future__ import annotations

import numpy as np

from circuits.controls import Control, percentile_rank
from circuits.editing import idf_dependence, monotonicity
from circuits.items import Items, labelled
from circuits.stats import group_bootstrap


def edit_beyond_random(gaps: np.ndarray, controls: np.ndarray, queries, seed: int, steps, least_rho: float) -> tuple:
    """(the percentile rank of U0's gap change ``gaps`` ``[queries, steps]`` among the random directions' changes
    ``controls`` ``[queries, directions]``, bootstrapped over queries; why the claim is unmet when the gap does
    not move monotonically along U0, else None; the items: per example its gap at every step and each random
    direction's gap change)."""
    items = Items.of([f"{q}#{n}" for n, q in enumerate(queries)], queries,
                     **labelled("gap", gaps, [f"{s:g}" for s in steps]),
                     random_direction_change=controls)
    rank = percentile_rank(gaps[:, -1] - gaps[:, 0], controls, items.units, unit="query", seed=seed)
    rho = monotonicity(steps, gaps)
    unmet = None if rho >= least_rho else (f"the gap does not move monotonically with U0's edit: Spearman ρ = "
                                           f"{rho:.3f} < {least_rho}")
    return rank, unmet, items


def dependence_lost(intact: np.ndarray, ablated: np.ndarray, controls: list, term_idf: np.ndarray, qids,
                    seed: int) -> tuple:
    """(how much of the gains' correlation with the terms' IDF is lost without U0, bootstrapped over queries; the
    control: the same loss with random directions projected out instead)."""
    def lost(i: np.ndarray) -> float:
        return idf_dependence(intact[i], term_idf[i]) - idf_dependence(ablated[i], term_idf[i])

    def lost_to_random(i: np.ndarray) -> float:
        return float(np.nanmean([idf_dependence(intact[i], term_idf[i]) - idf_dependence(c[i], term_idf[i])
                                 for c in controls]))

    value = group_bootstrap(lost, qids, unit="query", seed=seed)
    beyond = group_bootstrap(lambda i: lost(i) - lost_to_random(i), qids, unit="query", seed=seed)
    return value, Control(f"{len(controls)} random directions ⟂ v0 projected out instead",
                          lost_to_random(np.arange(len(intact))), beyond)


def demotion_beyond_random(ids, own: np.ndarray, controls: np.ndarray, groups, seed: int) -> tuple:
    """(the share of attacks ``ids`` demoted by the U0 edit, ``own`` ``[attacks]``, bootstrapped over ``groups``;
    the control: the mean share along the random directions, ``controls`` ``[attacks, directions]``; the items)."""
    items = Items.of(ids, groups, demoted=own, demoted_by_random_direction=controls)
    share = items.bootstrap(lambda i: float(own[i].mean()), unit="query", seed=seed)
    beyond = items.bootstrap(lambda i: float(own[i].mean() - controls[i].mean()), unit="query", seed=seed)
    return share, Control(f"{controls.shape[1]} random directions ⟂ v0 signed by U0's rule, same step",
                          float(controls.mean()), beyond), items
