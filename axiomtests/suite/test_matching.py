"""Matching heads (paper §4.3, App. E): similarity-driven attention, saturation, length, ablation.

Matching heads are found by role: the heads whose query→document attention correlates best with token
similarity on one half of the queries (as many heads as the paper's 13 of 144); every claim about them is
then measured on the other half or on other datasets, so the selection cannot flatter the result.
"""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS, Control
from circuits.axioms import levels
from circuits.controls import matched_head_sets, percentile_rank
from circuits.items import Items
from circuits.matching import attention_by_level
from circuits.roles import head_labels, same_layer_heads
from circuits.saturation import saturation_ratio, saturation_unmet


PREFERENCE_RANK = 0.95  # the matching heads must prefer the repeated term more than 95% of control head sets


@pytest.mark.claim("mh.similarity")
def test_matching_heads_attend_by_similarity(matching_heads, axiom_session, check_claim):
    _, r_held, heads = matching_heads
    gap, mh, others, items = similarity_gap(r_held, heads, axiom_session.seed)
    check_claim(CLAIMS["mh.similarity"].result(
        gap, items=items, matching_heads=head_labels(heads), mean_r_matching=mh, mean_r_others=others,
        r_map_held_out=np.round(r_held, 4).tolist()))


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


@pytest.mark.claim("mh.saturation")
def test_matching_attention_saturates(hooked_model, datasets, matching_heads, report_section, axiom_session,
                                      plot_curve, check_claim):
    claim = CLAIMS["mh.saturation"]
    heads = matching_heads[2]
    pairs = [p for p in datasets["TFC2"] if p.variant == "appended"]
    every = same_layer_heads(heads, hooked_model.cfg.n_heads)
    per_head = attention_by_level(hooked_model, pairs, every, "term", per_head=True)  # [queries, levels, heads]
    matrix = per_head[:, :, [every.index(h) for h in heads]].mean(-1)
    null = attention_by_level(hooked_model, pairs, heads, "term", uniform=True)
    value, first, uniform, items = saturation_against_uniform(sorted({p.query_id for p in pairs}), matrix, null,
                                                              axiom_session.seed)
    controls = matched_head_sets(heads, hooked_model.cfg.n_heads, claim.extra["control_sets"], axiom_session.seed)
    preference = term_preference(per_head, every, heads, controls, axiom_session.seed)
    report_section("matching heads: attention to the repeated term (TFC2)", {
        f"k={k}": float(matrix[:, k].mean()) for k in range(matrix.shape[1])})
    plot_curve("mh_saturation", range(matrix.shape[1]), {"matching heads": matrix},
               title="Matching heads: query→term attention by occurrences (TFC2)", xlabel="occurrences k",
               ylabel="attention to the term")
    check_claim(claim.result(
        value, control=uniform, unmet=saturation_unmet(first, value.value) or preference_unmet(preference),
        items=items, queries=len(matrix), first_increment=first.as_dict(),
        term_preference_percentile=preference.as_dict(),
        matching_heads=head_labels(heads)))


def term_preference(per_head: np.ndarray, every: list, heads, control_sets, seed: int):
    """Percentile rank of the heads' first increment of attention to the repeated term (k=0→1) among control
    head sets of the same size and layers; ``per_head`` ``[queries, levels, len(every)]``."""
    first = per_head[:, 1, :] - per_head[:, 0, :]
    own = first[:, [every.index(h) for h in heads]].mean(1)
    theirs = np.stack([first[:, [every.index(h) for h in s]].mean(1) for s in control_sets], axis=1)
    return percentile_rank(own, theirs, range(len(first)), unit="query", seed=seed)


def preference_unmet(preference) -> str | None:
    """Why saturation says nothing of matching: heads that do not prefer the term more than other heads do."""
    if preference.value >= PREFERENCE_RANK:
        return None
    return (f"the matching heads' attention to the repeated term rises no more than that of other heads of their "
            f"layers (percentile {preference.value:.3g} < {PREFERENCE_RANK}): any head that happens to prefer a "
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


@pytest.mark.claim("mh.length")
def test_matching_heads_carry_the_length_signal(hooked_model, datasets, matching_heads, report_section, axiom_session,
                                                plot_curve, check_claim):
    from circuits.ablation import patch_query_outputs

    claim = CLAIMS["mh.length"]
    heads = matching_heads[2]
    by_query = levels(datasets["LNC1"])
    qids = sorted(by_query)
    top = {q: max(by_query[q]) for q in qids}
    queries = [by_query[q][0][0] for q in qids]
    short = hooked_model.tokenize(queries, [by_query[q][0][1] for q in qids])
    long = hooked_model.tokenize(queries, [by_query[q][top[q]][1] for q in qids])
    controls = matched_head_sets(heads, hooked_model.cfg.n_heads, claim.extra["control_sets"], axiom_session.seed)
    s_short, s_long = (hooked_model.scores_cls_last(b).double().cpu().numpy() for b in (short, long))
    patched = patch_query_outputs(hooked_model, short, long, [heads, *controls])
    drop = s_short[:, None] - patched  # [queries, 1 + sets]: the score lost to the longer document's outputs
    value, items, details = head_set_percentile(qids, drop[:, 0], drop[:, 1:], qids, heads, controls,
                                                axiom_session.seed)
    matrix = attention_by_level(hooked_model, datasets["LNC1"], heads, "doc")
    report_section("matching heads: query→document attention (LNC1)", {
        f"i={i}": float(m) for i, m in enumerate(matrix.mean(0))})
    plot_curve("mh_length", range(matrix.shape[1]), {"matching heads": matrix},
               title="Matching heads: query→document attention by length (LNC1)", xlabel="sentences appended",
               ylabel="attention to the document")
    check_claim(claim.result(value, items=items, queries=len(qids), sentences_appended=max(top.values()),
                             lnc1_score_drop=float((s_short - s_long).mean()), **details))


@pytest.mark.claim("mh.ablation")
def test_ablating_matching_heads_removes_the_tfc1_gain(hooked_model, patching_sets, matching_heads, axiom_session,
                                                      check_claim):
    claim = CLAIMS["mh.ablation"]
    heads = matching_heads[2]
    controls = matched_head_sets(heads, hooked_model.cfg.n_heads, claim.extra["control_sets"], axiom_session.seed)
    chosen, pairs = patching_sets["TFC1"]
    intact, lost = gain_lost(hooked_model, pairs, [heads, *controls])
    value, items, details = head_set_percentile([p.id for p in chosen], lost[:, 0], lost[:, 1:], pairs.query_ids,
                                                heads, controls, axiom_session.seed, tfc1_gain=float(intact.mean()))
    check_claim(claim.result(
        value, items=items, reference="mean z over the real tokens of the padded TFC1 baselines (one vector per head)",
        **details))


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
