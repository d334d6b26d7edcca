"""Foundation checks every other claim rests on: the hooked model scores exactly as Hugging Face does."""

from __future__ import annotations

import random

import pytest
import torch

from circuits.report import ClaimResult

TOLERANCE = 1e-5  # absolute, against HF eager attention: the same arithmetic, so in practice exactly 0
SDPA_RTOL = 1e-6  # SDPA is another kernel: its float error grows with the logit, so 1e-5 + 1e-6·|logit|


def sample_pairs(corpus, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (query, document) pairs, seeded, from each query's retrieved (else judged) documents."""
    rng = random.Random(seed)
    pool = [(qid, did) for qid in sorted(corpus.queries)
            for did in (corpus.retrieved.get(qid) or sorted(corpus.qrels.get(qid, {}))) if did in corpus.docs]
    chosen = rng.sample(pool, min(n, len(pool)))
    return [(corpus.queries[q], corpus.docs[d]) for q, d in chosen]


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_scores_equal_plain_hugging_face(hooked_model, corpus, axiom_session, axiom_report, attn_implementation):
    """Faithfulness gate: max |hooked logit − HF logit| over sampled corpus pairs, padded batches of 16."""
    from transformers import AutoModelForSequenceClassification

    reference = AutoModelForSequenceClassification.from_pretrained(
        axiom_session.resolved_checkpoint(), revision=axiom_session.revision, trust_remote_code=False,
        use_safetensors=not axiom_session.allow_pickle or None, attn_implementation=attn_implementation,
    ).eval().to(axiom_session.device)
    pairs = sample_pairs(corpus, axiom_session.pairs, axiom_session.seed)
    rtol = SDPA_RTOL if attn_implementation == "sdpa" else 0.0
    worst, excess, truncated = 0.0, 0.0, 0
    for start in range(0, len(pairs), 16):
        queries, docs = zip(*pairs[start:start + 16])
        batch = hooked_model.tokenize(list(queries), list(docs))
        truncated += batch.n_truncated
        with torch.inference_mode():
            expected = reference(**batch.inputs()).logits
        diff = (hooked_model.logits(batch) - expected).abs()
        worst = max(worst, diff.max().item())
        excess = max(excess, (diff - TOLERANCE - rtol * expected.abs()).max().item())
    section = axiom_report.sections.setdefault("faithfulness", {"pairs": len(pairs), "tolerance": TOLERANCE,
                                                                "truncated_documents": truncated})
    section[f"max_abs_logit_diff_{attn_implementation}"] = worst
    axiom_report.add(ClaimResult(
        id=f"foundation.faithful_{attn_implementation}", status="pass" if excess <= 0 else "fail",
        value=worst, threshold=f"<= {TOLERANCE}" + (f" + {rtol}·|logit|" if rtol else ""), statement="hooked logits equal plain Hugging Face logits",
        provenance="prior-art §8.1 (no anchor checks this)", details={"pairs": len(pairs)}))
    assert excess <= 0, (f"hooked model differs from Hugging Face ({attn_implementation}) by up to {worst:.3g}, "
                         f"beyond {TOLERANCE} + {rtol}·|logit|")


def test_default_checkpoint_model_card(axiom_session, hooked_model, axiom_report):
    """The embedded default's model card (measured when it was built) goes into the report beside the claims."""
    if axiom_session.checkpoint:
        pytest.skip("--checkpoint names another model: the default checkpoint's card does not apply")
    from axiomtests.default_model import model_card

    card = model_card(axiom_session.resolved_checkpoint())
    axiom_report.sections["default checkpoint (model card, measured at build)"] = {
        key: value for key, value in card.items() if not isinstance(value, (dict, list))}
    for name, value in card.items():
        if isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values()):
            axiom_report.sections[f"default checkpoint: {name}"] = value
    assert card, "the default checkpoint has an empty model card"
