"""Ranking metrics: nDCG@k as trec_eval computes it (linear gain, log2 discount, ideal from the qrels)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Ranking = Sequence[str] | Mapping[str, float]


def ranked_ids(ranking: Ranking) -> list[str]:
    """Doc ids best first; a score mapping is sorted by score, ties by doc id descending (trec_eval)."""
    if isinstance(ranking, Mapping):
        by_id = sorted(ranking, reverse=True)
        return sorted(by_id, key=lambda d: ranking[d], reverse=True)
    return list(ranking)


def ndcg_at_k(ranking: Ranking, qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one query: ``ranking`` is doc ids best first or ``{doc_id: score}``; ``qrels`` maps doc
    ids to graded relevance (missing = 0). Returns NaN when the query has no relevant document."""
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    gains = [max(qrels.get(d, 0), 0) for d in ranked_ids(ranking)[:k]]
    ideal = sorted((max(r, 0) for r in qrels.values()), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg == 0:
        return math.nan
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains)) / idcg


def ndcg_per_query(run: Mapping[str, Ranking], qrels: Mapping[str, Mapping[str, int]],
                   k: int = 10) -> dict[str, float]:
    """nDCG@k of each query of ``run`` that has at least one relevant document in ``qrels``."""
    scores = {q: ndcg_at_k(ranking, qrels.get(q, {}), k) for q, ranking in run.items()}
    return {q: s for q, s in scores.items() if not math.isnan(s)}


def mean_ndcg(run: Mapping[str, Ranking], qrels: Mapping[str, Mapping[str, int]], k: int = 10) -> float:
    """Mean nDCG@k over the judged queries of ``run`` (as trec_eval averages, without ``-c``)."""
    per_query = ndcg_per_query(run, qrels, k)
    if not per_query:
        raise ValueError("no query of the run has a relevant document in the qrels")
    return sum(per_query.values()) / len(per_query)
