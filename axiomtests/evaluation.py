"""The default build's evaluation: held-out nDCG@10 of the cross-encoder against lexical BM25 and the bi-encoder
(also the fine-tuning teacher), under two label sets (human citations, and grades from each query's retrieved
order), and the score change when a query term is appended (TFC1)."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from axiomtests.text import appended, query_terms
from axiomtests.training_data import Split, encode_pairs
from circuits.bm25 import BM25, analyze, words
from circuits.ranking import ndcg_per_query
from circuits.stats import group_bootstrap

log = logging.getLogger(__name__)


class BiEncoder:
    """all-MiniLM-L6-v2 as trained: mean-pooled, normalised embeddings, cosine scores."""

    def __init__(self, base: Path, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.model = AutoModel.from_pretrained(base).float().to(device).eval()
        self.device = device

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], max_length: int = 128, batch_size: int = 64) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(list(texts[i:i + batch_size]), truncation=True, max_length=max_length,
                                 padding=True, return_tensors="pt").to(self.device)
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(out)

    def cosines(self, queries: Sequence[str], passages: Sequence[str]) -> torch.Tensor:
        unique = sorted(set(queries))
        q_emb = self.embed(unique)
        index = {q: i for i, q in enumerate(unique)}
        return (q_emb[[index[q] for q in queries]] * self.embed(passages)).sum(-1)


@torch.inference_mode()
def cross_scores(tokenizer: Any, model: Any, queries: Sequence[str], passages: Sequence[str],
                  max_length: int, batch_size: int = 64) -> np.ndarray:
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(queries), batch_size):
        enc = encode_pairs(tokenizer, queries[i:i + batch_size], passages[i:i + batch_size], max_length, device)
        out.append(model(**enc).logits[:, 0].float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


def tfc1_check_pairs(split: Split, recipe: dict[str, Any], tokenizer: Any) -> list[tuple[str, str, str, str]]:
    """(query, passage, passage + a non-stopword query word, passage + a control word from another
    held-out query) for sampled held-out documents, kept when both inputs fit ``max_length``."""
    rng = random.Random(recipe["split_seed"])
    terms = {q: sorted(w for w in query_terms(split.corpus.queries[q]) if w.isalpha()) for q in split.test}
    vocabulary = sorted({w for ws in terms.values() for w in ws})
    pairs = []
    for qid in split.test:
        query, retrieved = split.corpus.queries[qid], split.corpus.retrieved[qid]
        if not terms[qid]:
            continue
        controls = [w for w in vocabulary if w not in set(words(query))]
        for doc in rng.sample(retrieved, min(recipe["tfc1_docs_per_query"], len(retrieved))):
            passage = split.passages[doc]
            term, control = appended(passage, rng.choice(terms[qid])), appended(passage, rng.choice(controls))
            if max(len(tokenizer(query, p)["input_ids"]) for p in (term, control)) <= recipe["max_length"]:
                pairs.append((query, passage, term, control))
    return pairs


LABELS = ("citations", "source_order")
"""The two label sets of the held-out evaluation: human citations, and :func:`source_order_labels`."""

SOURCE_ORDER_BAND = 5  # retrieved ranks per grade of the source-order labels


def heldout_pairs(split: Split) -> list[tuple[str, str]]:
    return [(q, d) for q in split.test for d in split.corpus.retrieved[q]]


def source_order_labels(split: Split) -> dict[str, dict[str, int]]:
    """Graded labels from each held-out query's retrieved order (the output of the strong ranker that built the
    corpus): ranks 1-5 grade 3, 6-10 grade 2, 11-15 grade 1, later ranks 0."""
    return {q: {d: max(0, 3 - rank // SOURCE_ORDER_BAND) for rank, d in enumerate(split.corpus.retrieved[q])}
            for q in split.test}


def labels(split: Split, name: str) -> dict[str, dict[str, int]]:
    """The held-out label set ``name`` (one of :data:`LABELS`)."""
    if name == "citations":
        return split.corpus.qrels
    if name == "source_order":
        return source_order_labels(split)
    raise ValueError(f"unknown label set {name!r}; known: {', '.join(LABELS)}")


def per_query_ndcg(split: Split, pairs: Sequence[tuple[str, str]], scores: Sequence[float],
                   label_set: str = "citations") -> dict[str, float]:
    run: dict[str, dict[str, float]] = {}
    for (q, d), s in zip(pairs, scores, strict=True):
        run.setdefault(q, {})[d] = float(s)
    return ndcg_per_query(run, labels(split, label_set), k=10)


def heldout_ndcg(split: Split, pairs: Sequence[tuple[str, str]], scores: Sequence[float],
                 label_set: str = "citations") -> float:
    per_query = per_query_ndcg(split, pairs, scores, label_set)
    return round(sum(per_query.values()) / len(per_query), 4)


def random_ndcg(split: Split, seed: int, draws: int = 500, label_set: str = "citations") -> dict[str, float]:
    """Mean and standard deviation of nDCG@10 under uniformly random orderings of the candidates."""
    rng = random.Random(seed)
    pairs = heldout_pairs(split)
    values = [heldout_ndcg(split, pairs, [rng.random() for _ in pairs], label_set) for _ in range(draws)]
    return {"mean": round(float(np.mean(values)), 4), "sd": round(float(np.std(values)), 4)}


def paired_ci(a: dict[str, float], b: dict[str, float], seed: int, resamples: int = 2000) -> list[float]:
    """95% bootstrap interval (over queries) of mean(a - b)."""
    queries = sorted(a)
    diff = np.array([a[q] - b[q] for q in queries])
    iv = group_bootstrap(lambda i: float(diff[i].mean()), queries, unit="query", n_boot=resamples, seed=seed)
    return [round(iv.low, 4), round(iv.high, 4)]


def heldout_scores(split: Split, tokenizer: Any, model: Any, max_length: int
                   ) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The held-out (query id, doc id) pairs and the cross-encoder's scores of them."""
    pairs = heldout_pairs(split)
    scores = cross_scores(tokenizer, model, [split.corpus.queries[q] for q, _ in pairs],
                          [split.passages[d] for _, d in pairs], max_length)
    return pairs, scores


