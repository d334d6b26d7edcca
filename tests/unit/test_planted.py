"""Known positive, known negative: every harness check (axiomtests.harness: the claims' measures on small
synthetic tasks, judged by the registry exactly as the suite judges the default) passes on a tiny model with the
mechanism planted by hand (circuits.tiny.planted_cross_encoder) and fails on a random model of the same size, or
on the planted model with the carrying head silenced."""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests import harness as H
from circuits.tiny import planted_cross_encoder


def load(folder):
    from circuits.model import HookedCrossEncoder

    return HookedCrossEncoder.from_pretrained(folder)


@pytest.fixture(scope="module", params=["planted", "random"])
def model(request, tmp_path_factory, tiny_checkpoint):
    folder = (planted_cross_encoder(tmp_path_factory.mktemp("planted")) if request.param == "planted"
              else tiny_checkpoint("bert", n_layers=3, n_heads=4, d_model=32))
    return request.param, H.Probe(load(folder))


def expected(kind: str) -> str:
    return "pass" if kind == "planted" else "fail"


def test_matching_heads_attend_by_similarity_only_when_planted(model):
    kind, probe = model
    result = H.check_similarity(probe)
    heads, r_held = probe.similarity
    assert len(result.items) == np.isfinite(r_held).sum() and result.items.values["matching_head"].sum() == len(heads)
    assert (result.status, heads == [(0, 0)]) == (("pass", True) if kind == "planted" else ("fail", False)), result


@pytest.mark.parametrize("check", [H.check_u0, H.check_saturation, H.check_u0_causal, H.check_stmc1,
                                   H.check_tfc1_vs_stmc1, H.check_upstream_agreement, H.check_u0_edit],
                         ids=["idf.u0", "mh.saturation", "idf.u0_causal", "axiom.stmc1", "rsh.tfc1_vs_stmc1",
                              "rsh.upstream_agreement", "idf.u0_edit"])
def test_the_check_passes_only_when_planted(model, check):
    kind, probe = model
    result = check(probe)
    assert result.status == expected(kind), result


def test_the_uniform_null_alone_is_fooled_by_a_random_head(tiny_checkpoint):
    """Why mh.saturation also needs the term preference: a random 2-layer model's head that happens to prefer a
    token saturates on it by softmax arithmetic, and beats uniform attention."""
    from circuits.matching import head_similarity_correlation
    from circuits.roles import top_matching

    probe = H.Probe(load(tiny_checkpoint("bert", n_layers=2, n_heads=4, d_model=32)))
    pairs = H.matching_pairs()
    heads = top_matching(head_similarity_correlation(probe.model, [p.query for p in pairs],
                                                     [p.document for p in pairs]))
    result, uniform_only = (H.check_saturation(probe, heads, preference=p) for p in (True, False))
    assert (result.status, uniform_only.status) == ("fail", "pass"), (heads, result, uniform_only)


@pytest.mark.parametrize("knocked_out", [False, True], ids=["planted", "matching-head-silenced"])
def test_ablating_the_matching_head_removes_the_gain_only_when_it_carries_it(tmp_path, knocked_out):
    from circuits.knockout import silence_heads

    probe = H.Probe(load(planted_cross_encoder(tmp_path / "planted")))
    silence_heads(probe.model, [(0, 0)] if knocked_out else [])
    result = H.check_ablation(probe, heads=[(0, 0)])
    if not knocked_out:  # the planted path makes a query term raise the score (axiom.tfc1's bar)
        assert result.details["tfc1_share_raised"] >= 0.75, result
    assert result.status == ("fail" if knocked_out else "pass"), result


@pytest.mark.parametrize("knocked_out", [False, True], ids=["planted", "scoring-head-silenced"])
def test_path_patching_finds_the_planted_scoring_head_late_and_alone(tmp_path, knocked_out):
    """rsh.path_to_logit on TFC1 and STMC1: the planted scoring head 2.0 is found late and alone (0.85, CI from
    0.82); silenced, what moves the score is random heads of no consistent sign (0.66 by its point value, with a
    CI from −1.2: the flat-map control fails it)."""
    from circuits.knockout import silence_heads

    probe = H.Probe(load(planted_cross_encoder(tmp_path / "planted")))
    silence_heads(probe.model, [(2, 0)] if knocked_out else [])
    result = H.check_path_to_logit(probe)
    assert {"baseline", "perturbed", "selection_half", "patched[2.0]"} <= set(result.items.values)
    assert result.status == ("fail" if knocked_out else "pass"), result
    if not knocked_out:
        assert result.details["top_tfc1"] == result.details["top_stmc1"] == "2.0"


