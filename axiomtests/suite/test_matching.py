"""Matching heads (paper §4.3, App. E): similarity-driven attention, saturation, length, ablation.

Matching heads are found by role: the heads whose query→document attention correlates best with token
similarity on one half of the queries (as many heads as the paper's 13 of 144); every claim about them is
then measured on the other half or on other datasets, so the selection cannot flatter the result.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from scipy import stats

from axiomtests.claims import CLAIMS
from circuits.matching import attention_to_positions, head_similarity_correlation

PAPER_SHARE = 13 / 144  # matching heads in ms-marco-MiniLM-L-12-v2


def split_queries(pairs, seed: int) -> tuple[list, list]:
    qids = sorted({p.query_id for p in pairs})
    rng = np.random.default_rng(seed)
    half = set(rng.permutation(qids)[: len(qids) // 2].tolist())
    return [p for p in pairs if p.query_id in half], [p for p in pairs if p.query_id not in half]


@pytest.fixture(scope="module")
def similarity(hooked_model, datasets, axiom_session):
    """(r on the selection half, r on the held-out half, the matching heads), TFC1 baselines."""
    pairs = datasets["TFC1"][: 2 * axiom_session.pairs]
    select, held_out = split_queries(pairs, axiom_session.seed)
    r_select = head_similarity_correlation(hooked_model, [p.query for p in select], [p.document for p in select])
    r_held = head_similarity_correlation(hooked_model, [p.query for p in held_out],
                                         [p.document for p in held_out])
    k = max(1, round(PAPER_SHARE * r_select.size))
    order = np.argsort(np.nan_to_num(r_select, nan=-np.inf), axis=None)[::-1][:k]
    heads = sorted((int(i // r_select.shape[1]), int(i % r_select.shape[1])) for i in order)
    return r_select, r_held, heads


def head_names(heads) -> list[str]:
    return [f"{layer}.{head}" for layer, head in heads]


@pytest.mark.claim("mh.similarity")
def test_matching_heads_attend_by_similarity(similarity, check_claim):
    _, r_held, heads = similarity
    chosen = np.zeros(r_held.shape, bool)
    for layer, head in heads:
        chosen[layer, head] = True
    mh, others = float(np.nanmean(r_held[chosen])), float(np.nanmean(r_held[~chosen]))
    check_claim(CLAIMS["mh.similarity"].result(
        mh - others, matching_heads=head_names(heads), mean_r_matching=mh, mean_r_others=others,
        r_map_held_out=np.round(r_held, 4).tolist()))


def levels(pairs):
    """Texts per level (0..K) per query from chained k→k+1 pairs: {query_id: {level: (query, doc, term)}}."""
    out: dict[str, dict[int, tuple[str, str, str]]] = defaultdict(dict)
    for p in pairs:
        out[p.query_id].setdefault(p.level_baseline, (p.query, p.document, p.term))
        out[p.query_id][p.level_perturbed] = (p.query, p.perturbed, p.term)
    return out


def attention_by_level(model, pairs, heads, target: str) -> np.ndarray:
    """``[queries, levels]`` matrix of the heads' query→target attention."""
    by_query = levels(pairs)
    rows = [[by_query[q][k] for k in sorted(by_query[q])] for q in sorted(by_query)]
    flat = [item for row in rows for item in row]
    term_ids = [model.tokenizer.convert_tokens_to_ids(t) if t else -1 for _, _, t in flat]
    values = attention_to_positions(model, [q for q, _, _ in flat], [d for _, d, _ in flat], heads, target,
                                    term_ids)
    return values.reshape(len(rows), -1)


@pytest.mark.claim("mh.saturation")
def test_matching_attention_saturates(hooked_model, datasets, similarity, axiom_report, check_claim):
    _, _, heads = similarity
    pairs = [p for p in datasets["TFC2"] if p.variant == "appended"]
    matrix = attention_by_level(hooked_model, pairs, heads, "term")
    steps = np.diff(matrix, axis=1)
    value = float(steps[:, 1:].mean() / steps[:, 0].mean())
    axiom_report.sections["matching heads: attention to the repeated term (TFC2)"] = {
        f"k={k}": float(matrix[:, k].mean()) for k in range(matrix.shape[1])}
    check_claim(CLAIMS["mh.saturation"].result(value, queries=len(matrix), matching_heads=head_names(heads)))


@pytest.mark.claim("mh.length")
def test_matching_attention_shifts_with_length(hooked_model, datasets, similarity, axiom_report, check_claim):
    _, _, heads = similarity
    matrix = attention_by_level(hooked_model, datasets["LNC1"], heads, "doc")
    means = matrix.mean(0)
    rho = float(stats.spearmanr(np.arange(len(means)), means)[0])
    axiom_report.sections["matching heads: query→document attention (LNC1)"] = {
        f"i={i}": float(m) for i, m in enumerate(means)}
    check_claim(CLAIMS["mh.length"].result(abs(rho), spearman=rho, queries=len(matrix),
                                           matching_heads=head_names(heads)))
