"""Behavioural axioms as measures (paper §2.1, Table 1): per-pair gains, compliance, and score-by-level curves.

A *scorer* is anything with ``score_pairs(queries, documents) -> tensor`` (a hooked cross-encoder, or lexical
BM25 in the unit tests: the planted model that satisfies TFC1, TFC2 and LNC1 by construction). Pairs are the
diagnostic datasets' (``query``, unpadded baseline ``document``, ``perturbed``; chained pairs carry
``level_baseline``/``level_perturbed``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np


class Scorer(Protocol):
    def score_pairs(self, queries: list[str], documents: list[str]) -> Any: ...


def scores(model: Scorer, queries: Iterable[str], documents: Iterable[str]) -> np.ndarray:
    """Scores as float64, one per (query, document)."""
    return np.asarray(model.score_pairs(list(queries), list(documents)), dtype=np.float64)


def gains(model: Scorer, pairs: Sequence) -> np.ndarray:
    """score(perturbed) − score(unpadded baseline) per pair."""
    queries = [p.query for p in pairs]
    return scores(model, queries, [p.perturbed for p in pairs]) - scores(model, queries, [p.document for p in pairs])


def compliance(gains: np.ndarray, pairs: Sequence) -> tuple[np.ndarray, dict]:
    """Per pair 1.0 when the perturbation raised the score, and a summary (per stratum, effect sizes)."""
    ok = (np.asarray(gains) > 0).astype(float)
    strata: dict[str, list[float]] = defaultdict(list)
    for pair, passed in zip(pairs, ok):
        strata[pair.stratum].append(passed)
    return ok, {"pairs": len(pairs), "queries": len({p.query_id for p in pairs}),
                "per_stratum": {k: float(np.mean(v)) for k, v in sorted(strata.items())},
                "median_abs_delta": float(np.median(np.abs(gains))) if len(gains) else float("nan"),
                "share_delta_above_1": float(np.mean(np.asarray(gains) > 1)) if len(gains) else float("nan")}


def levels(pairs: Iterable) -> dict[str, dict[int, tuple[str, str, str]]]:
    """Texts per level per query from chained k→k+1 pairs: ``{query_id: {level: (query, document, term)}}``.
    A level's text is the one the pair *reaching* it perturbed into (the unpadded baseline only for level 0)."""
    out: dict[str, dict[int, tuple[str, str, str]]] = defaultdict(dict)
    for p in pairs:
        out[p.query_id].setdefault(p.level_baseline, (p.query, p.document, p.term))
        out[p.query_id][p.level_perturbed] = (p.query, p.perturbed, p.term)
    return dict(out)


def level_curves(model: Scorer, pairs: Sequence) -> tuple[list[str], np.ndarray]:
    """(query ids, scores ``[queries, levels]``) of chained pairs, each text scored once. Every query must
    reach the same levels."""
    by_query = levels(pairs)
    qids = sorted(by_query)
    widths = {len(by_query[q]) for q in qids}
    if len(widths) > 1:
        raise ValueError(f"queries reach different numbers of levels ({sorted(widths)}): the curves do not align")
    flat = [by_query[q][k] for q in qids for k in sorted(by_query[q])]
    values = scores(model, [q for q, _, _ in flat], [d for _, d, _ in flat])
    return qids, values.reshape(len(qids), -1)


def lower_at_end(matrix: np.ndarray) -> np.ndarray:
    """Per query (row of a level curve), 1.0 when the last level scores below the first (LNC1)."""
    return (matrix[:, -1] < matrix[:, 0]).astype(float)
