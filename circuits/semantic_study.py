"""The SemanticBM study (paper §5, App. G) on one model: circuit features, out-of-fold fits, and what they beat.

For one group of pairs whose queries share a token length, :func:`evaluate_group` predicts the cross-encoder's
scores out of fold (grouped K-fold by query) with SemanticBM in the paper's tied form and in the relaxed form,
with tuned BM25, with random features (Table 2's null), and with the *control circuit*: SemanticBM fitted on
head sets drawn like the matching heads (same size, same layers) and a random embedding direction in place of
U0. SemanticBM is about those heads and that direction only if it predicts better than the control circuit; a
small model whose every head tracks its own score fits just as well from any of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from circuits.bm25 import BM25, analyze
from circuits.controls import matched_head_sets, random_directions
from circuits.matching import attention_patterns, matching_scores
from circuits.model import HookedCrossEncoder
from circuits.ranking import mean_ndcg
from circuits.semantic_bm import RidgeFit, TiedFit, cross_fitted, features, fold_pearson, fold_spearman, pearson

Head = tuple[int, int]
K1_GRID = (0.5, 0.9, 1.2, 1.5, 2.0)
B_GRID = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
PREDICTORS = ("semantic_bm", "semantic_bm_relaxed", "bm25", "random", "control_circuit")


@dataclass(frozen=True)
class Source:
    """One corpus of the study: its label, the BM25 statistics of its collection, its judgements."""

    label: str
    bm25: BM25
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Circuit:
    """What SemanticBM reads: matching heads and a per-token direction value (−U0, or a control's)."""

    heads: list[Head]
    direction: np.ndarray  # [vocab]


def direction_values(model: HookedCrossEncoder, direction: np.ndarray) -> np.ndarray:
    """Per vocabulary token, its embedding's projection on ``direction``, scaled to unit norm over the vocabulary
    (as U0, a column of U, is)."""
    weight = model.base.get_input_embeddings().weight.detach().to("cpu", torch.float64).numpy()
    values = weight @ (np.asarray(direction, float) / np.linalg.norm(direction))
    return values / np.linalg.norm(values)


def control_circuits(model: HookedCrossEncoder, heads: Sequence[Head], v0: np.ndarray, n: int, seed: int
                     ) -> list[Circuit]:
    """``n`` circuits drawn like ``heads`` (same size and layers, other heads) with a random embedding direction
    orthogonal to ``v0`` in place of U0: what SemanticBM's features must beat (semantic_bm.fit's control)."""
    head_sets = matched_head_sets(heads, model.cfg.n_heads, n, seed)
    directions = random_directions(len(v0), n, seed, orthogonal_to=v0)
    return [Circuit(s, direction_values(model, d)) for s, d in zip(head_sets, directions)]


def circuit_features(model: HookedCrossEncoder, pairs: Sequence, circuits: Sequence[Circuit], batch_size: int = 32
                     ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Per circuit (direction values ``[n, L]``, matching scores ``[n, K, L]``), and the cross-encoder scores
    ``[n]``, for pairs whose queries all have the same token length L (one forward pass for every circuit; the
    pairs run shortest document first, the rows come back in the pairs' order)."""
    layers = sorted({layer for c in circuits for layer, _ in c.heads})
    us: list[list[np.ndarray]] = [[] for _ in circuits]
    xs: list[list[np.ndarray]] = [[] for _ in circuits]
    ys = []
    order = np.argsort([len(p.document) for p in pairs], kind="stable")  # shortest first: less padding
    for start in range(0, len(pairs), batch_size):
        chunk = [pairs[i] for i in order[start:start + batch_size]]
        batch, seg, scores, cache = attention_patterns(model, [p.query for p in chunk], [p.document for p in chunk],
                                                       layers)
        n_query = int(seg.query[0].sum())
        if not (seg.query.sum(-1) == n_query).all():
            raise ValueError("a length group mixes query lengths")
        positions = seg.query[0].nonzero().flatten()
        maps = {layer: matching_scores(cache["pattern", layer], seg)[:, :, positions] for layer in layers}
        ids = batch.input_ids[:, positions].cpu().numpy()
        for n, circuit in enumerate(circuits):
            ms = torch.stack([maps[layer][:, head] for layer, head in circuit.heads], dim=1)  # [b, K, L]
            us[n].append(circuit.direction[ids])
            xs[n].append(ms.cpu().double().numpy())
        ys.append(scores.cpu().double().numpy())
    back = np.argsort(order)  # rows in the pairs' order again
    return [(np.concatenate(u)[back], np.concatenate(x)[back]) for u, x in zip(us, xs)], np.concatenate(ys)[back]


def bm25_scores(analyzed: list[tuple[list[str], list[str]]], collections: list[BM25], k1: float, b: float
                ) -> np.ndarray:
    """BM25 of each analysed (query, document), with the statistics of the pair's own collection."""
    scorers = {id(c): c.with_params(k1, b) for c in collections}
    return np.array([scorers[id(c)].score(query, doc) for (query, doc), c in zip(analyzed, collections)])


def evaluate_group(model: HookedCrossEncoder, pairs: Sequence, circuit: Circuit, controls: Sequence[Circuit],
                   source_of: Callable[[object], Source], seed: int, folds: int = 5) -> tuple[dict, dict]:
    """Out-of-fold Pearson/Spearman (each the mean over test folds, :func:`circuits.semantic_bm.fold_pearson`) and
    nDCG@10 of every predictor for one group, and the out-of-fold predictions with their fold ids (for the query
    bootstrap). ``control_circuit`` is the mean prediction of the ``controls``' tied fits."""
    circuit_inputs, y = circuit_features(model, pairs, [circuit, *controls])
    qids = [p.query_id for p in pairs]
    groups = np.array(qids)

    def ridge(design: np.ndarray):
        return lambda train, test: RidgeFit.fit_cv(design[train], y[train], groups[train], seed).predict(design[test])

    def tied(u: np.ndarray, ms: np.ndarray):
        return lambda train, test: TiedFit.fit(u[train], ms[train], y[train], groups[train], seed).predict(
            u[test], ms[test])

    u, ms = circuit_inputs[0]
    x = features(u, ms)
    semantic, fold = cross_fitted(tied(u, ms), qids, folds, seed)
    relaxed, _ = cross_fitted(ridge(x), qids, folds, seed)
    control = np.mean([cross_fitted(tied(cu, cms), qids, folds, seed)[0] for cu, cms in circuit_inputs[1:]], axis=0)
    analyzed = [(analyze(p.query), analyze(p.document)) for p in pairs]
    grid = [(k1, b) for k1 in K1_GRID for b in B_GRID]
    collections = [source_of(p).bm25 for p in pairs]
    grid_scores = np.array([bm25_scores(analyzed, collections, k1, b) for k1, b in grid])
    chosen: list[tuple[float, float]] = []

    def bm25(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        best = max(range(len(grid)), key=lambda c: np.nan_to_num(pearson(grid_scores[c, train], y[train]), nan=-1))
        chosen.append(grid[best])
        return grid_scores[best, test]

    lexical, _ = cross_fitted(bm25, qids, folds, seed)
    random_pred, _ = cross_fitted(ridge(np.random.default_rng(seed).normal(size=x.shape)), qids, folds, seed)
    row = {"pairs": len(pairs), "queries": len(set(qids)), "regressors": x.shape[1],
           "folds": min(folds, len(set(qids))), "control_circuits": len(controls), "bm25_k1_b_per_fold": chosen}
    predictions = dict(zip(PREDICTORS, (semantic, relaxed, lexical, random_pred, control)))
    for name, pred in predictions.items():
        row[f"pearson_{name}"] = fold_pearson(pred, y, fold)
        row[f"spearman_{name}"] = fold_spearman(pred, y, fold)
    pair_of = {p.query_id: p for p in pairs}
    for name, pred in (("cross_encoder", y), *predictions.items()):
        run: dict[str, dict[str, float]] = defaultdict(dict)
        for pair, value in zip(pairs, pred):
            run[pair.query_id][pair.doc_id] = float(value)
        judged = {q: source_of(pair_of[q]).qrels.get(q, {}) for q in run}
        row[f"ndcg10_{name}"] = mean_ndcg(run, judged) if any(judged.values()) else float("nan")
    return row, {"y": y, "query_ids": qids, "pair_ids": [f"{p.query_id}/{p.doc_id}" for p in pairs], "fold": fold,
                 **predictions}


def by_dataset(evaluated: dict, label_of: dict[str, str]) -> list[dict]:
    """Per corpus: the median, over the query-length groups holding at least 10 of its pairs, of the out-of-fold
    Pearson r (mean over test folds) of each predictor on that corpus's pairs (the paper's per-dataset view of
    App. G)."""
    rows = []
    for label in dict.fromkeys(label_of.values()):
        per_group: dict[str, list[float]] = defaultdict(list)
        for _, pred in evaluated.values():
            mine = np.array([label_of[q] == label for q in pred["query_ids"]])
            if mine.sum() < 10:
                continue
            for name in PREDICTORS:
                if name in pred:
                    per_group[name].append(fold_pearson(pred[name][mine], pred["y"][mine], pred["fold"][mine]))
        rows.append({"dataset": label, "groups": len(per_group.get("bm25", [])),
                     **{f"median_pearson_{name}": float(np.nanmedian(v)) for name, v in per_group.items()}})
    return rows
