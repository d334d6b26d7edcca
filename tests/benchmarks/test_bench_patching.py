"""Patching engine benchmarks (pytest-benchmark) and its work accounting.

The tiny-model benchmarks run in CI in seconds. The default-checkpoint benchmark runs only with
``AXIOM_BENCH_DEFAULT=1`` (and a built default checkpoint); ``benchmarks/side_by_side.py`` has the peers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from circuits import patching as P
from circuits.model import HookedCrossEncoder, PairBatch

QUERIES = ["what is bm25", "river bank", "music history", "how does attention work"] * 2
DOCS = ["bm25 is a ranking function for search", "money in the bank by the river", "a city of music",
        "attention heads score the relevance of a passage"] * 2
TERMS = ["bm25", "river", "music", "attention"] * 2
KINDS: dict[str, Callable[..., P.PatchResult]] = {
    "activation_heads": P.patch_heads,
    "activation_block_every": P.patch_block_every,
    "path_to_logit": P.path_patch,
    "path_to_k_of_2.1": lambda model, pairs, **kw: P.path_patch(model, pairs, receivers=[(2, 1)],
                                                                 receiver_input="k", **kw),
}


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> HookedCrossEncoder:
    return HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", n_layers=3))


@pytest.fixture(scope="module")
def pairs(model) -> P.AlignedPairs:
    return P.align_pairs(model, QUERIES, [d + " a" for d in DOCS], [f"{d} {t}" for d, t in zip(DOCS, TERMS)],
                         [f"q{i % 4}" for i in range(len(QUERIES))])


@pytest.mark.parametrize("kind", KINDS)
def test_bench_tiny(benchmark, model, pairs, kind):
    benchmark.group = "patching, tiny 3-layer model, 8 pairs"
    result = benchmark.pedantic(lambda: KINDS[kind](model, pairs, n_boot=20), rounds=3, iterations=1,
                                warmup_rounds=1)
    assert np.isfinite(result.patched).all() and result.n_pairs + result.n_dropped == len(pairs)


@contextmanager
def mlp_rows(model: HookedCrossEncoder) -> Iterator[list[int]]:
    """Rows (token positions × pairs) that pass through any MLP, counted with forward hooks on the modules."""
    counted: list[int] = []
    handles = [model.block_part(layer, "mlp_out").register_forward_hook(
        lambda _m, inputs, _out: counted.append(inputs[0].shape[:-1].numel())) for layer in range(model.cfg.n_layers)]
    try:
        yield counted
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("kind, most", [("activation_heads", 0.6), ("path_to_logit", 0.2)])
def test_fast_engine_skips_the_work_it_does_not_need(model, pairs, kind, most):
    """MLP rows computed, fast engine vs one full forward per patch: layer skipping and [CLS]-only rows."""
    with mlp_rows(model) as fast:
        KINDS[kind](model, pairs, n_boot=1)
    with mlp_rows(model) as reference:
        P.generic_patch(model, pairs, sites=("z",), path=kind.startswith("path"), engine="reference", n_boot=1)
    assert sum(fast) < most * sum(reference), (sum(fast), sum(reference))


@pytest.mark.default_checkpoint
@pytest.mark.skipif(os.environ.get("AXIOM_BENCH_DEFAULT") != "1",
                    reason="default-checkpoint benchmark: set AXIOM_BENCH_DEFAULT=1 to run it")
@pytest.mark.parametrize("kind", ["activation_heads", "path_to_logit"])
def test_bench_default_checkpoint(benchmark, kind):
    from axiomtests.default_model import default_checkpoint_dir
    from circuits.errors import CheckpointError

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from common import make_pairs

    try:
        model = HookedCrossEncoder.from_pretrained(default_checkpoint_dir())
    except CheckpointError as exc:
        pytest.skip(str(exc))
    raw = make_pairs(32, 107)
    batch = lambda ids: PairBatch(ids, raw["attention_mask"], raw["token_type_ids"])  # noqa: E731
    aligned = P.AlignedPairs(batch(raw["baseline"]), batch(raw["perturbed"]), raw["query_ids"])
    benchmark.group = "patching, default checkpoint, 32 pairs x 107 tokens"
    result = benchmark.pedantic(lambda: KINDS[kind](model, aligned, n_boot=100), rounds=1, iterations=1)
    assert result.shape == (model.cfg.n_layers, model.cfg.n_heads) and np.isfinite(result.patched).all()
