"""Relevance scoring heads (§4.1) and query-contextualisation heads (§4.2), found by role.

Every value carries a bootstrap interval over queries: the patching maps are recomputed from the resampled
queries' pairs (and the scoring heads re-selected in each replicate), the attention correlations from the
resampled queries' tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS, NotComputable
from axiomtests.suite.conftest import heads_above_cut, kept_pairs
from circuits.matching import idf_correlations, received_attention
from circuits.stats import group_bootstrap, ratio_of_means


def names(heads) -> list[str]:
    return [f"{layer}.{head}" for layer, head in heads]


def carried_share(effect: np.ndarray) -> float:
    """Share of the total positive head→logit effect carried by the heads above the cut (NaN without one)."""
    effect = np.nan_to_num(effect)
    positive = effect[effect > 0].sum()
    heads = heads_above_cut(effect)
    return float(sum(effect[h] for h in heads) / positive) if positive > 0 and heads else float("nan")


def map_correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or a[keep].std() == 0 or b[keep].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


@pytest.mark.claim("rsh.path_to_logit")
def test_few_heads_carry_the_signal_to_the_logit(path_to_logit, scoring_heads, axiom_session, check_claim):
    result = path_to_logit["TFC1"]
    patched, base, pert, qids = kept_pairs(result)
    share = group_bootstrap(lambda i: carried_share(ratio_of_means(patched[i], base[i], pert[i])), qids,
                            unit="query", seed=axiom_session.seed)
    check_claim(CLAIMS["rsh.path_to_logit"].result(
        share, scoring_heads=names(scoring_heads), layers=sorted({l for l, _ in scoring_heads}),
        share_of_heads=len(scoring_heads) / result.effect.size, pairs=result.n_pairs, dropped=result.n_dropped,
        top=[{"head": label, "effect": e} for label, e in result.top(8)]))


@pytest.mark.claim("rsh.tfc1_vs_stmc1")
def test_exact_and_semantic_matches_use_the_same_heads(path_to_logit, axiom_session, check_claim):
    (p1, b1, q1, g1), (p2, b2, q2, g2) = (kept_pairs(path_to_logit[k]) for k in ("TFC1", "STMC1"))
    patched, base, pert = np.concatenate([p1, p2]), np.concatenate([b1, b2]), np.concatenate([q1, q2])
    tfc1 = np.arange(len(patched)) < len(p1)

    def r(i: np.ndarray) -> float:
        a, b = i[tfc1[i]], i[~tfc1[i]]
        if not len(a) or not len(b):
            return float("nan")
        return map_correlation(ratio_of_means(patched[a], base[a], pert[a]), ratio_of_means(patched[b], base[b], pert[b]))

    value = group_bootstrap(r, np.concatenate([g1, g2]), unit="query", seed=axiom_session.seed)
    check_claim(CLAIMS["rsh.tfc1_vs_stmc1"].result(
        value, stmc1_pairs=path_to_logit["STMC1"].n_pairs, stmc1_dropped=path_to_logit["STMC1"].n_dropped,
        stmc1_top=[{"head": label, "effect": e} for label, e in path_to_logit["STMC1"].top(8)]))


def idf_attention(model, pairs, heads, idf: np.ndarray, source_rows: str, seed: int, combine):
    """``combine`` (over heads) of the per-head attention–IDF r, with a bootstrap over the pairs' queries;
    and the per-head r."""
    values, ids, pair = received_attention(model, [p.query for p in pairs], [p.document for p in pairs], heads,
                                           source_rows)
    token_idf = idf[ids]
    qids = [pairs[i].query_id for i in pair]
    per_head = {label: float(r) for label, r in zip(names(heads), idf_correlations(values, token_idf))}
    value = group_bootstrap(lambda i: float(combine(idf_correlations(values[:, i], token_idf[i]))), qids,
                            unit="query", seed=seed)
    return value, per_head


@pytest.mark.claim("rsh.attention_idf")
def test_scoring_heads_weight_query_tokens_by_idf(hooked_model, patching_sets, scoring_heads, vocab_idf,
                                                 axiom_session, check_claim):
    if not scoring_heads:
        raise NotComputable("no scoring head found: the TFC1 head→logit effects are all ≤ 0")
    pairs, _ = patching_sets["TFC1"]
    value, per_head = idf_attention(hooked_model, pairs, scoring_heads, vocab_idf[0], "cls", axiom_session.seed,
                                    lambda r: np.nanmean(np.abs(r)))
    check_claim(CLAIMS["rsh.attention_idf"].result(value, per_head=per_head))


@pytest.mark.claim("qch.idf")
def test_contextualisation_heads_attend_to_high_idf_tokens(hooked_model, patching_sets, scoring_heads,
                                                           matching_heads, vocab_idf, axiom_session,
                                                           axiom_report, check_claim):
    from circuits.patching import path_patch

    receivers = [h for h in scoring_heads if h[0] > 0]
    if not receivers:
        raise NotComputable("no scoring head above layer 0: no head can send to them")
    pairs, aligned_pairs = patching_sets["TFC1"]
    result = path_patch(hooked_model, aligned_pairs, receivers=receivers, receiver_input="v",
                        seed=axiom_session.seed)
    effect = np.nan_to_num(np.asarray(result.effect, float))
    excluded = set(matching_heads[2]) | set(scoring_heads)
    order = [tuple(int(i) for i in np.unravel_index(i, effect.shape)) for i in np.argsort(-effect, axis=None)]
    qch = [h for h in order if h not in excluded and effect[h] > 0][:2]
    if not qch:
        raise NotComputable("no head outside the matching and scoring heads sends a positive effect to the scoring "
                          "heads' values")
    value, per_head = idf_attention(hooked_model, pairs, qch, vocab_idf[0], "query", axiom_session.seed, np.mean)
    axiom_report.sections["path patching into the scoring heads' values (TFC1)"] = {
        "receivers": names(receivers), "top": [{"head": label, "effect": e} for label, e in result.top(8)]}
    check_claim(CLAIMS["qch.idf"].result(value, contextualisation_heads=names(qch), per_head=per_head))
