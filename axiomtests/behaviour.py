"""Behavioural measures that need the dataset generators (:mod:`axiomtests.perturb`): the minimal counterexample
of a length-matched TFC1/STMC1 pair, and TFC2's chains with a random word in place of the term."""

from __future__ import annotations

import numpy as np

from circuits.axioms import scores
from circuits.measures.axioms import length_matched_gains

__all__ = ["counterexample", "word_curves"]


def counterexample(model, strategy, words: list[str], seed: int) -> dict | None:
    """The minimal pair (Hypothesis-shrunk) whose term does not score above a control word appended in its place,
    or None."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    from axiomtests.perturb import random_word_pair

    order = np.random.default_rng(seed).permutation(len(words))[:50]

    def gain(pair) -> float | None:
        control = random_word_pair(pair, model.tokenizer, words, order)
        return None if control is None else float(length_matched_gains(model, [pair], [control])[1][0])

    def violates(pair) -> bool:
        d = gain(pair)
        return d is not None and d <= 0

    try:
        pair = find(strategy, violates, settings=settings(
            max_examples=60, derandomize=True, database=None, deadline=None,
            suppress_health_check=list(HealthCheck)), random=None)
    except NoSuchExample:
        return None
    control = random_word_pair(pair, model.tokenizer, words, order)
    return {"query": pair.query, "baseline": pair.document, "perturbed": pair.perturbed, "term": pair.term,
            "inserted": pair.inserted, "control_word": control.inserted, "delta": gain(pair)}


def word_curves(model, pairs, words: list[str], seed: int) -> np.ndarray:
    """Scores ``[queries, levels]`` of each appended TFC2 chain (queries sorted, as ``level_curves``) with a random
    word (one token, in neither the query nor the document) appended in place of the term."""
    from axiomtests.perturb import tfc2_word_chain
    from circuits.bm25 import words as words_of

    rng = np.random.default_rng(seed)
    first = {p.query_id: p for p in pairs if p.level_baseline == 0}
    queries, texts = [], []
    for qid in sorted(first):
        pair = first[qid]
        taken = set(words_of(pair.query)) | set(words_of(pair.document))
        word = next(words[int(i)] for i in rng.permutation(len(words)) if words[int(i)] not in taken)
        chain = tfc2_word_chain(pair.document, word=word, filler=pair.filler.text, levels=pair.details["levels"])
        queries += [pair.query] * len(chain)
        texts += chain
    return scores(model, queries, texts).reshape(len(first), -1)