def evaluate_cross_encoder(split: Split, tokenizer: Any, model: Any, recipe: dict[str, Any]) -> dict[str, Any]:
    """nDCG@10 on the held-out queries, the spread of their logits, and TFC1 score changes."""
    pairs, scores = heldout_scores(split, tokenizer, model, recipe["max_length"])
    log.info("evaluating: %d held-out pairs scored; now TFC1 score changes", len(pairs))
    tfc1 = tfc1_check_pairs(split, recipe, tokenizer)
    tfc1_queries = [t[0] for t in tfc1]
    baseline, with_term, with_control = (
        cross_scores(tokenizer, model, tfc1_queries, [t[i] for t in tfc1], recipe["max_length"]) for i in (1, 2, 3))
    delta, control = with_term - baseline, with_control - baseline
    spread = float(np.std(scores))
    median = float(np.median(np.abs(delta)))
    return {
        "ndcg@10": {name: heldout_ndcg(split, pairs, scores, name) for name in LABELS},
        "per_query": {name: per_query_ndcg(split, pairs, scores, name) for name in LABELS},
        "logits": {"min": round(float(scores.min()), 3), "max": round(float(scores.max()), 3),
                   "std": round(spread, 3)},
        "tfc1": {
            "pairs": len(tfc1),
            "median_abs_delta": round(median, 4),
            "mean_delta": round(float(delta.mean()), 4),
            "share_abs_delta_gt_1": round(float(np.mean(np.abs(delta) > 1.0)), 4),
            "share_positive": round(float(np.mean(delta > 0)), 4),
            "median_abs_delta_over_logit_std": round(median / spread, 4),
            "control_median_abs_delta": round(float(np.median(np.abs(control))), 4),
            "control_share_positive": round(float(np.mean(control > 0)), 4),
            "share_term_above_control": round(float(np.mean(delta > control)), 4),
        },
    }


def evaluate_baselines(split: Split, base: Path, recipe: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Per-query nDCG@10 (``{label set: {scorer: {query: nDCG}}}``) of lexical BM25 and the bi-encoder on the same
    held-out candidates and passages; for reference, of BM25 on the full (uncut) passages and of the candidates'
    source order."""
    log.info("evaluating: lexical BM25 and the bi-encoder on the same held-out pairs")
    pairs = heldout_pairs(split)
    queries = [analyze(split.corpus.queries[q]) for q, _ in pairs]
    scores = {}
    for name, texts in (("bm25", split.passages), ("bm25_full_passages", split.corpus.docs)):
        collection = {d: analyze(t) for d, t in texts.items()}
        bm25 = BM25(collection.values(), **recipe["bm25"])
        scores[name] = [bm25.score(q, collection[d]) for q, (_, d) in zip(queries, pairs, strict=True)]
    scores["source_order"] = [-split.corpus.retrieved[q].index(d) for q, d in pairs]
    scores["bi_encoder"] = BiEncoder(base).cosines(
        [split.corpus.queries[q] for q, _ in pairs], [split.passages[d] for _, d in pairs]).numpy()
    return {label_set: {name: per_query_ndcg(split, pairs, s, label_set) for name, s in scores.items()}
            for label_set in LABELS}
