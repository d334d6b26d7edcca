"""nDCG@k against hand-computed values (trec_eval conventions)."""

from __future__ import annotations

import math

import pytest

from circuits.ranking import mean_ndcg, ndcg_at_k, ndcg_per_query, ranked_ids


def test_binary_ndcg_matches_hand_computation() -> None:
    # DCG@3 = 1/log2(2) + 0 + 1/log2(4) = 1.5; IDCG@3 = 1 + 1/log2(3) + 1/log2(4) = 2.13093
    qrels = {"d1": 1, "d3": 1, "d4": 1}
    assert ndcg_at_k(["d1", "d2", "d3"], qrels, k=3) == pytest.approx(1.5 / (1.5 + 1 / math.log2(3)))
    assert ndcg_at_k(["d1", "d2", "d3"], qrels, k=3) == pytest.approx(0.703918, abs=1e-6)


def test_graded_ndcg_uses_linear_gain() -> None:
    # DCG@2 = 1 + 2/log2(3); IDCG@2 = 2 + 1/log2(3)
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, k=2) == pytest.approx(expected)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, k=2) == pytest.approx(0.859719, abs=1e-6)


def test_cutoff_and_perfect_ranking() -> None:
    qrels = {"a": 1, "b": 1}
    assert ndcg_at_k(["a", "b", "c"], qrels, k=10) == pytest.approx(1.0)
    assert ndcg_at_k(["c", "a", "b"], qrels, k=1) == 0.0
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], qrels, k=0)


def test_scores_are_ranked_with_trec_eval_tie_breaking() -> None:
    # equal scores: doc ids in descending order, as trec_eval sorts them
    assert ranked_ids({"a": 1.0, "c": 1.0, "b": 2.0}) == ["b", "c", "a"]
    assert ndcg_at_k({"a": 0.1, "b": 0.9}, {"b": 1}, k=10) == pytest.approx(1.0)


def test_negative_labels_count_as_zero_and_unjudged_queries_are_skipped() -> None:
    assert ndcg_at_k(["x", "a"], {"x": -1, "a": 1}, k=2) == pytest.approx(1 / math.log2(3))
    assert math.isnan(ndcg_at_k(["a"], {"a": 0}))
    run = {"q1": ["a", "b"], "q2": ["c"], "q3": ["d"]}
    qrels = {"q1": {"b": 1}, "q2": {"c": 0}}
    assert ndcg_per_query(run, qrels, k=10) == {"q1": pytest.approx(1 / math.log2(3))}
    assert mean_ndcg(run, qrels) == pytest.approx(1 / math.log2(3))
    with pytest.raises(ValueError, match="no query"):
        mean_ndcg({"q2": ["c"]}, qrels)
