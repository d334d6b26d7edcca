"""SemanticBM's fitting: grouped folds, out-of-fold prediction, ridge with its strength chosen inside the fold."""

from __future__ import annotations

import random

import numpy as np

from circuits.query_order import seeded_order
from circuits.semantic_bm import RidgeFit, TiedFit, cross_fitted, fold_pearson, pearson, query_folds


def test_folds_keep_each_query_whole_and_are_seeded():
    qids = [f"q{i // 3}" for i in range(30)]  # 10 queries × 3 rows
    fold = query_folds(qids, 5, seed=0)
    assert all(len(set(fold[[i for i, q in enumerate(qids) if q == query]])) == 1 for query in set(qids))
    assert sorted(np.bincount(fold).tolist()) == [6] * 5
    assert (fold == query_folds(qids, 5, seed=0)).all() and not (fold == query_folds(qids, 5, seed=1)).all()
    assert set(query_folds(qids[:6], 5).tolist()) == {0, 1}  # fewer queries than folds: one query a fold


def test_seeded_order_keeps_each_generators_draws():
    """One order of whole queries for every caller, with the draws each made before: Python's shuffle of the sorted
    ids (train/test split, dataset selection) and numpy's permutation (folds, capped groups)."""
    ids = [f"q{i % 17}" for i in range(60)]
    distinct = sorted(set(ids))
    shuffled = list(distinct)
    random.Random(3).shuffle(shuffled)
    assert seeded_order(ids, random.Random(3)) == shuffled
    assert seeded_order(ids, np.random.default_rng(3)) == list(np.random.default_rng(3).permutation(distinct))
    assert seeded_order(ids, random.Random(4)) != shuffled


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


def test_the_tied_form_recovers_planted_head_weights_and_finds_nothing_in_noise():
    rng = np.random.default_rng(0)
    n, k, length = 300, 4, 5
    neg_u0, ms = rng.normal(size=(n, length)), rng.uniform(0, 1, size=(n, k, length))
    alpha = np.array([2.0, 0.0, 1.0, 0.5])
    total = np.einsum("k,nkl->nl", alpha, ms)
    y = 0.3 * neg_u0.sum(1) + total.sum(1) + 0.8 * (neg_u0 * total).sum(1) + rng.normal(0, 0.1, n)
    qids = np.array([f"q{i // 5}" for i in range(n)])
    train = np.arange(n) < 240
    fit = TiedFit.fit(neg_u0[train], ms[train], y[train], qids[train])
    assert np.corrcoef(fit.alpha_heads, alpha)[0, 1] > 0.99
    assert pearson(fit.predict(neg_u0[~train], ms[~train]), y[~train]) > 0.95
    noise = rng.normal(size=n)
    null = TiedFit.fit(neg_u0[train], ms[train], noise[train], qids[train])
    assert abs(pearson(null.predict(neg_u0[~train], ms[~train]), noise[~train])) < 0.2


