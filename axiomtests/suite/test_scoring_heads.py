"""Relevance scoring heads (§4.1) and query-contextualisation heads (§4.2), found by role as the paper finds them:
the scoring heads above the cut on the TFC1 and the STMC1 head→logit maps, the contextualisation heads the top
senders into the scoring heads' values on both datasets.

Every value carries a bootstrap interval over queries: the patching maps are recomputed from the resampled
queries' pairs (and the scoring heads re-selected in each replicate), the attention correlations from the
resampled queries' tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS, NotComputable
from circuits.measures.scoring import (agreement_beyond_random, contextualisation_heads, idf_attention, kept_with_random,
                                      late_concentration)
from circuits.roles import head_labels, same_layer_heads


@pytest.mark.claim("rsh.path_to_logit")
def test_few_late_heads_carry_the_signal_to_the_logit(hooked_model, path_to_logit, patching_sets, scoring_heads,
                                                     axiom_session, check_claim):
    late_from = hooked_model.cfg.n_layers // 2
    value, flat, held_out, items = late_concentration(path_to_logit, late_from, axiom_session.seed,
                                                      pair_ids(patching_sets))
    result = path_to_logit["TFC1"]
    check_claim(CLAIMS["rsh.path_to_logit"].result(
        value, control=flat, items=items, held_out=held_out, late_layers_from=late_from,
        scoring_heads=head_labels(scoring_heads), layers=sorted({l for l, _ in scoring_heads}),
        share_of_heads=len(scoring_heads) / result.effect.size, pairs=result.n_pairs, dropped=result.n_dropped,
        top=[{"head": label, "effect": e} for label, e in result.top(8)]))


def pair_ids(patching_sets: dict) -> dict[str, list[str]]:
    """The dataset ids of each patching set's pairs, in the order they were patched."""
    return {axiom: [p.id for p in pairs] for axiom, (pairs, _) in patching_sets.items()}


@pytest.mark.claim("rsh.tfc1_vs_stmc1")
def test_exact_and_semantic_matches_use_the_same_heads(path_to_logit, patching_sets, axiom_session, check_claim):
    random = path_to_logit.get("RANDOM")
    value, control, items = agreement_beyond_random(kept_with_random(path_to_logit, pair_ids(patching_sets)),
                                                    axiom_session.seed)
    check_claim(CLAIMS["rsh.tfc1_vs_stmc1"].result(
        value, control=control, items=items, stmc1_pairs=path_to_logit["STMC1"].n_pairs,
        stmc1_dropped=path_to_logit["STMC1"].n_dropped, random_word_pairs=random.n_pairs if random else 0,
        random_word_dropped=random.n_dropped if random else None,
        stmc1_top=[{"head": label, "effect": e} for label, e in path_to_logit["STMC1"].top(8)]))


@pytest.mark.claim("rsh.attention_idf")
def test_scoring_heads_weight_query_tokens_by_idf(hooked_model, patching_sets, scoring_heads, vocab_idf,
                                                 axiom_session, check_claim):
    if not scoring_heads:
        raise NotComputable("no scoring head found: the TFC1 head→logit effects are all ≤ 0")
    pairs, _ = patching_sets["TFC1"]
    others = [h for h in same_layer_heads(scoring_heads, hooked_model.cfg.n_heads) if h not in scoring_heads]
    value, per_head, control, items = idf_attention(hooked_model, pairs, scoring_heads, vocab_idf[0], "cls",
                                                    axiom_session.seed, lambda r: np.nanmean(np.abs(r)), others)
    check_claim(CLAIMS["rsh.attention_idf"].result(value, control=control, items=items, per_head=per_head))


@pytest.mark.claim("rsh.upstream_agreement")
def test_exact_and_semantic_matches_reach_the_scoring_heads_through_the_same_heads(path_to_scoring_values,
                                                                                   patching_sets, axiom_session,
                                                                                   check_claim):
    upstream = upstream_or_raise(path_to_scoring_values)
    value, control, items = agreement_beyond_random(kept_with_random(upstream, pair_ids(patching_sets)),
                                                    axiom_session.seed)
    random = upstream.get("RANDOM")
    check_claim(CLAIMS["rsh.upstream_agreement"].result(
        value, control=control, items=items, receivers=upstream["TFC1"].settings["receivers"],
        stmc1_pairs=upstream["STMC1"].n_pairs, random_word_pairs=random.n_pairs if random else 0,
        top={axiom: [{"head": label, "effect": e} for label, e in result.top(8)]
             for axiom, result in upstream.items()}))


def upstream_or_raise(path_to_scoring_values) -> dict:
    """The upstream maps by axiom; the fixture's NotComputable raised when there are none."""
    if isinstance(path_to_scoring_values, NotComputable):
        raise path_to_scoring_values
    return path_to_scoring_values


@pytest.mark.claim("qch.idf")
def test_contextualisation_heads_attend_to_high_idf_tokens(hooked_model, patching_sets, scoring_heads,
                                                           matching_heads, path_to_scoring_values, vocab_idf,
                                                           axiom_session, report_section, check_claim):
    upstream = upstream_or_raise(path_to_scoring_values)
    qch = contextualisation_heads(upstream, scoring_heads, matching_heads[2])
    pairs, _ = patching_sets["TFC1"]
    value, per_head, _, items = idf_attention(hooked_model, pairs, qch, vocab_idf[0], "query", axiom_session.seed,
                                              np.mean)
    for axiom in ("TFC1", "STMC1"):
        report_section(f"path patching into the scoring heads' values ({axiom})", {
            "receivers": upstream[axiom].settings["receivers"],
            "top": [{"head": label, "effect": e} for label, e in upstream[axiom].top(8)]})
    check_claim(CLAIMS["qch.idf"].result(value, items=items, contextualisation_heads=head_labels(qch),
                                         per_head=per_head))
