"""IDF in the embedding matrix (paper §4.4): U0 correlates with IDF, and editing U0 moves scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from axiomtests.claims import CLAIMS
from circuits.idf import edit_idf
from circuits.stats import group_bootstrap

EDIT_STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)  # IDF edits in standard deviations of U0


@pytest.mark.claim("idf.u0")
def test_u0_tracks_idf(hooked_model, vocab_idf, spectrum, axiom_session, check_claim):
    idf, sources = vocab_idf
    spectrum, mask = spectrum  # a singular vector's sign is arbitrary: canonical r <= 0
    u, v = spectrum.u0[mask], idf[mask]
    r = group_bootstrap(lambda i: float(np.corrcoef(u[i], v[i])[0, 1]), np.arange(len(u)),
                        unit="vocabulary token", seed=axiom_session.seed)
    with_fallback = np.array([t.isalpha() for t in hooked_model.tokenizer.convert_ids_to_tokens(
        list(range(len(idf))))]) & (sources != "absent")
    check_claim(CLAIMS["idf.u0"].result(
        r, tokens=int(mask.sum()), sign_rule=spectrum.sign_rule,
        spearman=float(stats.spearmanr(spectrum.u0[mask], idf[mask])[0]),
        r_with_wordfreq_estimates=float(np.corrcoef(spectrum.u0[with_fallback], idf[with_fallback])[0, 1]),
        tokens_with_wordfreq_estimates=int(with_fallback.sum())))


def edit_examples(datasets, tokenizer, limit: int) -> list[tuple[str, int, int]]:
    """(query, tok1, tok2): the first two distinct eligible query terms of TFC1 queries.

    Examples are chosen so that no example's edited token occurs in another example's query or documents,
    so all of one step's edits can run in a single batch without touching each other's inputs.
    """
    from axiomtests.perturb import eligible_terms

    seen: set[str] = set()
    used_tokens: set[int] = set()  # every token of the accepted examples' inputs
    edited: set[int] = set()
    out = []
    for pair in datasets["TFC1"]:
        if pair.query_id in seen or len(out) >= limit:
            continue
        seen.add(pair.query_id)
        terms, _ = eligible_terms(pair.query, tokenizer)
        ids = list(dict.fromkeys(tokenizer.convert_tokens_to_ids(t) for t in terms))
        if len(ids) < 2:
            continue
        tokens = set(tokenizer(pair.query, add_special_tokens=False)["input_ids"]) | {ids[0], ids[1]}
        if ids[0] in used_tokens or tokens & edited:
            continue
        out.append((pair.query, ids[0], ids[1]))
        used_tokens |= tokens
        edited.add(ids[0])
    return out


@pytest.mark.claim("idf.u0_edit")
def test_editing_u0_moves_scores_monotonically(hooked_model, datasets, spectrum, axiom_session, axiom_report,
                                              plot_curve, check_claim):
    spectrum, _ = spectrum  # canonical sign: U0 falls as IDF rises
    tok = hooked_model.tokenizer
    examples = edit_examples(datasets, tok, axiom_session.pairs)
    queries = [q for q, _, _ in examples]
    doc1 = [" ".join([tok.convert_ids_to_tokens(t1)] * 3) for _, t1, _ in examples]
    doc2 = [" ".join([tok.convert_ids_to_tokens(t2)] * 3) for _, _, t2 in examples]
    rows, doc1_scores, doc2_scores = [], [], []
    for steps in EDIT_STEPS:
        with edit_idf(hooked_model, spectrum, [t1 for _, t1, _ in examples], steps):
            s1 = hooked_model.score_pairs(queries, doc1).double().numpy()
            s2 = hooked_model.score_pairs(queries, doc2).double().numpy()
        doc1_scores.append(s1)
        doc2_scores.append(s2)
        rows.append({"steps": steps, "doc1 (repeats tok1)": float(s1.mean()), "doc2 (repeats tok2)": float(s2.mean()),
                     "gap": float((s1 - s2).mean())})
    doc1_scores, doc2_scores = np.array(doc1_scores).T, np.array(doc2_scores).T  # [queries, steps]
    gaps = doc1_scores - doc2_scores
    rho = group_bootstrap(lambda i: float(stats.spearmanr(EDIT_STEPS, gaps[i].mean(0))[0]), queries,
                          unit="query", seed=axiom_session.seed)
    axiom_report.sections["U0 editing (IDF steps in std of U0)"] = rows
    plot_curve("u0_editing", EDIT_STEPS, {"doc1 (repeats the edited token 1)": doc1_scores,
                                          "doc2 (repeats token 2)": doc2_scores,
                                          "gap doc1 − doc2 (the claim)": doc1_scores - doc2_scores},
               title="U0 editing: raising token 1's IDF", xlabel="IDF edit of token 1 (std of U0)",
               ylabel="score")
    check_claim(CLAIMS["idf.u0_edit"].result(rho, queries=len(examples), gaps=[r["gap"] for r in rows]))