def test_each_corpus_gets_a_row_of_out_of_fold_correlations():
    from axiomtests.gate import corpus_label, run_fields
    from circuits.semantic_study import by_dataset

    rng = np.random.default_rng(1)
    qids = [f"q{i // 4}" for i in range(40)] + [f"scifact/q{i // 4}" for i in range(40)]
    label_of = {q: ("scifact" if q.startswith("scifact/") else "base") for q in qids}
    y = rng.normal(size=80)
    pred = {"y": y, "query_ids": qids, "semantic_bm": y + rng.normal(0, 0.3, 80),
            "semantic_bm_relaxed": y + rng.normal(0, 0.5, 80), "bm25": rng.normal(size=80),
            "random": rng.normal(size=80), "fold": np.array([(i // 4) % 5 for i in range(80)])}
    rows = by_dataset({5: ({}, pred), 6: ({}, pred)}, label_of)
    assert [r["dataset"] for r in rows] == ["base", "scifact"] and all(r["groups"] == 2 for r in rows)
    assert all(r["median_pearson_semantic_bm"] > 0.8 > abs(r["median_pearson_random"]) for r in rows)
    assert corpus_label(("base", "beir/scifact")) == "base+beir/scifact"
    assert run_fields(0, 64, ["a", "b"])["corpus"] != run_fields(0, 64, ["a"])["corpus"] == "a"


def test_direction_values_of_v0_are_u0(tiny_cross_encoder):
    from circuits.idf import u0
    from circuits.semantic_study import direction_values

    spectrum = u0(tiny_cross_encoder)
    assert np.allclose(direction_values(tiny_cross_encoder, spectrum.v0), spectrum.u0, atol=1e-8)


def test_study_on_a_tiny_model_predicts_every_pair_out_of_fold_with_its_control_circuits(tiny_cross_encoder):
    from types import SimpleNamespace

    from circuits.bm25 import BM25, analyze
    from circuits.idf import u0
    from circuits.semantic_study import PREDICTORS, Circuit, Source, direction_values, evaluate_group

    words = "bank river money water city music science history answer question".split()  # one piece each
    rng = np.random.default_rng(0)
    pairs = [SimpleNamespace(query_id=f"q{q}", doc_id=f"q{q}d{d}", query=" ".join(rng.choice(words, 3)),
                             document=" ".join(rng.choice(words, 8)))
             for q in range(10) for d in range(4)]
    for p in pairs:  # one query text per query id
        p.query = next(x.query for x in pairs if x.query_id == p.query_id)
    source = Source("tiny", BM25(analyze(p.document) for p in pairs), {p.query_id: {p.doc_id: 1} for p in pairs[::4]})
    spectrum = u0(tiny_cross_encoder)
    controls = [Circuit([(1, 2)], direction_values(tiny_cross_encoder, rng.normal(size=len(spectrum.v0))))]
    row, pred = evaluate_group(tiny_cross_encoder, pairs, Circuit([(1, 0)], -spectrum.u0), controls,
                               lambda _: source, seed=0)
    assert row["pairs"] == 40 and row["queries"] == 10 and row["control_circuits"] == 1
    assert all(pred[name].shape == (40,) and np.isfinite(pred[name]).all() for name in PREDICTORS)
    assert np.allclose(pred["y"], tiny_cross_encoder.score_pairs([p.query for p in pairs],
                                                                 [p.document for p in pairs]).double().numpy(),
                       atol=1e-5)


def test_the_ridge_path_equals_one_fit_per_alpha():
    from circuits.semantic_bm import RIDGE_ALPHAS, cv_errors

    rng = np.random.default_rng(3)
    for n, p in ((60, 5), (30, 45)):  # more rows than features, and fewer
        x, y = rng.normal(size=(n, p)), rng.normal(size=n)
        x[:, 0] = 1.0  # a constant column: scale 1, as RidgeFit does
        fold = query_folds([f"q{i // 3}" for i in range(n)], 5)
        brute = [sum(float(((RidgeFit.fit(x[fold != f], y[fold != f], a).predict(x[fold == f]) - y[fold == f]) ** 2
                            ).sum()) for f in set(fold.tolist())) for a in RIDGE_ALPHAS]
        assert np.allclose(cv_errors(x, y, fold, RIDGE_ALPHAS), brute, rtol=1e-9)


def _random_feature_r(seed: int, queries: int = 7, per_query: int = 20, regressors: int = 65) -> tuple[float, float]:
    """(the suite's out-of-fold r, the mean over test folds; the r pooled over folds) of a ridge fit on pure-noise
    features, at the default's 5-token group size (7 queries, about 140 pairs, 65 regressors), for scores that
    differ by query as a cross-encoder's do."""
    rng = np.random.default_rng(seed)
    qids = [f"q{q}" for q in range(queries) for _ in range(per_query)]
    y = np.repeat(rng.normal(size=queries), per_query) + rng.normal(size=len(qids))
    x, groups = rng.normal(size=(len(y), regressors)), np.array(qids)
    pred, fold = cross_fitted(lambda tr, te: RidgeFit.fit_cv(x[tr], y[tr], groups[tr], seed).predict(x[te]), qids, 5,
                              seed)
    return fold_pearson(pred, y, fold), pearson(pred, y)


def test_random_features_score_an_r_within_noise_of_zero():
    """Issue 24: random features must score r ≈ 0 (Table 2's null, 0.0005). The mean over test folds does; the r
    pooled over folds, the suite's estimator up to registry 5, does not (each fold's intercept is the other
    queries' mean, which anti-correlates with the held-out queries'): measured mean -0.44 over these 40 draws."""
    r, pooled = np.array([_random_feature_r(seed) for seed in range(40)]).T
    assert pooled.mean() < -0.3, pooled.mean()  # the bias the estimator avoids, so this test can tell them apart
    assert abs(r.mean()) <= 3 * r.std() / np.sqrt(len(r)), (r.mean(), r.std())
