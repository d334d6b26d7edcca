"""IDF in the embedding matrix (paper §4.4): U0 correlates with IDF, and editing U0 moves scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from axiomtests.claims import CLAIMS
from circuits.axioms import gains
from circuits.editing import edit_curves, gap_changes, idf_dependence, monotonicity
from circuits.items import Items
from circuits.measures.idf import dependence_lost, edit_beyond_random
from circuits.vocabulary import whole_words, word_ids

EDIT_STEPS = tuple(CLAIMS["idf.u0_edit"].extra["edit_steps"])  # IDF edits in standard deviations of U0


@pytest.mark.claim("idf.u0")
def test_u0_tracks_idf(hooked_model, vocab_idf, spectrum, axiom_session, check_claim):
    idf, sources = vocab_idf
    spectrum, mask = spectrum  # a singular vector's sign is arbitrary: canonical r <= 0
    u, v = spectrum.u0[mask], idf[mask]
    tokens = hooked_model.tokenizer.convert_ids_to_tokens(np.nonzero(mask)[0].tolist())
    items = Items.of(tokens, u0=u, idf=v)
    r = items.bootstrap(lambda i: float(np.corrcoef(u[i], v[i])[0, 1]), unit="vocabulary token",
                        seed=axiom_session.seed)
    with_fallback = np.array([w is not None for w in whole_words(hooked_model.tokenizer)]) & (sources != "absent")
    check_claim(CLAIMS["idf.u0"].result(
        r, items=items, tokens=int(mask.sum()), sign_rule=spectrum.sign_rule,
        spearman=float(stats.spearmanr(spectrum.u0[mask], idf[mask])[0]),
        r_with_wordfreq_estimates=float(np.corrcoef(spectrum.u0[with_fallback], idf[with_fallback])[0, 1]),
        tokens_with_wordfreq_estimates=int(with_fallback.sum())))


def edit_examples(datasets, tokenizer, limit: int) -> list[tuple[str, int, int]]:
    """(query, tok1, tok2): the first two distinct eligible query terms of TFC1 queries (circuits.editing)."""
    from axiomtests.perturb import eligible_terms
    from circuits.editing import edit_examples as chosen

    queries = {p.query_id: p.query for p in datasets["TFC1"]}
    return chosen(((q, eligible_terms(q, tokenizer)[0]) for q in queries.values()), tokenizer, limit)  # lazy


@pytest.mark.claim("idf.u0_edit")
def test_editing_u0_moves_scores_monotonically(hooked_model, datasets, vocab_idf, spectrum, axiom_session,
                                              report_section, plot_curve, check_claim):
    from circuits.idf import signed_random_directions

    claim = CLAIMS["idf.u0_edit"]
    spectrum, mask = spectrum  # canonical sign: U0 falls as IDF rises
    examples = edit_examples(datasets, hooked_model.tokenizer, axiom_session.pairs)
    queries = [q for q, _, _ in examples]
    doc1_scores, doc2_scores = edit_curves(hooked_model, spectrum, examples, EDIT_STEPS)
    gaps = doc1_scores - doc2_scores
    directions = signed_random_directions(hooked_model, spectrum, claim.extra["random_directions"], axiom_session.seed,
                                          vocab_idf[0], mask)
    controls = gap_changes(hooked_model, spectrum, examples, EDIT_STEPS, directions)
    rank, unmet, items = edit_beyond_random(gaps, controls, queries, axiom_session.seed, EDIT_STEPS,
                                            claim.extra["monotonic_rho"])
    rows = [{"steps": steps, "doc1 (repeats tok1)": float(doc1_scores[:, k].mean()),
             "doc2 (repeats tok2)": float(doc2_scores[:, k].mean()), "gap": float(gaps[:, k].mean())}
            for k, steps in enumerate(EDIT_STEPS)]
    report_section("U0 editing (IDF steps in std of U0)", rows)
    plot_curve("u0_editing", EDIT_STEPS, {"doc1 (repeats the edited token 1)": doc1_scores,
                                          "doc2 (repeats token 2)": doc2_scores,
                                          "gap doc1 − doc2 (the claim)": gaps},
               title="U0 editing: raising token 1's IDF", xlabel="IDF edit of token 1 (std of U0)",
               ylabel="score")
    check_claim(claim.result(
        rank, unmet=unmet, items=items, queries=len(examples), gaps=[r["gap"] for r in rows],
        rho=monotonicity(EDIT_STEPS, gaps),
        gap_change=float((gaps[:, -1] - gaps[:, 0]).mean()),
        random_direction_gap_changes=[float(c) for c in controls.mean(0)]))


@pytest.mark.claim("idf.u0_causal")
def test_the_model_reads_idf_from_u0(hooked_model, datasets, tfc1_gains, vocab_idf, spectrum, axiom_session,
                                     check_claim):
    from circuits.controls import random_directions
    from circuits.idf import without_direction

    claim = CLAIMS["idf.u0_causal"]
    spectrum, _ = spectrum
    tok = hooked_model.tokenizer
    candidates = datasets["TFC1"][: 2 * axiom_session.pairs]
    ids = word_ids(tok, [p.term for p in candidates])
    chosen = [i for i, token in enumerate(ids) if token != tok.unk_token_id]
    pairs = [candidates[i] for i in chosen]
    term_idf = vocab_idf[0][[ids[i] for i in chosen]]
    qids = [p.query_id for p in pairs]

    intact = tfc1_gains[chosen]
    with without_direction(hooked_model, spectrum.v0):
        ablated = gains(hooked_model, pairs)
    directions = random_directions(len(spectrum.v0), claim.extra["random_directions"], axiom_session.seed,
                                   orthogonal_to=spectrum.v0)
    controls = []
    for direction in directions:
        with without_direction(hooked_model, direction):
            controls.append(gains(hooked_model, pairs))

    items = Items.of([p.id for p in pairs], qids, term_idf=term_idf, gain=intact, gain_without_u0=ablated,
                     gain_without_random_direction=np.array(controls).T)
    value, control = dependence_lost(intact, ablated, controls, term_idf, items.units, axiom_session.seed)
    check_claim(claim.result(
        value, control=control, items=items, pairs=len(pairs), r_gain_idf_intact=idf_dependence(intact, term_idf),
        r_gain_idf_without_u0=idf_dependence(ablated, term_idf),
        tfc1_gain_intact=float(intact.mean()), tfc1_gain_without_u0=float(ablated.mean()),
        tfc1_share_without_u0=float((ablated > 0).mean())))


