"""Measures of the matching heads (paper §4.3, App. E): similarity-driven attention, saturation on a repeated
term, and ablation or patching effects ranked among matched control head sets."""

from __future__ import annotations

import numpy as np

from circuits.controls import Control, percentile_rank
from circuits.items import Items
from circuits.roles import head_labels
from circuits.saturation import saturation_ratio


def similarity_gap(r_held: np.ndarray, heads, seed: int) -> tuple:
    """(matching heads' mean held-out similarity r minus the other heads', bootstrapped over heads within each
    group; the two means; the items: every head with a finite r, each its own unit)."""
    chosen = np.zeros(r_held.shape, bool)
    for layer, head in heads:
        chosen[layer, head] = True
    finite = np.isfinite(r_held).ravel()
    r, is_mh = r_held.ravel()[finite], chosen.ravel()[finite]
    labels = np.array(head_labels(np.ndindex(*r_held.shape)))[finite]
    items = Items.of(labels, r_held_out=r, matching_head=is_mh)
    gap = items.bootstrap(lambda i: float(r[i][is_mh[i]].mean() - r[i][~is_mh[i]].mean()), unit="head",
                          strata=is_mh, seed=seed)
    return gap, float(np.nanmean(r_held[chosen])), float(np.nanmean(r_held[~chosen])), items


def saturation_against_uniform(qids, matrix: np.ndarray, null: np.ndarray, seed: int) -> tuple:
    """(saturation ratio of attention by level ``[queries, levels]``, its first increment, the control: the ratio
    of uniform attention ``null`` on the same texts, the items: per query both curves), bootstrapped over
    queries."""
    steps, null_steps = np.diff(matrix, axis=1), np.diff(null, axis=1)
    items = Items.of(qids, attention=matrix, uniform=null)
    value = items.bootstrap(lambda i: saturation_ratio(steps[i]), unit="query", seed=seed)
    first = items.bootstrap(lambda i: float(steps[i, 0].mean()), unit="query", seed=seed)
    beyond = items.bootstrap(lambda i: saturation_ratio(steps[i]) - saturation_ratio(null_steps[i]), unit="query",
                             seed=seed)
    return value, first, Control("uniform attention", saturation_ratio(null_steps), beyond), items


def term_preference(per_head: np.ndarray, every: list, heads, control_sets, seed: int):
    """Percentile rank of the heads' first increment of attention to the repeated term (k=0→1) among control
    head sets of the same size and layers; ``per_head`` ``[queries, levels, len(every)]``."""
    first = per_head[:, 1, :] - per_head[:, 0, :]
    own = first[:, [every.index(h) for h in heads]].mean(1)
    theirs = np.stack([first[:, [every.index(h) for h in s]].mean(1) for s in control_sets], axis=1)
    return percentile_rank(own, theirs, range(len(first)), unit="query", seed=seed)


def preference_unmet(preference, least: float) -> str | None:
    """Why saturation says nothing of matching: heads that do not prefer the term more than other heads do."""
    if preference.value >= least:
        return None
    return (f"the matching heads' attention to the repeated term rises no more than that of other heads of their "
            f"layers (percentile {preference.value:.3g} < {least}): any head that happens to prefer a "
            "token saturates on it by softmax arithmetic, so the plateau is not evidence of matching")


def head_set_percentile(ids, own: np.ndarray, controls: np.ndarray, qids, heads, control_sets, seed: int,
                        **details):
    """The percentile rank of the matching heads' per-item effect among their control sets' (items ``ids``, grouped
    by query), with details and the items."""
    items = Items.of(ids, qids, matching_heads=own, control_set=controls)
    return percentile_rank(own, controls, items.units, unit="query", seed=seed), items, {
        "matching_heads": head_labels(heads), "matching_heads_effect": float(own.mean()),
        "control_sets": len(control_sets), "control_effect_mean": float(controls.mean()),
        "control_effect_p95": float(np.percentile(controls.mean(0), 95)),
        "first_control_sets": [head_labels(s) for s in control_sets[:5]], **details}


def gain_lost(model, pairs, head_sets) -> tuple[np.ndarray, np.ndarray]:
    """(per pair the intact gain, perturbed − baseline score; ``[pairs, sets]`` the gain lost when each head set is
    mean-ablated, the mean taken over the baselines' real tokens) of aligned pairs."""
    from circuits.ablation import ablate_heads, head_means

    means = head_means(model, pairs.baseline, sorted(set().union(*head_sets)))

    def gain(head_set) -> np.ndarray:
        scores = [ablate_heads(model, batch, head_set, mode="mean", means=means).double().cpu().numpy()
                  for batch in (pairs.perturbed, pairs.baseline)]
        return scores[0] - scores[1]

    intact = gain([])
    return intact, np.array([intact - gain(s) for s in head_sets]).T