def test_the_planted_scoring_head_weights_query_tokens_by_idf_and_a_random_one_does_not(model):
    kind, probe = model
    # the planted scoring head, and the rest of its layer
    result = H.check_attention_idf(probe, heads=[(2, 0)], others=[(2, 1), (2, 2), (2, 3)])
    assert result.status == expected(kind), result


def test_the_planted_contextualisation_heads_are_found_and_weight_by_idf_a_random_models_are_not(model):
    kind, probe = model
    result = H.check_contextualisation(probe)
    if kind == "planted":
        found = (sorted(result.details["contextualisation_heads"]), result.details["scoring_heads"], result.status)
        assert found == ([(1, 0), (1, 1)], [(2, 0)], "pass"), result
    else:
        assert result.status == "fail", result


@pytest.mark.parametrize("variant", ["length-normalised", "reader-silenced", "matching-grows-with-length"])
def test_patching_the_matching_head_from_a_longer_document_lowers_the_score_only_when_it_normalises(tmp_path,
                                                                                                   variant):
    """mh.length: the known positive is the length-normalised planted model; the negatives are the same model
    with its reader (1.2) silenced, and the base planted model, whose matching signal grows with document length
    (its score rises as text is appended)."""
    from circuits.knockout import silence_heads

    probe = H.Probe(load(planted_cross_encoder(tmp_path / "planted",
                                               length_normalised=variant != "matching-grows-with-length")))
    silence_heads(probe.model, [(1, 2)] if variant == "reader-silenced" else [])
    result = H.check_length(probe, heads=[(0, 0)])
    assert result.status == ("pass" if variant == "length-normalised" else "fail"), result


@pytest.mark.parametrize("variant", ["signed-idf", "idf-weights-only", "random"])
def test_lowering_an_injected_terms_idf_demotes_the_document_only_when_idf_is_signed(tmp_path, tiny_checkpoint,
                                                                                      variant):
    """edit.adversarial (§6.3): a high-IDF query term injected into a document raises its score; lowering the
    term's IDF through U0 must rank the document below its clean version more often than random directions do.
    Only a model whose low-IDF matches count against a document (``signed_idf``) can; with IDF that only weights
    matches, the injected match keeps a gain however low its IDF."""
    folder = (tiny_checkpoint("bert", n_layers=3, n_heads=4, d_model=32) if variant == "random" else
              planted_cross_encoder(tmp_path / "planted", signed_idf=variant == "signed-idf"))
    result = H.check_adversarial(H.Probe(load(folder)))
    if variant != "random":  # a random model's injections barely move it
        assert result.details.get("attacks", 0) >= 50, result
    assert result.status == ("pass" if variant == "signed-idf" else "fail"), result


def test_semantic_bm_on_the_planted_circuit_beats_bm25_and_control_circuits_and_on_a_random_model_does_not(model):
    """semantic_bm.fit and .generalization: SemanticBM on the planted matching head and U0 predicts the planted
    model's scores better than BM25 and than circuits of other heads and random directions, at every query
    length; on a random model it does not."""
    kind, probe = model
    fit, general = H.check_semantic_bm(probe, heads=[(0, 0)])
    assert (fit.status, general.status) == (expected(kind), expected(kind)), (fit, general)


def test_check_model_runs_every_check_and_check_zoo_reports_only_surprises(model):
    kind, probe = model
    results = H.check_model(probe.model, ["idf.u0", "semantic_bm.fit"])
    assert list(results) == ["idf.u0", "semantic_bm.fit"]
    surprises = H.check_zoo({kind: (probe.model, {"idf.u0": expected(kind), "mh.similarity": "pass"})})
    assert [(name, claim) for name, claim, _, _ in surprises] == ([] if kind == "planted" else
                                                                   [(kind, "mh.similarity")])
    with pytest.raises(KeyError, match="no harness check"):
        H.check_model(probe.model, ["axiom.nonexistent"])
