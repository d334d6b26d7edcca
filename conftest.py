"""Project-wide fixtures for the project's own tests: tiny random cross-encoders (the fast tier)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ARCHS = ("bert", "roberta", "electra", "distilbert")


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
