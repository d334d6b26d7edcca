"""Lexical BM25 against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuits.bm25 import BM25, ENGLISH_STOPWORDS, analyze, words

COLLECTION = [["a", "b", "a"], ["b", "c"], ["c", "c", "c", "d"]]  # N = 3, avgdl = 3


def test_idf_is_lucenes() -> None:
    bm25 = BM25(COLLECTION)
    assert bm25.n_docs == 3 and bm25.avgdl == pytest.approx(3.0)
    # df(a) = 1, df(b) = 2, unseen df = 0
    expected = [math.log(1 + 2.5 / 1.5), math.log(1 + 1.5 / 2.5), math.log(1 + 3.5 / 0.5)]
    np.testing.assert_allclose(bm25.idf(["a", "b", "zzz"]), expected)


def test_score_matches_hand_computation() -> None:
    bm25 = BM25(COLLECTION, k1=1.2, b=0.75)
    doc = ["a", "b", "a"]  # |d| = avgdl, so the length norm is k1
    tf_a = 2 * 2.2 / (2 + 1.2)
    tf_b = 1 * 2.2 / (1 + 1.2)
    contributions = bm25.contributions(["a", "b", "x"], doc)
    np.testing.assert_allclose(contributions, [math.log(1 + 2.5 / 1.5) * tf_a, math.log(1 + 1.5 / 2.5) * tf_b, 0.0])
    assert bm25.score(["a", "b", "x"], doc) == pytest.approx(contributions.sum())
    np.testing.assert_allclose(bm25.scores(["a", "b"], COLLECTION), [bm25.score(["a", "b"], d) for d in COLLECTION])


def test_repeated_query_terms_count_per_position() -> None:
    bm25 = BM25(COLLECTION)
    single, double = bm25.contributions(["c"], ["c", "d"]), bm25.contributions(["c", "c"], ["c", "d"])
    np.testing.assert_allclose(double, [single[0], single[0]])


def test_tf_saturates_and_length_normalises() -> None:
    bm25 = BM25(COLLECTION, k1=1.2, b=0.75)
    weights = bm25.tf_weight(np.arange(0, 6), 3)
    gains = np.diff(weights)
    assert weights[0] == 0 and np.all(gains > 0) and np.all(np.diff(gains) < 0)
    assert bm25.tf_weight(1e9, 3) == pytest.approx(2.2)  # the k1 + 1 ceiling
    assert bm25.tf_weight(1, 6) < bm25.tf_weight(1, 3)  # longer documents weigh a match less
    flat = bm25.with_params(1.2, 0.0)
    assert flat.tf_weight(1, 6) == pytest.approx(flat.tf_weight(1, 3))
    assert flat.df is bm25.df and bm25.b == 0.75  # no re-counting, original untouched


def test_wordpieces_work_like_words() -> None:
    bm25 = BM25([["run", "##ning"], ["walk"]])
    assert bm25.score(["##ning"], ["run", "##ning"]) > 0 == bm25.score(["##ning"], ["walk"])


def test_invalid_parameters_and_empty_collection() -> None:
    with pytest.raises(ValueError):
        BM25(COLLECTION, k1=-1)
    with pytest.raises(ValueError):
        BM25(COLLECTION).with_params(1.2, 1.5)
    with pytest.raises(ValueError, match="non-empty"):
        BM25([])


def test_analysis() -> None:
    assert words("What's BM25? It ranks!") == ["what", "s", "bm25", "it", "ranks"]
    assert analyze("The runners are running quickly") == ["runner", "run", "quickli"]
    assert len(ENGLISH_STOPWORDS) == 179 and "the" in ENGLISH_STOPWORDS
