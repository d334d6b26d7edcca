"""The default build's data: the query split, the passages as the model sees them, the seeded stream of training
groups, and the tokenised (query, passage) batches."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from axiomtests.corpus import Corpus, load_corpus, split_queries
from axiomtests.text import cut_passage


@dataclass(frozen=True)
class Split:
    corpus: Corpus
    passages: dict[str, str]  # doc id -> the passage the model sees
    train: list[str]
    test: list[str]


def prepare_split(recipe: dict[str, Any]) -> Split:
    """The recipe's split of the base corpus; a recipe with ``train_queries`` / ``heldout_queries`` keeps only the
    first that many of each side (a tiny budget, for tests: the default recipe has neither)."""
    corpus = load_corpus()
    lo, hi = recipe["passage_words"]
    passages = {d: cut_passage(text, lo, hi) for d, text in corpus.docs.items()}
    train, test = split_queries(corpus, recipe["holdout"], recipe["split_seed"])
    return Split(corpus, passages, train[:recipe.get("train_queries")], test[:recipe.get("heldout_queries")])


@dataclass(frozen=True)
class Group:
    qid: str
    docs: list[str]
    target: list[float]  # listwise target distribution over ``docs``


def training_groups(split: Split, recipe: dict[str, Any], rng: random.Random) -> Iterator[Group]:
    """Endless seeded stream of per-query groups over shuffled epochs of the training queries.

    A group holds ``sampled`` passages drawn from the query's retrieved list and ``random_negatives``
    passages retrieved for other training queries. Its listwise target is ``softmax(grade /
    grade_temperature)`` with grade = cited + rank_prior * (1 - rank / (n - 1)) for retrieved passages
    (rank 0 = first in the source order) and -1 for random ones.
    """
    corpus = split.corpus
    pool = sorted({d for q in split.train for d in corpus.retrieved[q]})
    while True:
        order = list(split.train)
        rng.shuffle(order)
        for qid in order:
            retrieved, labels = corpus.retrieved[qid], corpus.qrels.get(qid, {})
            picked = rng.sample(retrieved, min(recipe["sampled"], len(retrieved)))
            taken = set(retrieved)
            easy: list[str] = []
            while len(easy) < recipe["random_negatives"]:
                doc = rng.choice(pool)
                if doc not in taken:
                    taken.add(doc)
                    easy.append(doc)
            prior = {d: recipe["rank_prior"] * (1 - i / max(1, len(retrieved) - 1)) for i, d in enumerate(retrieved)}
            grades = [float(labels.get(d, 0) > 0) + prior[d] for d in picked] + [-1.0] * len(easy)
            weights = [math.exp(g / recipe["grade_temperature"]) for g in grades]
            yield Group(qid, picked + easy, [w / sum(weights) for w in weights])


def encode_pairs(tokenizer: Any, queries: Sequence[str], passages: Sequence[str], max_length: int,
            device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    batch = tokenizer(list(queries), list(passages), truncation="only_second", max_length=max_length,
                      padding=True, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}
