"""Project-wide fixtures for the project's own tests: tiny random cross-encoders (the fast tier)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ARCHS = ("bert", "roberta", "electra", "distilbert", "deberta-v2", "modernbert")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``tiny_checkpoint(arch="bert", n_labels=1, seed=0, **sizes)`` -> a saved tiny checkpoint dir."""
    from circuits.tiny import tiny_cross_encoder

    made: dict[tuple, Path] = {}

    def make(arch: str = "bert", n_labels: int = 1, seed: int = 0, **sizes: int) -> Path:
        key = (arch, n_labels, seed, tuple(sorted(sizes.items())))
        if key not in made:
            folder = tmp_path_factory.mktemp(f"tiny-{arch}-{n_labels}")
            made[key] = tiny_cross_encoder(folder, arch, n_labels, seed, **sizes)
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_cross_encoder(tiny_checkpoint: Callable[..., Path]):
    """A loaded tiny BERT HookedCrossEncoder (1 logit, 2 layers, 4 heads)."""
    from circuits.model import HookedCrossEncoder

    return HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert"))


@pytest.fixture(scope="session")
def tiny_beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-passage BEIR folder: enough for the claims that need no diagnostic datasets (e.g. ``idf.u0``)."""
    from axiomtests.corpus import Corpus, write_beir

    corpus = Corpus(name="tiny", docs={"d1": "bm25 is a ranking function for search",
                                       "d2": "attention heads score relevance", "d3": "the river bank and the money bank"},
                    queries={"q1": "what is bm25", "q2": "attention ranking"}, qrels={"q1": {"d1": 1}, "q2": {"d2": 1}},
                    retrieved={"q1": ["d1", "d3"], "q2": ["d2", "d3"]}, provenance={})
    return write_beir(corpus, tmp_path_factory.mktemp("beir"))
