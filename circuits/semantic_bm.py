"""SemanticBM (paper §5): a linear model of the cross-encoder score on circuit features.

Per query token i (queries of one fixed token length L): −U0(q_i), the Matching Score of q_i in each matching
head k (MS_k: its attention summed over document tokens), and the interactions −U0(q_i)·MS_k. The paper's
MS_total = Σ_k α_k MS_k enters linearly and in the interaction, so regressing on the per-head terms is the
same model with the α's absorbed into the coefficients (the *relaxed* form, ``features``); ``TiedFit`` fits the
paper's form, one α per head shared by both terms. Fitted by ridge regression (its strength chosen by
grouped CV inside the training queries, since a query length of L gives L·(1 + 2K) regressors for a few hundred
rows) and scored out of fold: grouped K-fold by query, so that every query is held out once, and the score is
the mean over folds of each test fold's Pearson r (:func:`fold_pearson`), as the paper scores one 80/20 split's test
set. Pooling the folds' predictions into one r instead is biased downward for any fitted model: each fold's
intercept is the mean of the other queries' scores, which anti-correlates with the held-out queries' (pure-noise
features scored -0.44 pooled, -0.004 ± 0.010 per fold, on 7 queries of 20 pairs and 65 regressors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from circuits.query_order import seeded_order


def features(neg_u0: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """Design matrix ``[n, L·(1 + 2K)]`` from −U0 ``[n, L]`` and matching scores ``[n, K, L]``."""
    interactions = neg_u0[:, None, :] * ms
    return np.concatenate([neg_u0, ms.reshape(len(ms), -1), interactions.reshape(len(ms), -1)], axis=1)


RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 4, 13))  # on standardised features, per training row


@dataclass(frozen=True)
class RidgeFit:
    """Ridge regression on standardised features with an unpenalised intercept; ``alpha`` per training row."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    alpha: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, alpha: float) -> "RidgeFit":
        mean, scale = x.mean(0), x.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (x - mean) / scale
        coef = np.linalg.solve(z.T @ z + alpha * len(x) * np.eye(z.shape[1]), z.T @ (y - y.mean()))
        return cls(coef, float(y.mean()), mean, scale, alpha)

    @classmethod
    def fit_cv(cls, x: np.ndarray, y: np.ndarray, groups: Sequence[str], seed: int = 0,
               alphas: Sequence[float] = RIDGE_ALPHAS, folds: int = 5) -> "RidgeFit":
        """Ridge with ``alpha`` chosen by grouped K-fold CV inside these rows (least held-out squared error)."""
        fold = query_folds(groups, folds, seed)
        if len(set(fold.tolist())) < 2:
            return cls.fit(x, y, max(alphas))
        return cls.fit(x, y, alphas[int(np.argmin(cv_errors(x, y, fold, alphas)))])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def cv_errors(x: np.ndarray, y: np.ndarray, fold: np.ndarray, alphas: Sequence[float]) -> np.ndarray:
    """Held-out squared error of :meth:`RidgeFit.fit` summed over ``fold``'s folds, for every alpha at once: one
    SVD of each training fold's standardised features gives the whole ridge path."""
    alphas = np.asarray(alphas, float)
    errors = np.zeros(len(alphas))
    for f in sorted(set(fold.tolist())):
        train, test = fold != f, fold == f
        mean, scale = x[train].mean(0), x[train].std(0)
        scale = np.where(scale > 0, scale, 1.0)
        u, s, vt = np.linalg.svd((x[train] - mean) / scale, full_matrices=False)
        centred = y[train] - y[train].mean()
        coefs = (s / (s ** 2 + alphas[:, None] * train.sum()) * (u.T @ centred)) @ vt  # [alphas, features]
        predicted = ((x[test] - mean) / scale) @ coefs.T + y[train].mean()  # [test rows, alphas]
        errors += ((predicted - y[test][:, None]) ** 2).sum(0)
    return errors


