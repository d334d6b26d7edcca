"""U0 spectrum, reversible IDF edits, segments and matching scores on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuits.idf import edit_idf, u0, word_embeddings
from circuits.matching import matching_scores, segments, similarity_correlation, token_cosine
from circuits.model import HookedCrossEncoder
from conftest import ARCHS


def test_u0_is_the_top_singular_vector_with_canonical_sign(tiny_cross_encoder):
    spec = u0(tiny_cross_encoder)
    weight = word_embeddings(tiny_cross_encoder).weight.detach().double().numpy()
    assert np.allclose(weight @ spec.v0, spec.sigma0 * spec.u0, atol=1e-8)
    assert spec.u0.sum() > 0 and spec.sign_rule == "sum(U0) > 0"
    reference = -spec.u0 * 3 + np.random.default_rng(0).normal(0, 1e-3, spec.u0.shape)
    anti = u0(tiny_cross_encoder, reference=-reference)  # positively correlated reference forces a flip
    assert np.corrcoef(anti.u0, -reference)[0, 1] < 0


def test_idf_edit_moves_only_u0_of_the_token_and_is_reversible(tiny_cross_encoder):
    model = tiny_cross_encoder
    weight = word_embeddings(model).weight
    before = weight.detach().clone()
    reference = np.arange(weight.shape[0], dtype=float)
    spec = u0(model, reference=reference)
    token = model.tokenizer.convert_tokens_to_ids("bm25")
    batch = model.tokenize(["what is bm25"], ["bm25 bm25 bm25"])
    base = model(batch)
    with edit_idf(model, spec, [token], steps=2.0):
        edited = weight.detach().double()
        moved = (edited - before.double()).abs().sum(-1).nonzero().flatten().tolist()
        assert moved == [token]
        new_u0 = (edited[token].numpy() @ spec.v0) / spec.sigma0
        assert new_u0 == pytest.approx(spec.u0[token] - 2.0 * spec.u0.std(), abs=1e-5)
        assert not torch.allclose(model(batch), base)
    assert torch.equal(weight.detach(), before)
    with pytest.raises(RuntimeError), edit_idf(model, spec, [token], steps=1.0):
        raise RuntimeError("boom")
    assert torch.equal(weight.detach(), before)


@pytest.mark.parametrize("arch", ARCHS)
def test_segments_find_query_and_document(tiny_checkpoint, arch):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint(arch))
    batch = model.tokenize(["what is bm25", "river"], ["bm25 is a ranking function", "bank"])
    seg = segments(model, batch)
    tok = model.tokenizer
    assert tok.decode(batch.input_ids[0][seg.query[0]]) == "what is bm25"
    assert tok.decode(batch.input_ids[0][seg.doc[0]]) == "bm25 is a ranking function"
    assert tok.decode(batch.input_ids[1][seg.doc[1]]) == "bank"
    assert not (seg.query & seg.doc).any()


def test_matching_scores_sum_document_attention(tiny_cross_encoder):
    model = tiny_cross_encoder
    batch = model.tokenize(["what is bm25"], ["bm25 is a ranking function"])
    seg = segments(model, batch)
    _, cache = model.run_with_cache(batch, names_filter=["blocks.0.attn.hook_pattern"])
    pattern = cache["pattern", 0]
    ms = matching_scores(pattern, seg)
    q = seg.query[0].nonzero().flatten()
    d = seg.doc[0].nonzero().flatten()
    expected = pattern[0][:, q][:, :, d].sum(-1)
    assert torch.allclose(ms[0][:, q], expected)
    assert ms[0][:, ~seg.query[0]].abs().max() == 0


def test_similarity_correlation_is_one_for_a_head_that_attends_by_similarity(tiny_cross_encoder):
    model = tiny_cross_encoder
    batch = model.tokenize(["what is bm25 ranking"], ["bm25 is a ranking function of the query"])
    seg = segments(model, batch)
    cosine = token_cosine(model, batch.input_ids)
    pattern = torch.rand(1, 2, *cosine.shape[1:], generator=torch.Generator().manual_seed(0))
    pattern[:, 0] = cosine * 0.5 + 0.1  # head 0 is a perfect (affine) similarity matcher
    r = similarity_correlation(pattern, cosine, seg)
    assert r[0] == pytest.approx(1.0) and abs(r[1]) < 0.5


def test_query_token_attention_runs_on_a_device_that_is_not_the_cpu(tiny_checkpoint):
    """The [CLS]/query-row attention vs IDF measure keeps CPU and device tensors apart (it mixed them once)."""
    from circuits.matching import query_token_attention
    from fake_device import fake_device_or_skip

    device = fake_device_or_skip()
    queries, docs = ["what is bm25", "river bank money"], ["bm25 is a ranking function", "the bank of the river"]
    idf = np.random.default_rng(0).random(200)
    for rows in ("cls", "query"):
        cpu = query_token_attention(HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert")), queries, docs,
                                    [(0, 1), (1, 2)], idf, rows)
        on_device = query_token_attention(HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert"), device=device),
                                          queries, docs, [(0, 1), (1, 2)], idf, rows)
        assert np.isfinite(list(cpu.values())).all()
        np.testing.assert_allclose(list(on_device.values()), list(cpu.values()), atol=1e-6)
