"""Known positive, known negative: the matching and IDF measures pass on a tiny model with the mechanism planted
by hand (circuits.tiny.planted_cross_encoder) and fail on a random model of the same size, judged by the registry
exactly as the suite judges the default."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from axiomtests.claims import CLAIMS
from circuits.controls import matched_head_sets
from circuits.idf import u0
from circuits.matching import attention_by_level, head_similarity_correlation
from circuits.measures.matching import preference_unmet, saturation_against_uniform, similarity_gap, term_preference
from circuits.pairs import align_records as aligned
from circuits.roles import same_layer_heads, selection_half, top_matching
from circuits.saturation import saturation_unmet
from circuits.stats import group_bootstrap
from circuits.tiny import PLANTED_SYNONYMS, planted_cross_encoder, planted_idf

WORDS = ("bank river money water city music science history answer question search ranking model score token "
         "passage").split()  # one wordpiece each in the tiny vocabulary


@pytest.fixture(scope="module", params=["planted", "random"])
def model(request, tmp_path_factory, tiny_checkpoint):
    from circuits.model import HookedCrossEncoder

    folder = (planted_cross_encoder(tmp_path_factory.mktemp("planted")) if request.param == "planted"
              else tiny_checkpoint("bert", n_layers=3, n_heads=4, d_model=32))
    return request.param, HookedCrossEncoder.from_pretrained(folder)


def matching_pairs(n: int = 60, seed: int = 0):
    """Three-word queries and ten-word documents holding one of the query's words."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        query = rng.choice(WORDS, 3, replace=False)
        doc = [*rng.choice([w for w in WORDS if w not in query], 10), query[0]]
        rng.shuffle(doc)
        out.append(SimpleNamespace(query_id=f"q{i}", query=" ".join(query), document=" ".join(doc)))
    return out


@pytest.fixture(scope="module")
def matching(model):
    """(heads chosen by similarity on one half of the queries, the other half's similarity map), as the suite."""
    _, m = model
    pairs = matching_pairs()
    half = selection_half([p.query_id for p in pairs], seed=0)
    select, held = ([p for p in pairs if (p.query_id in half) == side] for side in (True, False))
    r_select, r_held = (head_similarity_correlation(m, [p.query for p in s], [p.document for p in s])
                        for s in (select, held))
    return top_matching(r_select), r_held


def test_matching_heads_attend_by_similarity_only_when_planted(model, matching):
    kind, _ = model
    heads, r_held = matching
    gap, _, _, items = similarity_gap(r_held, heads, seed=0)
    assert len(items) == np.isfinite(r_held).sum() and items.values["matching_head"].sum() == len(heads)
    status = CLAIMS["mh.similarity"].result(gap).status
    assert (status, heads == [(0, 0)]) == (("pass", True) if kind == "planted" else ("fail", False)), (heads, gap)


def test_u0_stores_idf_only_when_planted(model):
    kind, m = model
    idf = planted_idf(m.cfg.d_vocab if hasattr(m.cfg, "d_vocab") else len(m.tokenizer))
    spectrum = u0(m, reference=idf)
    r = group_bootstrap(lambda i: float(np.corrcoef(spectrum.u0[i], idf[i])[0, 1]), np.arange(len(idf)),
                        unit="vocabulary token", seed=0)
    assert CLAIMS["idf.u0"].result(r).status == ("pass" if kind == "planted" else "fail"), r


def saturation(m, heads) -> tuple:
    """(the mh.saturation result of ``heads`` on 40 queries whose term is appended 0-5 times, the same judged by
    the uniform null alone), as the suite measures and judges it."""
    rng = np.random.default_rng(1)
    pairs = []
    for i in range(40):
        term, other = rng.choice(WORDS, 2, replace=False)
        body = " ".join(rng.choice([w for w in WORDS if w not in (term, other)], 10))
        texts = [body + f" {term}" * k for k in range(6)]
        pairs += [SimpleNamespace(query_id=f"q{i}", query=f"{term} {other}", term=term, document=texts[k],
                                  perturbed=texts[k + 1], level_baseline=k, level_perturbed=k + 1) for k in range(5)]
    every = same_layer_heads(heads, m.cfg.n_heads)
    per_head = attention_by_level(m, pairs, every, "term", per_head=True)
    matrix = per_head[:, :, [every.index(h) for h in heads]].mean(-1)
    null = attention_by_level(m, pairs, heads, "term", uniform=True)
    value, first, uniform, _ = saturation_against_uniform(sorted({p.query_id for p in pairs}), matrix, null, seed=0)
    preference = term_preference(per_head, every, heads, matched_head_sets(heads, m.cfg.n_heads, 50, 0), seed=0)
    unmet = saturation_unmet(first, value.value) or preference_unmet(preference, CLAIMS["mh.saturation"].extra["preference_rank"])
    claim = CLAIMS["mh.saturation"]
    return claim.result(value, control=uniform, unmet=unmet), claim.result(value, control=uniform)


