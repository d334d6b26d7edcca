"""Foundation checks every other claim rests on: the hooked model scores exactly as Hugging Face does."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from circuits.items import Items
from circuits.report import ClaimResult

TOLERANCE = 1e-5  # absolute, against HF eager attention: the same arithmetic, so in practice exactly 0


def sample_pairs(corpus, n: int, seed: int) -> list[tuple[str, str, str]]:
    """``n`` (pair id ``<query id>/<doc id>``, query, document), seeded, from each query's retrieved (else judged)
    documents."""
    rng = random.Random(seed)
    pool = [(qid, did) for qid in sorted(corpus.queries)
            for did in (corpus.retrieved.get(qid) or sorted(corpus.qrels.get(qid, {}))) if did in corpus.docs]
    chosen = rng.sample(pool, min(n, len(pool)))
    return [(f"{q}/{d}", corpus.queries[q], corpus.docs[d]) for q, d in chosen]


@pytest.fixture(scope="module")
def logits(hooked_model, corpus, axiom_session) -> dict:
    """Logits of sampled corpus pairs (padded batches of 16, shortest documents first): the hooked model, and
    plain HF with eager and with SDPA attention; plus how many documents were truncated."""
    from transformers import AutoModelForSequenceClassification

    pairs = sorted(sample_pairs(corpus, axiom_session.pairs, axiom_session.seed), key=lambda p: len(p[2]))
    batches = [hooked_model.tokenize([q for _, q, _ in pairs[i:i + 16]], [d for _, _, d in pairs[i:i + 16]])
               for i in range(0, len(pairs), 16)]
    out = {"pairs": len(pairs), "ids": [pid for pid, _, _ in pairs], "truncated": sum(b.n_truncated for b in batches)}
    with torch.inference_mode():
        out["hooked"] = torch.cat([hooked_model.logits(b) for b in batches])
        for implementation in ("eager", "sdpa"):
            try:
                reference = AutoModelForSequenceClassification.from_pretrained(
                    axiom_session.resolved_checkpoint(), revision=axiom_session.revision, trust_remote_code=False,
                    use_safetensors=not axiom_session.allow_pickle or None, attn_implementation=implementation,
                ).eval().to(axiom_session.device)
            except ValueError as exc:  # an architecture without that kernel (DeBERTa has no SDPA)
                if implementation == "eager":
                    raise
                out["unsupported"] = str(exc).split(".")[0]
                continue
            out[implementation] = torch.cat([reference(**b.inputs()).logits for b in batches])
    return out


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_scores_equal_plain_hugging_face(logits, record_check, report_section, attn_implementation):
    """Faithfulness gate: |hooked logit − HF logit| over sampled corpus pairs.

    Against HF eager (the arithmetic the hooks wrap): at most 1e-5. Against HF's default SDPA kernel, whose
    float error is its own and grows with the inputs: at most 1e-5 beyond HF eager's own distance to SDPA,
    pair by pair (a hooked model that drifted from eager would break it; kernel noise alone cannot).
    """
    if attn_implementation not in logits:
        pytest.skip(f"Hugging Face cannot run this model with {attn_implementation}: {logits['unsupported']}")
    diff = (logits["hooked"] - logits[attn_implementation]).abs()
    kernel_gap = (logits["eager"] - logits["sdpa"]).abs() if "sdpa" in logits else None
    allowed = torch.full_like(diff, TOLERANCE)
    if attn_implementation == "sdpa":
        allowed += kernel_gap
    worst, excess = diff.max().item(), (diff - allowed).max().item()
    report_section("faithfulness", {"pairs": logits["pairs"], "tolerance": TOLERANCE,
                                    "truncated_documents": logits["truncated"],
                                    f"max_abs_logit_diff_{attn_implementation}": worst})
    threshold = f"<= {TOLERANCE}" + (" + |HF eager − HF sdpa|" if attn_implementation == "sdpa" else "")
    record_check(ClaimResult(
        id=f"foundation.faithful_{attn_implementation}", status="pass" if excess <= 0 else "fail", value=worst,
        threshold=threshold, statement="hooked logits equal plain Hugging Face logits",
        provenance="prior-art §8.1 (no anchor checks this)",
        details={"pairs": logits["pairs"],
                 "hf_eager_vs_sdpa_max_abs": None if kernel_gap is None else kernel_gap.max().item()},
        items=Items.of(logits["ids"], abs_logit_diff=per_pair(diff), allowed=per_pair(allowed))))
    assert excess <= 0, (f"hooked model differs from Hugging Face ({attn_implementation}) by up to {worst:.3g}, "
                         f"beyond {threshold}")


def per_pair(values: torch.Tensor) -> np.ndarray:
    """The largest entry of each pair's row (its logits)."""
    return values.reshape(len(values), -1).max(1).values.double().cpu().numpy()


def test_default_checkpoint_model_card(axiom_session, hooked_model, report_section):
    """The embedded default's model card (measured when it was built) goes into the report beside the claims."""
    if axiom_session.checkpoint:
        pytest.skip("--checkpoint names another model: the default checkpoint's card does not apply")
    from axiomtests.model_card import model_card

    card = model_card(axiom_session.resolved_checkpoint())
    report_section("default checkpoint (model card, measured at build)", {
        key: value for key, value in card.items() if not isinstance(value, (dict, list))})
    for name, value in card.items():
        if isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values()):
            report_section(f"default checkpoint: {name}", value)
        elif isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            for label_set, scores in value.items():  # nDCG@10 by label set
                report_section(f"default checkpoint: {name} ({label_set})", scores)
    report_section("default checkpoint: quality targets", {
        t["target"]: " ".join([str(t["difference"]), *([str(t["ci95"])] if t["ci95"] else []),
                               "met" if t["met"] else "not met"]) for t in card.get("targets", [])})
    assert card, "the default checkpoint has an empty model card"
