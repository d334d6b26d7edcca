"""Relevance scoring heads (§4.1) and query-contextualisation heads (§4.2), found by role."""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS
from circuits.matching import query_token_attention


def names(heads) -> list[str]:
    return [f"{layer}.{head}" for layer, head in heads]


@pytest.mark.claim("rsh.path_to_logit")
def test_few_heads_carry_the_signal_to_the_logit(path_to_logit, scoring_heads, check_claim):
    result = path_to_logit["TFC1"]
    effect = np.nan_to_num(result.effect)
    positive = effect[effect > 0].sum()
    carried = sum(effect[l, h] for l, h in scoring_heads)
    value = float(carried / positive) if positive > 0 else float("nan")
    check_claim(CLAIMS["rsh.path_to_logit"].result(
        value, scoring_heads=names(scoring_heads), layers=sorted({l for l, _ in scoring_heads}),
        share_of_heads=len(scoring_heads) / effect.size, pairs=result.n_pairs, dropped=result.n_dropped,
        top=[{"head": label, "effect": e} for label, e in result.top(8)]))


@pytest.mark.claim("rsh.tfc1_vs_stmc1")
def test_exact_and_semantic_matches_use_the_same_heads(path_to_logit, check_claim):
    a, b = (np.asarray(path_to_logit[k].effect, float).ravel() for k in ("TFC1", "STMC1"))
    keep = np.isfinite(a) & np.isfinite(b)
    r = float(np.corrcoef(a[keep], b[keep])[0, 1]) if keep.sum() > 2 else float("nan")
    check_claim(CLAIMS["rsh.tfc1_vs_stmc1"].result(
        r, stmc1_pairs=path_to_logit["STMC1"].n_pairs, stmc1_dropped=path_to_logit["STMC1"].n_dropped,
        stmc1_top=[{"head": label, "effect": e} for label, e in path_to_logit["STMC1"].top(8)]))


@pytest.mark.claim("rsh.attention_idf")
def test_scoring_heads_weight_query_tokens_by_idf(hooked_model, patching_sets, scoring_heads, vocab_idf,
                                                 check_claim):
    if not scoring_heads:
        pytest.fail("no scoring head found: the TFC1 head→logit effects are all ≤ 0")
    pairs, _ = patching_sets["TFC1"]
    per_head = query_token_attention(hooked_model, [p.query for p in pairs], [p.document for p in pairs],
                                     scoring_heads, vocab_idf[0], "cls")
    value = float(np.nanmean(np.abs(list(per_head.values()))))
    check_claim(CLAIMS["rsh.attention_idf"].result(value, per_head=per_head))


@pytest.mark.claim("qch.idf")
def test_contextualisation_heads_attend_to_high_idf_tokens(hooked_model, patching_sets, scoring_heads,
                                                           matching_heads, vocab_idf, axiom_session,
                                                           axiom_report, check_claim):
    from circuits.patching import path_patch

    receivers = [h for h in scoring_heads if h[0] > 0]
    if not receivers:
        pytest.fail("the scoring heads sit in layer 0: no head can send to them")
    pairs, aligned_pairs = patching_sets["TFC1"]
    result = path_patch(hooked_model, aligned_pairs, receivers=receivers, receiver_input="v",
                        seed=axiom_session.seed)
    effect = np.nan_to_num(np.asarray(result.effect, float))
    excluded = set(matching_heads[2]) | set(scoring_heads)
    order = [tuple(int(i) for i in np.unravel_index(i, effect.shape)) for i in np.argsort(-effect, axis=None)]
    qch = [h for h in order if h not in excluded and effect[h] > 0][:2]
    if not qch:
        pytest.fail("no head outside the matching and scoring heads sends a positive effect to the scoring "
                    "heads' values")
    per_head = query_token_attention(hooked_model, [p.query for p in pairs], [p.document for p in pairs], qch,
                                     vocab_idf[0], "query")
    axiom_report.sections["path patching into the scoring heads' values (TFC1)"] = {
        "receivers": names(receivers), "top": [{"head": label, "effect": e} for label, e in result.top(8)]}
    check_claim(CLAIMS["qch.idf"].result(max(per_head.values()), contextualisation_heads=names(qch),
                                         per_head=per_head))