def test_matching_attention_saturates_only_when_planted(model, matching):
    kind, m = model
    result, _ = saturation(m, matching[0])
    assert result.status == ("pass" if kind == "planted" else "fail"), result


def test_the_uniform_null_alone_is_fooled_by_a_random_head(tiny_checkpoint):
    """Why mh.saturation also needs the term preference: a random 2-layer model's head that happens to prefer a
    token saturates on it by softmax arithmetic, and beats uniform attention."""
    from circuits.model import HookedCrossEncoder

    m = HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", n_layers=2, n_heads=4, d_model=32))
    pairs = matching_pairs()
    heads = top_matching(head_similarity_correlation(m, [p.query for p in pairs], [p.document for p in pairs]))
    result, uniform_only = saturation(m, heads)
    assert (result.status, uniform_only.status) == ("fail", "pass"), (heads, result, uniform_only)


@pytest.mark.parametrize("knocked_out", [False, True], ids=["planted", "matching-head-silenced"])
def test_ablating_the_matching_head_removes_the_gain_only_when_it_carries_it(tmp_path, knocked_out):
    from circuits.measures.matching import gain_lost
    from circuits.controls import percentile_rank
    from circuits.knockout import silence_heads
    from circuits.model import HookedCrossEncoder

    m = HookedCrossEncoder.from_pretrained(planted_cross_encoder(tmp_path / "planted"))
    silence_heads(m, [(0, 0)] if knocked_out else [])
    pairs = aligned(m, appended_pairs(24, 2, term))  # TFC1: the filler vs a query term appended
    qids = pairs.query_ids
    heads = [(0, 0)]
    controls = matched_head_sets(heads, m.cfg.n_heads, 50, seed=0)
    intact, lost = gain_lost(m, pairs, [heads, *controls])
    value = percentile_rank(lost[:, 0], lost[:, 1:], qids, unit="query", seed=0)
    if not knocked_out:  # the planted path makes a query term raise the score (axiom.tfc1's bar)
        assert (intact > 0).mean() >= 0.75, intact
    assert CLAIMS["mh.ablation"].result(value).status == ("fail" if knocked_out else "pass"), (value, lost.mean(0))


@pytest.mark.parametrize("knocked_out", [False, True], ids=["planted", "scoring-head-silenced"])
def test_path_patching_finds_the_planted_scoring_head_late_and_alone(tmp_path, knocked_out):
    """rsh.path_to_logit on TFC1 and STMC1: the planted scoring head 2.0 is found late and alone (0.85, CI from
    0.82); silenced, what moves the score is random heads of no consistent sign (0.66 by its point value, with a
    CI from −1.2: the flat-map control fails it)."""
    from circuits.measures.scoring import late_concentration
    from circuits.knockout import silence_heads
    from circuits.model import HookedCrossEncoder
    from circuits.patching import path_patch

    m = HookedCrossEncoder.from_pretrained(planted_cross_encoder(tmp_path / "planted"))
    silence_heads(m, [(2, 0)] if knocked_out else [])
    results = {}
    for axiom, appended in (("TFC1", term), ("STMC1", synonym)):
        results[axiom] = path_patch(m, aligned(m, appended_pairs(40, 3, appended)), seed=0)
    value, flat, held_out, items = late_concentration(results, late_from=1, seed=0)
    result = CLAIMS["rsh.path_to_logit"].result(value, control=flat, held_out=held_out, items=items)
    assert {"baseline", "perturbed", "selection_half", "patched[2.0]"} <= set(items.values)
    assert result.status == ("fail" if knocked_out else "pass"), (result, results["TFC1"].top(4))
    if not knocked_out:
        assert results["TFC1"].top(1)[0][0] == results["STMC1"].top(1)[0][0] == "2.0"


