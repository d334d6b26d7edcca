"""Matching heads (paper §4.3, App. E): similarity-driven attention, saturation, length, ablation.

Matching heads are found by role: the heads whose query→document attention correlates best with token
similarity on one half of the queries (as many heads as the paper's 13 of 144); every claim about them is
then measured on the other half or on other datasets, so the selection cannot flatter the result.
"""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS
from circuits.axioms import levels
from circuits.controls import matched_head_sets
from circuits.matching import attention_by_level
from circuits.measures.matching import (gain_lost, head_set_percentile, preference_unmet, saturation_against_uniform,
                                       similarity_gap, term_preference)
from circuits.roles import head_labels, same_layer_heads
from circuits.saturation import saturation_unmet



@pytest.mark.claim("mh.similarity")
def test_matching_heads_attend_by_similarity(matching_heads, axiom_session, check_claim):
    _, r_held, heads = matching_heads
    gap, mh, others, items = similarity_gap(r_held, heads, axiom_session.seed)
    check_claim(CLAIMS["mh.similarity"].result(
        gap, items=items, matching_heads=head_labels(heads), mean_r_matching=mh, mean_r_others=others,
        r_map_held_out=np.round(r_held, 4).tolist()))


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
        value, control=uniform, unmet=saturation_unmet(first, value.value) or preference_unmet(preference, claim.extra["preference_rank"]),
        items=items, queries=len(matrix), first_increment=first.as_dict(),
        term_preference_percentile=preference.as_dict(),
        matching_heads=head_labels(heads)))


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


