"""SemanticBM (paper §5): a linear model of the cross-encoder score on circuit features.

Per query token i (queries of one fixed token length L): −U0(q_i), the Matching Score of q_i in each matching
head k (MS_k: its attention summed over document tokens), and the interactions −U0(q_i)·MS_k. The paper's
MS_total = Σ_k α_k MS_k enters linearly and in the interaction, so regressing on the per-head terms is the
same model with the α's absorbed into the coefficients. Fitted by least squares with an intercept on the
training queries and scored by Pearson r on held-out queries (80/20 split by query).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def features(neg_u0: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """Design matrix ``[n, L·(1 + 2K)]`` from −U0 ``[n, L]`` and matching scores ``[n, K, L]``."""
    interactions = neg_u0[:, None, :] * ms
    return np.concatenate([neg_u0, ms.reshape(len(ms), -1), interactions.reshape(len(ms), -1)], axis=1)


@dataclass(frozen=True)
class LinearFit:
    """Least-squares coefficients (last one is the intercept)."""

    coef: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, ridge: float = 1e-6) -> "LinearFit":
        design = np.hstack([x, np.ones((len(x), 1))])
        # a tiny ridge keeps collinear features (e.g. a repeated token) solvable; the intercept is not penalised
        penalty = ridge * np.eye(design.shape[1])
        penalty[-1, -1] = 0.0
        coef = np.linalg.solve(design.T @ design + penalty * len(x), design.T @ y)
        return cls(coef)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef[:-1] + self.coef[-1]


def split_by_query(query_ids: list[str], test_share: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (train, test) masks over rows, splitting whole queries, seeded."""
    unique = sorted(set(query_ids))
    rng = np.random.default_rng(seed)
    n_test = max(1, round(test_share * len(unique)))
    test_q = set(rng.permutation(unique)[:n_test].tolist())
    test = np.array([q in test_q for q in query_ids])
    return ~test, test


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r, NaN when either side is constant."""
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(stats.pearsonr(a, b)[0])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman ρ, NaN when either side is constant."""
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b)[0])


def fit_and_score(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Pearson r of a linear fit on ``train`` rows, predicted on ``test`` rows."""
    model = LinearFit.fit(x[train], y[train])
    return pearson(model.predict(x[test]), y[test])