def test_the_planted_model_reads_idf_from_u0_and_a_random_one_does_not(model):
    from circuits.measures.idf import dependence_lost
    from circuits.axioms import scores
    from circuits.controls import random_directions
    from circuits.idf import without_direction

    kind, m = model
    rng = np.random.default_rng(5)
    rows = []
    for i in range(60):
        query = rng.choice(WORDS, 3, replace=False)
        doc = " ".join(rng.choice([w for w in WORDS if w not in query], 8))
        term = query[int(rng.integers(3))]
        rows.append((f"q{i}", " ".join(query), f"{doc} a", f"{doc} {term}", term))
    qids, queries, baselines, perturbed, terms = (list(c) for c in zip(*rows))
    idf = planted_idf(len(m.tokenizer))
    term_idf = idf[m.tokenizer.convert_tokens_to_ids(terms)]
    spectrum = u0(m, reference=idf)

    def tfc1_gains() -> np.ndarray:
        return scores(m, queries, perturbed) - scores(m, queries, baselines)

    intact = tfc1_gains()
    with without_direction(m, spectrum.v0):
        ablated = tfc1_gains()
    controls = []
    for direction in random_directions(len(spectrum.v0), 4, seed=0, orthogonal_to=spectrum.v0):
        with without_direction(m, direction):
            controls.append(tfc1_gains())
    value, control = dependence_lost(intact, ablated, controls, term_idf, qids, seed=0)
    status = CLAIMS["idf.u0_causal"].result(value, control=control).status
    assert status == ("pass" if kind == "planted" else "fail"), (value, control)


def test_the_planted_scoring_head_weights_query_tokens_by_idf_and_a_random_one_does_not(model):
    from circuits.measures.scoring import idf_attention

    kind, m = model
    pairs = matching_pairs()
    idf = planted_idf(len(m.tokenizer))
    heads, others = [(2, 0)], [(2, 1), (2, 2), (2, 3)]  # the planted scoring head, and the rest of its layer
    value, _, control, _ = idf_attention(m, pairs, heads, idf, "cls", 0, lambda r: np.nanmean(np.abs(r)), others)
    status = CLAIMS["rsh.attention_idf"].result(value, control=control).status
    assert status == ("pass" if kind == "planted" else "fail"), (value, control)


