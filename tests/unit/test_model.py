"""HookedCrossEncoder: faithfulness to Hugging Face, hook points, layer pieces."""

from __future__ import annotations

import pytest
import torch

from circuits.errors import HookError, InputError
from circuits.model import HookedCrossEncoder
from conftest import ARCHS

QUERIES = ["what is bm25", "how does attention work in ranking", "river bank"]
DOCS = ["bm25 is a ranking function for search", "attention heads score the relevance of a passage to the query "
        "and then some more words", "money in the bank"]


def hf_logits(path, batch, attn_implementation):
    from transformers import AutoModelForSequenceClassification

    ref = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation=attn_implementation).eval()
    with torch.no_grad():
        return ref(**batch.inputs()).logits


@pytest.mark.parametrize("n_labels", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_scores_match_hugging_face(tiny_checkpoint, arch, n_labels):
    path = tiny_checkpoint(arch, n_labels)
    model = HookedCrossEncoder.from_pretrained(path)
    batch = model.tokenize(QUERIES, DOCS)
    assert batch.attention_mask.min() == 0, "the batch must contain padding"
    if getattr(model.model.config, "type_vocab_size", 0) > 1:
        assert batch.token_type_ids is not None and batch.token_type_ids.max() == 1
    ours = model.logits(batch)
    for impl in ("eager", "sdpa") if arch != "deberta-v2" else ("eager",):  # DeBERTa has no SDPA attention
        assert torch.allclose(ours, hf_logits(path, batch, impl), atol=1e-5, rtol=0)
    expected = ours[:, 0] if n_labels == 1 else ours[:, 1] - ours[:, 0]
    assert torch.equal(model(batch), expected)
    torch.testing.assert_close(model.score_pairs(QUERIES, DOCS), expected, atol=1e-5, rtol=0)  # [CLS]-only last


@pytest.mark.parametrize("arch, variant", [("deberta-v2", "v2"), ("modernbert", "mean")])
def test_architecture_variants_match_hugging_face(tiny_checkpoint, arch, variant):
    """DeBERTa-v2's own kind (separate position projections, absolute positions, segments); ModernBERT pooling
    the mean of the valid positions, where the last block's other rows matter."""
    path = tiny_checkpoint(arch, 1, variant=variant)
    model = HookedCrossEncoder.from_pretrained(path)
    batch = model.tokenize(QUERIES, DOCS)
    assert batch.attention_mask.min() == 0 and model.reads_cls_only == (variant != "mean")
    ours = model.logits(batch)
    torch.testing.assert_close(ours, hf_logits(path, batch, "eager"), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.score_pairs(QUERIES, DOCS), ours[:, 0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_pieces_reproduce_the_forward(tiny_checkpoint, arch):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint(arch, 2))
    batch = model.tokenize(QUERIES, DOCS)
    scores, cache = model.run_with_cache(batch)
    mask = model.extended_mask(batch.attention_mask)
    with torch.inference_mode():
        assert torch.allclose(model.embed(batch), cache["hook_embed"], atol=1e-6)
        for layer in range(model.cfg.n_layers):
            out = model.block(layer, cache["resid_pre", layer], mask)
            assert torch.allclose(out, cache["resid_post", layer], atol=1e-5)
        assert torch.allclose(model.run_from(0, cache["hook_embed"], mask), scores, atol=1e-5)
        assert torch.allclose(model.run_from(1, cache["resid_pre", 1], mask, cls_only_last=False), scores, atol=1e-5)


def test_cache_has_every_hook_with_documented_shapes(tiny_cross_encoder):
    model = tiny_cross_encoder
    batch = model.tokenize(QUERIES, DOCS)
    _, cache = model.run_with_cache(batch)
    b, p = batch.input_ids.shape
    h, d, m = model.cfg.n_heads, model.cfg.d_head, model.cfg.d_model
    assert sorted(cache.keys()) == sorted(model.hook_names)
    assert cache["hook_embed"].shape == (b, p, m)
    for kind in ("q", "k", "v", "z"):
        assert cache[kind, 0].shape == (b, p, h, d)
    assert cache["pattern", 1].shape == (b, h, p, p)
    assert torch.allclose(cache["pattern", 1].sum(-1), torch.ones(b, h, p))
    assert cache["pattern", 1][batch.attention_mask[:, None, None, :].expand(b, h, p, p) == 0].max() == 0
    assert cache["hook_cls"].shape == (b, m) and cache["hook_logit"].shape == (b, 1)
    assert torch.equal(cache["resid_post", 0], cache["resid_pre", 1])
    assert "ActivationCache(" in repr(cache) and "hook_embed" in repr(cache)
    assert ("z", 0) in cache and "blocks.0.attn.hook_z" in cache and "hook_embed" in cache
    assert ("z", 99) not in cache and ("nonsense", 0) not in cache and ("z",) not in cache


def test_z_is_pattern_times_v(tiny_cross_encoder):
    batch = tiny_cross_encoder.tokenize(QUERIES, DOCS)
    _, cache = tiny_cross_encoder.run_with_cache(batch)
    z = torch.einsum("bhqk,bkhd->bqhd", cache["pattern", 0], cache["v", 0])
    assert torch.allclose(z, cache["z", 0], atol=1e-6)


def test_overwriting_a_head_changes_only_through_that_head(tiny_cross_encoder):
    model = tiny_cross_encoder
    batch = model.tokenize(QUERIES, DOCS)
    base = model(batch)

    def zero_head(z, hook):
        z = z.clone()
        z[:, :, 2] = 0
        return z

    patched = model.run_with_hooks(batch, [("blocks.1.attn.hook_z", zero_head)])
    assert not torch.allclose(patched, base)
    assert torch.equal(model(batch), base), "hooks must be removed after the run"
    # identity hook on every point leaves scores bit-identical
    same = model.run_with_hooks(batch, [(lambda n: True, lambda t, hook: t)])
    assert torch.equal(same, base)


def test_per_head_q_hook_edits_one_head(tiny_cross_encoder):
    model = tiny_cross_encoder
    batch = model.tokenize(QUERIES, DOCS)
    seen = {}

    def scale_q(q, hook):
        q = q.clone()
        q[:, :, 1] *= 0
        return q

    def grab(pattern, hook):
        seen["pattern"] = pattern

    model.run_with_hooks(batch, [("blocks.0.attn.hook_q", scale_q), ("blocks.0.attn.hook_pattern", grab)])
    key_counts = batch.attention_mask.sum(-1)
    uniform = 1.0 / key_counts[:, None].float()
    head1 = seen["pattern"][:, 1]  # zero queries -> uniform attention over real keys
    for i in range(len(batch)):
        assert torch.allclose(head1[i, :, : key_counts[i]], uniform[i].expand_as(head1[i, :, : key_counts[i]]))
    assert not torch.allclose(seen["pattern"][:, 0, :, 0], uniform.expand(-1, head1.shape[1]))


def test_bad_hooks_are_refused_and_removed(tiny_cross_encoder):
    model = tiny_cross_encoder
    batch = model.tokenize(QUERIES, DOCS)
    with pytest.raises(HookError, match="blocks.0.attn.hook_z"):
        model.run_with_hooks(batch, [("blocks.0.attn.z", lambda t, h: t)])
    with pytest.raises(HookError, match="returned shape"):
        model.run_with_hooks(batch, [("blocks.0.hook_attn_out", lambda t, h: t[:, :1])])
    assert not model.registry.active


def test_empty_query_is_refused(tiny_cross_encoder):
    with pytest.raises(InputError, match="query 1 is empty"):
        tiny_cross_encoder.tokenize(["a query", "  "], ["doc", "doc"])
    with pytest.raises(InputError, match="one document per query"):
        tiny_cross_encoder.tokenize(["a"], ["b", "c"])


def test_long_documents_are_truncated_and_counted(tiny_cross_encoder):
    model = tiny_cross_encoder
    before = model.truncated_documents
    batch = model.tokenize(["bm25 ranking", "short"], ["relevance " * 200, "a doc"])
    assert batch.input_ids.shape[1] == model.cfg.max_length
    assert batch.n_truncated == 1 and model.truncated_documents == before + 1
    ids = batch.input_ids[0].tolist()
    assert ids[:4] == model.tokenizer("bm25 ranking")["input_ids"][:3] + [model.tokenizer.sep_token_id]
    with pytest.raises(InputError, match="Shorten the query"):
        model.tokenize(["relevance " * 200], ["doc"])


def test_tiny_tokenizer_knows_its_words(tiny_cross_encoder):
    tok = tiny_cross_encoder.tokenizer
    assert len(tok) == tiny_cross_encoder.model.config.vocab_size
    assert tok.unk_token_id not in tok("what is bm25 ranking xyz")["input_ids"]


def test_score_pairs_runs_shortest_first_and_returns_input_order(tiny_cross_encoder):
    queries = ["bank river", "what is bm25 ranking", "a"] * 5
    docs = ["money " * (i % 7 + 1) for i in range(15)]
    one_by_one = torch.cat([tiny_cross_encoder(tiny_cross_encoder.tokenize([q], [d])) for q, d in zip(queries, docs)])
    assert torch.allclose(tiny_cross_encoder.score_pairs(queries, docs, batch_size=4), one_by_one, atol=1e-5)
    assert tiny_cross_encoder.score_pairs([], []).shape == (0,)
