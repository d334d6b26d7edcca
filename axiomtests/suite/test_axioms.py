"""Behavioural axioms (paper §2.1, Table 1): TFC1, STMC1, TFC2, LNC1 on the diagnostic datasets.

TFC1 and STMC1 are scored length-matched, as Fang's constraints are stated: the document with the term (or its
synonym) appended against the same document with another word of as many pieces appended at the same place, so
LNC1's length penalty is in neither side. TFC2 and LNC1 are scored on the unpadded baseline (``pair.document``):
the filler only exists to align pairs for patching, and its own effect is measured by the FILLER controls.
Hypothesis then searches the base set for a violating example and the shrunk, minimal one lands in the report.
"""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.behaviour import counterexample, word_curves
from axiomtests.claims import CLAIMS, NotComputable
from circuits.axioms import compliance, gains, level_curves, lower_at_end
from circuits.items import Items
from circuits.measures.axioms import (compliance_measure, length_matched_gains, saturation_against_a_line,
                                     share_beyond_indifference)
from circuits.saturation import saturation_ratio, saturation_unmet


@pytest.fixture(scope="module")
def base_pairs(corpus):
    from axiomtests.perturb import base_set

    return base_set(corpus)


def compliance_result(claim_id: str, model, pairs, words: list[str], seed: int, unmatched: np.ndarray | None = None):
    """The claim's result on length-matched gains, with the share against the unperturbed document (a word shorter)
    in details for comparison."""
    from axiomtests.perturb import random_word_pairs

    controls = random_word_pairs(pairs, model.tokenizer, words, seed)
    kept, d = length_matched_gains(model, pairs, controls)
    if not kept:
        raise NotComputable(f"no {claim_id} pair has a control word (a corpus word of the vocabulary in neither the "
                            "query nor the document, as many pieces as the inserted word): nothing to match its "
                            "length with")
    share, indifference, items, details = compliance_measure(model, kept, seed, d)
    unmatched = gains(model, pairs) if unmatched is None else unmatched
    return CLAIMS[claim_id].result(share, control=indifference, items=items, **details,
                                   pairs_without_control_word=len(pairs) - len(kept),
                                   share_above_unperturbed=float(compliance(unmatched, pairs)[0].mean()))


@pytest.mark.claim("axiom.tfc1")
def test_tfc1(hooked_model, datasets, tfc1_gains, control_words, base_pairs, axiom_session, report_section,
              check_claim):
    from axiomtests.strategies import tfc1_pairs

    result = compliance_result("axiom.tfc1", hooked_model, datasets["TFC1"], control_words, axiom_session.seed,
                               tfc1_gains)
    result.details["minimal_counterexample"] = counterexample(
        hooked_model, tfc1_pairs(base=base_pairs, tokenizer=hooked_model.tokenizer), control_words,
        axiom_session.seed)
    controls = [p for p in datasets["FILLER"] if p.id.startswith("FILLER/TFC1/")]
    filler = gains(hooked_model, controls[: axiom_session.pairs])
    report_section("filler control", {
        "filler": controls[0].filler.text if controls else None, "pairs": len(filler),
        "mean_delta": float(filler.mean()) if len(filler) else None,
        "mean_abs_delta": float(np.abs(filler).mean()) if len(filler) else None})
    check_claim(result)


@pytest.mark.claim("axiom.stmc1")
def test_stmc1(hooked_model, datasets, control_words, base_pairs, axiom_session, check_claim):
    from axiomtests.strategies import stmc1_pairs

    result = compliance_result("axiom.stmc1", hooked_model, datasets["STMC1"], control_words, axiom_session.seed)
    result.details["minimal_counterexample"] = counterexample(
        hooked_model, stmc1_pairs(base=base_pairs, tokenizer=hooked_model.tokenizer), control_words,
        axiom_session.seed)
    check_claim(result)


@pytest.mark.claim("axiom.tfc2")
def test_tfc2(hooked_model, datasets, control_words, report_section, axiom_session, plot_curve, check_claim):
    chains = {variant: [p for p in datasets["TFC2"] if p.variant == variant] for variant in ("appended", "pronoun")}
    qids, curves = {}, {}
    for variant, pairs in chains.items():
        qids[variant], curves[variant] = level_curves(hooked_model, pairs)
    curves["random word appended"] = word_curves(hooked_model, chains["appended"], control_words, axiom_session.seed)
    term, word = (np.diff(curves[k], axis=1) for k in ("appended", "random word appended"))
    steps = term - word  # [queries, k]: what the query term adds beyond any appended token
    value, first, linear, items = saturation_against_a_line(qids["appended"], steps, axiom_session.seed)
    report_section("TFC2 mean score by occurrences", [
        {"variant": v, **{f"k={k}": float(m[:, k].mean()) for k in range(m.shape[1])}} for v, m in curves.items()])
    plot_curve("tfc2_saturation", range(curves["appended"].shape[1]), curves,
               title="TFC2: score by occurrences of a query term", xlabel="occurrences k", ylabel="score")
    check_claim(CLAIMS["axiom.tfc2"].result(
        value, control=linear, unmet=saturation_unmet(first, value.value), items=items, queries=len(steps),
        first_gain=first.as_dict(), later_gains=[float(g) for g in steps[:, 1:].mean(0)],
        term_only_ratio=saturation_ratio(term), random_word_ratio=saturation_ratio(word),
        pronoun_ratio=saturation_ratio(np.diff(curves["pronoun"], axis=1))))


@pytest.mark.claim("axiom.lnc1")
def test_lnc1(hooked_model, datasets, report_section, axiom_session, plot_curve, check_claim):
    pairs = datasets["LNC1"]
    qids, matrix = level_curves(hooked_model, pairs)
    lower = lower_at_end(matrix)
    report_section("LNC1 mean score by appended sentences", {
        f"i={i}": float(matrix[:, i].mean()) for i in range(matrix.shape[1])})
    plot_curve("lnc1_length", range(matrix.shape[1]), {"LNC1": matrix},
               title="LNC1: score by appended irrelevant sentences", xlabel="sentences appended",
               ylabel="score")
    items = Items.of(qids, qids, score=matrix, ok=lower)
    share, indifference = share_beyond_indifference(items, axiom_session.seed)
    check_claim(CLAIMS["axiom.lnc1"].result(
        share, control=indifference, items=items, queries=len(lower),
        mean_drop=float((matrix[:, 0] - matrix[:, -1]).mean())))