def appended_pairs(n: int, seed: int, appended) -> list[SimpleNamespace]:
    """``n`` three-word queries whose first word is a key of PLANTED_SYNONYMS, with an eight-word document of other
    words: ``document`` (and ``baseline``, the padded one) ends in the filler "a", ``perturbed`` in
    ``appended(query words, document words)``; aligned for patching by the suite's ``aligned``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        first = rng.choice(sorted(PLANTED_SYNONYMS))
        query = [first, *rng.choice([w for w in WORDS if w != first], 2, replace=False)]
        doc = list(rng.choice([w for w in WORDS if w not in query], 8))
        text = " ".join(doc)
        out.append(SimpleNamespace(id=f"p{i}", query_id=f"q{i}", query=" ".join(query), document=f"{text} a",
                                   baseline=f"{text} a", perturbed=f"{text} {appended(query, doc, rng)}",
                                   stratum="planted"))
    return out


def term(query, _doc, _rng) -> str:
    return query[0]


def synonym(query, _doc, _rng) -> str:
    return PLANTED_SYNONYMS[query[0]]


def random_word(query, doc, rng) -> str:
    return rng.choice([w for w in WORDS if w not in query and w not in doc])


def test_the_planted_matching_head_rewards_synonyms_and_a_random_model_does_not(model):
    from circuits.measures.axioms import compliance_measure

    kind, m = model
    share, indifference, items, details = compliance_measure(m, appended_pairs(60, 6, synonym), seed=0)
    result = CLAIMS["axiom.stmc1"].result(share, control=indifference, items=items, **details)
    assert result.status == ("pass" if kind == "planted" else "fail"), result


def test_exact_and_semantic_matches_share_the_planted_path_beyond_a_random_word(model):
    from circuits.measures.scoring import agreement_beyond_random, kept_with_random
    from circuits.patching import path_patch

    kind, m = model
    results = {}
    for axiom, appended in (("TFC1", term), ("STMC1", synonym), ("RANDOM", random_word)):
        results[axiom] = path_patch(m, aligned(m, appended_pairs(40, 7, appended)), seed=0)
    value, control, items = agreement_beyond_random(kept_with_random(results), seed=0)
    status = CLAIMS["rsh.tfc1_vs_stmc1"].result(value, control=control, items=items).status
    assert status == ("pass" if kind == "planted" else "fail"), (value, control, results["TFC1"].top(3))


def test_the_planted_contextualisation_heads_are_found_and_weight_by_idf_a_random_models_are_not(model, matching):
    from circuits.measures.scoring import contextualisation_heads, idf_attention
    from circuits.patching import path_patch
    from circuits.roles import heads_above_cut

    kind, m = model
    pairs = aligned(m, appended_pairs(40, 8, term))
    scoring = heads_above_cut(path_patch(m, pairs, seed=0).effect)
    qch, _ = contextualisation_heads(m, pairs, scoring, matching[0], seed=0)
    value, per_head, _, _ = idf_attention(m, matching_pairs(), qch, planted_idf(len(m.tokenizer)), "query", 0,
                                          np.mean)
    status = CLAIMS["qch.idf"].result(value).status
    if kind == "planted":
        assert (sorted(qch), scoring, status) == ([(1, 0), (1, 1)], [(2, 0)], "pass"), (qch, scoring, value)
    else:
        assert status == "fail", (qch, scoring, value, per_head)


def test_raising_idf_through_u0_widens_the_gap_beyond_random_edits_only_when_planted(model):
    from circuits.measures.idf import edit_beyond_random
    from circuits.editing import edit_curves, edit_examples, gap_changes
    from circuits.idf import signed_random_directions

    kind, m = model
    idf = planted_idf(len(m.tokenizer))
    spectrum = u0(m, reference=idf)
    rng = np.random.default_rng(9)
    rows = []
    for _ in range(40):
        first, second = rng.choice(WORDS, 2, replace=False)
        rows.append((f"{first} {second}", [first, second]))
    examples = edit_examples(rows, m.tokenizer, 40)  # each example edits a token no other example reads
    queries = [q for q, _, _ in examples]
    claim = CLAIMS["idf.u0_edit"]
    steps = claim.extra["edit_steps"]
    gaps = np.subtract(*edit_curves(m, spectrum, examples, steps))
    directions = signed_random_directions(m, spectrum, claim.extra["random_directions"], 0, idf)
    rank, unmet, _ = edit_beyond_random(gaps, gap_changes(m, spectrum, examples, steps, directions), queries, 0,
                                        steps, claim.extra["monotonic_rho"])
    result = claim.result(rank, unmet=unmet)
    assert result.status == ("pass" if kind == "planted" else "fail"), (result, len(examples))


@pytest.mark.parametrize("variant", ["length-normalised", "reader-silenced", "matching-grows-with-length"])
def test_patching_the_matching_head_from_a_longer_document_lowers_the_score_only_when_it_normalises(tmp_path,
                                                                                                   variant):
    """mh.length: the known positive is the length-normalised planted model; the negatives are the same model
    with its reader (1.2) silenced, and the base planted model, whose matching signal grows with document length
    (its score rises as text is appended)."""
    from circuits.measures.matching import head_set_percentile
    from circuits.ablation import patch_query_outputs
    from circuits.knockout import silence_heads
    from circuits.model import HookedCrossEncoder

    m = HookedCrossEncoder.from_pretrained(planted_cross_encoder(
        tmp_path / "planted", length_normalised=variant != "matching-grows-with-length"))
    silence_heads(m, [(1, 2)] if variant == "reader-silenced" else [])
    rng = np.random.default_rng(4)
    queries, short, long = [], [], []
    for _ in range(40):
        query = rng.choice(WORDS, 3, replace=False)
        others = [w for w in WORDS if w not in query]
        queries.append(" ".join(query))
        short.append(" ".join([*rng.choice(others, 8), *query]))
        long.append(f"{short[-1]} {' '.join(rng.choice(others, 24))}")  # 24 filler words appended
    heads, claim = [(0, 0)], CLAIMS["mh.length"]
    controls = matched_head_sets(heads, m.cfg.n_heads, claim.extra["control_sets"], seed=0)
    target, source = m.tokenize(queries, short), m.tokenize(queries, long)
    drop = m.scores_cls_last(target).double().numpy()[:, None] - patch_query_outputs(m, target, source,
                                                                                   [heads, *controls])
    value, items, details = head_set_percentile(range(len(queries)), drop[:, 0], drop[:, 1:], queries, heads,
                                                controls, seed=0)
    result = claim.result(value, items=items, **details)
    assert result.status == ("pass" if variant == "length-normalised" else "fail"), result


@pytest.mark.parametrize("variant", ["signed-idf", "idf-weights-only", "random"])
def test_lowering_an_injected_terms_idf_demotes_the_document_only_when_idf_is_signed(tmp_path, tiny_checkpoint,
                                                                                      variant):
    """edit.adversarial (§6.3): a high-IDF query term injected into a document raises its score; lowering the
    term's IDF through U0 must rank the document below its clean version more often than random directions do.
    Only a model whose low-IDF matches count against a document (``signed_idf``) can; with IDF that only weights
    matches, the injected match keeps a gain however low its IDF."""
    from circuits.editing import demoted
    from circuits.idf import signed_random_directions
    from circuits.measures.idf import demotion_beyond_random
    from circuits.model import HookedCrossEncoder

    extra = CLAIMS["edit.adversarial"].extra

    folder = (tiny_checkpoint("bert", n_layers=3, n_heads=4, d_model=32) if variant == "random" else
              planted_cross_encoder(tmp_path / "planted", signed_idf=variant == "signed-idf"))
    m = HookedCrossEncoder.from_pretrained(folder)
    idf = planted_idf(len(m.tokenizer))
    spectrum = u0(m, reference=idf)
    unsafe = sorted(WORDS, key=lambda w: -idf[m.tokenizer.convert_tokens_to_ids(w)])[:3]  # the rarest words
    rng = np.random.default_rng(4)
    queries, clean = [], []
    for i in range(60):
        query = [unsafe[i % 3], *rng.choice([w for w in WORDS if w not in unsafe], 2, replace=False)]
        queries.append(" ".join(query))
        clean.append(" ".join(rng.choice([w for w in WORDS if w not in query], 8)))
    injected = [f"{doc} {query.split()[0]}" for query, doc in zip(queries, clean)]
    gain = (m.score_pairs(queries, injected) - m.score_pairs(queries, clean)).numpy()
    attacks = np.nonzero(gain > extra["injection_gain"])[0]
    claim = CLAIMS["edit.adversarial"]
    assert len(attacks) >= (50 if variant != "random" else 1), gain  # a random model's injections barely move it
    attacked = ([queries[i] for i in attacks], [injected[i] for i in attacks], [clean[i] for i in attacks])
    ids = m.tokenizer.convert_tokens_to_ids(unsafe)
    own = demoted(m, spectrum, ids, extra["edit_steps"], *attacked)
    directions = signed_random_directions(m, spectrum, claim.extra["random_directions"], 0, idf)
    controls = np.array([demoted(m, spectrum, ids, extra["edit_steps"], *attacked, d) for d in directions]).T
    share, control, items = demotion_beyond_random(attacks, own, controls, [queries[i] for i in attacks], seed=0)
    result = claim.result(share, control=control, items=items)
    assert result.status == ("pass" if variant == "signed-idf" else "fail"), (result, len(attacks))


def test_semantic_bm_on_the_planted_circuit_beats_bm25_and_control_circuits_and_on_a_random_model_does_not(model):
    """semantic_bm.fit and .generalization: SemanticBM on the planted matching head and U0 predicts the planted
    model's scores better than BM25 and than circuits of other heads and random directions, at every query
    length; on a random model it does not."""
    from circuits.measures.semantic_bm import fit_beyond_bm25, generalization_beyond_bm25
    from circuits.bm25 import BM25, analyze
    from circuits.semantic_study import Circuit, Source, control_circuits, evaluate_group

    kind, m = model
    spectrum = u0(m, reference=planted_idf(len(m.tokenizer)))
    heads = [(0, 0)]
    controls = control_circuits(m, heads, spectrum.v0, CLAIMS["semantic_bm.fit"].extra["control_circuits"], seed=0)
    rng = np.random.default_rng(0)
    evaluated = {}
    for length in (2, 3, 4):
        pairs = []
        for q in range(30):
            query = list(rng.choice(WORDS, length, replace=False))
            for d in range(6):  # documents holding 0-2 of the query's words among 8 others
                doc = [*rng.choice([w for w in WORDS if w not in query], 8), *rng.choice(query, rng.integers(3))]
                rng.shuffle(doc)
                pairs.append(SimpleNamespace(query_id=f"{length}q{q}", doc_id=f"{length}q{q}d{d}",
                                             query=" ".join(query), document=" ".join(doc)))
        judged = {p.query_id: {p.doc_id: 1} for p in pairs[::6]}  # nDCG needs some judgement; the claims do not
        source = Source("planted", BM25(analyze(p.document) for p in pairs), judged)
        evaluated[length] = evaluate_group(m, pairs, Circuit(heads, -spectrum.u0), controls, lambda _: source,
                                           seed=0)
    gain, control, items = fit_beyond_bm25(*evaluated[3], seed=0)
    fit = CLAIMS["semantic_bm.fit"].result(gain, control=control, items=items)
    median, circuits, unmet, _, items = generalization_beyond_bm25([row for row, _ in evaluated.values()], seed=0,
                                                                   lengths=list(evaluated), random_r_max=CLAIMS[
                                                                       "semantic_bm.generalization"].extra[
                                                                       "random_r_max"])
    general = CLAIMS["semantic_bm.generalization"].result(median, control=circuits, unmet=unmet, items=items)
    expected = "pass" if kind == "planted" else "fail"
    assert (fit.status, general.status) == (expected, expected), (fit, general)
