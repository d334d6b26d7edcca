"""Whole queries in a seeded order: how train/test splits, cross-validation folds, capped samples and the dataset
builder's selection draw queries."""

from __future__ import annotations

import random
from collections.abc import Iterable

import numpy as np


def seeded_order(query_ids: Iterable[str], rng: random.Random | np.random.Generator) -> list[str]:
    """The distinct ``query_ids``, sorted, then shuffled by ``rng`` (``random.Random.shuffle`` or
    ``Generator.permutation``, so each caller's draws stay those it has always made).

    >>> seeded_order(["b", "a", "b", "c"], random.Random(0))
    ['a', 'c', 'b']
    """
    unique = sorted(set(query_ids))
    if isinstance(rng, random.Random):
        rng.shuffle(unique)
        return unique
    return [unique[i] for i in rng.permutation(len(unique))]