@dataclass(frozen=True)
class TiedFit:
    """The paper's Eq. 2 as written: per query position i, ``a_i·(−U0_i) + b_i·MS_i + g_i·(−U0_i·MS_i)`` with
    ``MS_i = Σ_k α_k MS_k,i``, one set of head weights α shared by the linear and the interaction term.
    Bilinear, so fitted by alternating ridge fits: the position coefficients given α, then α given them (α
    scaled to unit mean, which fixes the scale the two steps trade)."""

    alpha_heads: np.ndarray  # [K]
    outer: RidgeFit

    @staticmethod
    def design(neg_u0: np.ndarray, ms: np.ndarray, alpha_heads: np.ndarray) -> np.ndarray:
        total = np.einsum("k,nkl->nl", alpha_heads, ms)
        return np.concatenate([neg_u0, total, neg_u0 * total], axis=1)

    @classmethod
    def fit(cls, neg_u0: np.ndarray, ms: np.ndarray, y: np.ndarray, groups: Sequence[str], seed: int = 0,
            iterations: int = 10) -> "TiedFit":
        n_positions = neg_u0.shape[1]
        alpha_heads = np.ones(ms.shape[1])
        outer = RidgeFit.fit_cv(cls.design(neg_u0, ms, alpha_heads), y, groups, seed)
        for _ in range(iterations):
            coef = outer.coef / outer.scale  # on raw features
            a, b, g = coef[:n_positions], coef[n_positions:2 * n_positions], coef[2 * n_positions:]
            residual = y - (outer.intercept - outer.mean @ coef) - neg_u0 @ a
            per_head = np.einsum("nkl,nl->nk", ms, b + g * neg_u0)  # y − rest ≈ per_head @ α
            fit = RidgeFit.fit_cv(per_head, residual, groups, seed)
            alpha_heads = fit.coef / fit.scale
            if not np.abs(alpha_heads).sum() > 0:
                break
            alpha_heads = alpha_heads / np.abs(alpha_heads).mean()
            outer = RidgeFit.fit_cv(cls.design(neg_u0, ms, alpha_heads), y, groups, seed)
        return cls(alpha_heads, outer)

    def predict(self, neg_u0: np.ndarray, ms: np.ndarray) -> np.ndarray:
        return self.outer.predict(self.design(neg_u0, ms, self.alpha_heads))


def query_folds(query_ids: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Fold id per row: whole queries, seeded, dealt round-robin into ``min(k, queries)`` folds."""
    order = seeded_order(query_ids, np.random.default_rng(seed))
    fold_of = {q: rank % min(k, len(order)) for rank, q in enumerate(order)}
    return np.array([fold_of[q] for q in query_ids])


def cross_fitted(predict: Callable[[np.ndarray, np.ndarray], np.ndarray], query_ids: Sequence[str], k: int,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions: ``predict(train_mask, test_mask)`` per grouped fold, so that every query is
    predicted once by a model that never saw it. Returns (predictions, fold ids)."""
    fold = query_folds(query_ids, k, seed)
    out = np.empty(len(fold))
    for f in sorted(set(fold.tolist())):
        out[fold == f] = predict(fold != f, fold == f)
    return out, fold


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r, NaN when either side is constant."""
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(stats.pearsonr(a, b)[0])


def fold_pearson(pred: np.ndarray, y: np.ndarray, fold: np.ndarray) -> float:
    """Mean over folds of the Pearson r of ``pred`` and ``y`` within each fold (folds of fewer than 3 rows or constant
    sides skipped; NaN when none is left). Within a test fold the predictions come from one fit that never saw its
    scores, so for features without signal each fold's r is centred on 0.

    >>> fold_pearson(np.array([1., 2, 3, 10, 20, 30]), np.array([3., 2, 1, 1, 2, 3]), np.array([0, 0, 0, 1, 1, 1]))
    0.0
    """
    return _fold_mean(pearson, pred, y, fold)


def fold_spearman(pred: np.ndarray, y: np.ndarray, fold: np.ndarray) -> float:
    """:func:`fold_pearson` with Spearman's ρ."""
    return _fold_mean(spearman, pred, y, fold)


def _fold_mean(statistic: Callable[[np.ndarray, np.ndarray], float], pred: np.ndarray, y: np.ndarray,
               fold: np.ndarray) -> float:
    values = [statistic(pred[fold == f], y[fold == f]) for f in np.unique(fold)]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman ρ, NaN when either side is constant."""
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b)[0])
