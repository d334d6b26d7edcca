"""Controls inside the metrics: claims beat their control or fail; percentile ranks among matched head sets,
query-position patching and random-direction edits, each passing on a planted tiny model and failing on a
random one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axiomtests.claims import CLAIMS, Control
from circuits.controls import matched_head_sets, percentile_rank, random_directions
from circuits.errors import InputError
from circuits.idf import edit_idf, u0, without_direction, word_embeddings
from circuits.model import HookedCrossEncoder
from circuits.ablation import patch_query_outputs
from circuits.stats import Interval

QUERIES = ["what is bm25", "attention ranking", "search relevance", "query term model"]
SHORT = ["bm25 ranking", "attention heads", "relevance", "term"]
LONG = ["bm25 ranking the a of and to in", "attention heads the of a and", "relevance a the of and to in for",
        "term the a of and"]


def iv(value: float, low: float, high: float) -> Interval:
    return Interval(value, low, high, (high - low) / 4, "query", 20)


def test_a_claim_passes_only_when_it_beats_its_control_beyond_the_ci():
    claim = CLAIMS["rsh.attention_idf"]  # >= 0.3
    beaten = Control("other heads", 0.1, iv(0.3, 0.1, 0.5))
    within = Control("other heads", 0.35, iv(0.05, -0.1, 0.2))
    assert claim.result(iv(0.4, 0.3, 0.5), control=beaten).status == "pass"
    result = claim.result(iv(0.4, 0.3, 0.5), control=within)
    assert result.status == "fail" and result.control == {
        "name": "other heads", "value": 0.35, "difference": 0.05, "difference_ci": [-0.1, 0.2], "beaten": False}
    lower = CLAIMS["mh.saturation"]  # < 1: the difference must lie below zero
    assert lower.result(0.3, control=Control("uniform", 0.95, iv(-0.6, -0.8, -0.4))).status == "pass"
    assert lower.result(0.3, control=Control("uniform", 0.35, iv(-0.05, -0.2, 0.1))).status == "fail"


def test_an_unmet_precondition_fails_with_its_reason_and_keeps_the_value():
    result = CLAIMS["axiom.tfc2"].result(iv(0.2, 0.1, 0.3), unmet="first gain within noise")
    assert result.status == "fail" and result.value == 0.2 and result.details["unmet"] == "first gain within noise"
    missing = CLAIMS["rsh.attention_idf"].not_computable("no scoring head")
    assert missing.status == "fail" and missing.value is None and missing.details == {"not_computable": "no scoring head"}


def test_matched_head_sets_keep_size_and_layers_and_avoid_the_set():
    heads = [(0, 1), (2, 0), (2, 3)]
    sets = matched_head_sets(heads, n_heads=6, n_sets=50, seed=1)
    assert len(sets) == 50 and len({tuple(s) for s in sets}) > 10
    for drawn in sets:
        assert sorted(l for l, _ in drawn) == [0, 2, 2] and not set(drawn) & set(heads) and len(set(drawn)) == 3
    with pytest.raises(ValueError, match="layer 0"):
        matched_head_sets([(0, 0), (0, 1)], n_heads=2, n_sets=1, seed=0)


def test_percentile_rank_is_high_for_a_planted_effect_and_not_for_a_null():
    rng = np.random.default_rng(0)
    groups = [f"q{i // 2}" for i in range(60)]
    controls = rng.normal(0, 1, (60, 50))
    planted = percentile_rank(controls[:, 0] + 3, controls, groups, unit="query", seed=0)
    assert planted.value == 1.0 and planted.low > 0.9 and planted.unit == "query" and planted.n == 30
    # a null set is one more draw like the controls: over the draws, its rank is uniform
    nulls = np.array([percentile_rank(controls[:, k], np.delete(controls, k, axis=1), groups, unit="query",
                                      seed=0, n_boot=2).value for k in range(50)])
    assert nulls.mean() == pytest.approx(0.5) and (nulls >= 0.95).sum() == 3


def test_random_directions_are_unit_orthogonal_and_seeded():
    v0 = np.random.default_rng(3).normal(size=16)
    a, b = random_directions(16, 4, 7, orthogonal_to=v0), random_directions(16, 4, 7, orthogonal_to=v0)
    assert np.array_equal(a, b) and np.allclose(a @ v0, 0) and np.allclose(np.linalg.norm(a, axis=1), 1)


def test_projecting_a_direction_out_of_the_embeddings_is_exact_and_reversible(tiny_cross_encoder):
    model = tiny_cross_encoder
    weight = word_embeddings(model).weight
    before = weight.detach().clone()
    spec = u0(model)
    with without_direction(model, spec.v0):
        assert torch.allclose(weight.detach().double() @ torch.as_tensor(spec.v0), torch.zeros(weight.shape[0],
                              dtype=torch.float64), atol=1e-5)
    assert torch.equal(weight.detach(), before)


def test_an_idf_edit_along_a_control_direction_moves_that_far_along_it(tiny_cross_encoder):
    model = tiny_cross_encoder
    weight = word_embeddings(model).weight
    before = weight.detach().clone().double()
    spec = u0(model)
    direction = random_directions(len(spec.v0), 1, 0, orthogonal_to=spec.v0)[0]
    token = model.tokenizer.convert_tokens_to_ids("bm25")
    with edit_idf(model, spec, [token], 2.0, direction=direction):
        moved = (weight.detach().double() - before)[token].numpy()
    expected = -2.0 * spec.u0.std() * spec.sigma0
    assert moved @ direction == pytest.approx(expected, rel=1e-4) and moved @ spec.v0 == pytest.approx(0, abs=1e-5)


def _silence_heads(model: HookedCrossEncoder, keep: set[tuple[int, int]]) -> None:
    """Zero every head's slice of the attention output projection except ``keep``'s (a planted circuit)."""
    d_head = model.cfg.d_model // model.cfg.n_heads
    with torch.no_grad():
        for layer, block in enumerate(model.base.encoder.layer):
            for head in range(model.cfg.n_heads):
                if (layer, head) not in keep:
                    block.attention.output.dense.weight[:, head * d_head:(head + 1) * d_head] = 0


def test_patching_query_outputs_of_every_head_gives_the_source_score(tiny_cross_encoder):
    model = tiny_cross_encoder
    target, source = model.tokenize(QUERIES, SHORT), model.tokenize(QUERIES, LONG)
    every = [(l, h) for l in range(model.cfg.n_layers) for h in range(model.cfg.n_heads)]
    scores = patch_query_outputs(model, target, source, [[], every])
    assert np.allclose(scores[:, 0], model(target).double().numpy(), atol=1e-5)
    assert np.allclose(scores[:, 1], model(source).double().numpy(), atol=1e-5)
    with pytest.raises(InputError, match="differ in their queries"):
        patch_query_outputs(model, target, model.tokenize(QUERIES[::-1], LONG), [every])


@pytest.mark.parametrize("planted", [True, False])
def test_the_length_percentile_finds_a_planted_head_and_not_a_random_one(tiny_checkpoint, planted):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", seed=5, n_heads=8))
    head = (1, 2)
    if planted:  # only head 1.2 carries anything from the document into [CLS]
        _silence_heads(model, {head})
    target, source = model.tokenize(QUERIES, SHORT), model.tokenize(QUERIES, LONG)
    controls = matched_head_sets([head], model.cfg.n_heads, 50, seed=0)
    scores = patch_query_outputs(model, target, source, [[head], *controls])
    moved = np.abs(scores - model(target).double().numpy()[:, None])
    rank = percentile_rank(moved[:, 0], moved[:, 1:], QUERIES, unit="query", seed=0)
    assert (rank.value >= 0.95) is planted
