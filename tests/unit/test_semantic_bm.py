"""SemanticBM's fitting: grouped folds, out-of-fold prediction, ridge with its strength chosen inside the fold."""

from __future__ import annotations

import numpy as np

from circuits.semantic_bm import RidgeFit, cross_fitted, pearson, query_folds


def test_folds_keep_each_query_whole_and_are_seeded():
    qids = [f"q{i // 3}" for i in range(30)]  # 10 queries × 3 rows
    fold = query_folds(qids, 5, seed=0)
    assert all(len(set(fold[[i for i, q in enumerate(qids) if q == query]])) == 1 for query in set(qids))
    assert sorted(np.bincount(fold).tolist()) == [6] * 5
    assert (fold == query_folds(qids, 5, seed=0)).all() and not (fold == query_folds(qids, 5, seed=1)).all()
    assert set(query_folds(qids[:6], 5).tolist()) == {0, 1}  # fewer queries than folds: one query a fold


def test_out_of_fold_predictions_never_see_their_own_query():
    qids = [f"q{i // 4}" for i in range(40)]
    seen = []

    def predict(train, test):
        assert not set(np.array(qids)[train]) & set(np.array(qids)[test])
        seen.append(test)
        return np.full(test.sum(), float(len(seen)))

    pred, fold = cross_fitted(predict, qids, 5)
    assert sum(t.sum() for t in seen) == 40 and set(pred.tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_ridge_recovers_a_linear_signal_and_shrinks_on_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ np.array([1.0, -2.0, 0.0, 0.5, 0.0]) + 3.0 + 0.1 * rng.normal(size=200)
    qids = [f"q{i // 10}" for i in range(200)]
    fit = RidgeFit.fit_cv(x, y, qids)
    assert fit.alpha <= 0.1 and pearson(fit.predict(x), y) > 0.99
    # 60 noise regressors for 40 rows: inner CV picks strong shrinkage, so held-out r stays near 0 instead of
    # the overfit least-squares fit that explains every training row
    noise, target = rng.normal(size=(40, 60)), rng.normal(size=40)
    groups = [f"q{i // 4}" for i in range(40)]
    assert RidgeFit.fit_cv(noise, target, groups).alpha >= 10
    oof, _ = cross_fitted(lambda tr, te: RidgeFit.fit_cv(noise[tr], target[tr], np.array(groups)[tr]).predict(noise[te]),
                          groups, 5)
    assert abs(np.nan_to_num(pearson(oof, target))) < 0.5
