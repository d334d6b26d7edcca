"""Measures of SemanticBM (§5, App. G) against BM25 and the control circuits, from ``evaluate_group`` rows and
out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from circuits.controls import Control
from circuits.items import Items
from circuits.semantic_bm import fold_pearson
from circuits.semantic_study import PREDICTORS


def fit_beyond_bm25(row: dict, pred: dict, seed: int) -> tuple:
    """(out-of-fold r (the mean over test folds) of SemanticBM minus BM25's, bootstrapped over queries; the
    control: the control circuits' r minus BM25's; the items: per pair the cross-encoder's score, each model's
    out-of-fold prediction and its fold) of one group evaluated by ``circuits.semantic_study.evaluate_group``."""
    y, semantic, lexical, control = pred["y"], pred["semantic_bm"], pred["bm25"], pred["control_circuit"]
    fold = pred["fold"]
    items = Items.of(pred["pair_ids"], pred["query_ids"], cross_encoder=y, semantic_bm=semantic, bm25=lexical,
                     control_circuit=control, fold=fold)

    def r(p: np.ndarray, i: np.ndarray) -> float:
        return fold_pearson(p[i], y[i], fold[i])

    gain = items.bootstrap(lambda i: r(semantic, i) - r(lexical, i), unit="query", seed=seed)
    beyond = items.bootstrap(lambda i: r(semantic, i) - r(control, i), unit="query", seed=seed)
    return gain, Control(f"{row['control_circuits']} control circuits (head sets like the matching heads, random "
                         "directions ⟂ v0)", row["pearson_control_circuit"] - row["pearson_bm25"], beyond), items


def generalization_beyond_bm25(rows: list[dict], seed: int, lengths: list | None = None,
                               random_r_max: float = 0.1) -> tuple:
    """(the median over query-length groups of SemanticBM's out-of-fold r minus BM25's, bootstrapped over groups;
    the control: the control circuits' median gain; why the claim is unmet when random features predict, else
    None; Table 2: median, mean and sd of every predictor's r and nDCG@10; the items: per group, named by its
    query length ``lengths``, both gains) of ``evaluate_group`` rows."""
    def summary(key: str) -> dict:
        values = np.array([row[key] for row in rows], dtype=float)
        return {"median": float(np.nanmedian(values)), "mean": float(np.nanmean(values)),
                "sd": float(np.nanstd(values))}

    keys = [f"{m}_{n}" for m in ("pearson", "spearman") for n in PREDICTORS]
    keys += [f"ndcg10_{n}" for n in ("cross_encoder", *PREDICTORS)]
    table = {key: summary(key) for key in keys}
    gain, control_gain = (np.array([row[f"pearson_{name}"] - row["pearson_bm25"] for row in rows], dtype=float)
                          for name in ("semantic_bm", "control_circuit"))
    items = Items.of([f"{k} query tokens" for k in (lengths or range(len(gain)))], gain_over_bm25=gain,
                     control_gain_over_bm25=control_gain)
    median = items.bootstrap(lambda i: float(np.nanmedian(gain[i])), unit="query-length group", seed=seed)
    beyond = items.bootstrap(lambda i: float(np.nanmedian(gain[i]) - np.nanmedian(control_gain[i])),
                             unit="query-length group", seed=seed)
    circuits = Control("the control circuits' median gain (semantic_bm.fit)", float(np.nanmedian(control_gain)),
                       beyond)
    random_r = table["pearson_random"]["median"]
    unmet = (f"random features reach a median out-of-fold r of {random_r:.3g} (more than {random_r_max}): the fit "
             "finds signal in noise, so its gain over BM25 means nothing" if not random_r <= random_r_max else None)
    return median, circuits, unmet, table, items
