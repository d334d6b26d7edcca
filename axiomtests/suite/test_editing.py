"""Adversarial editing (paper §6.3): lowering the IDF of unsafe tokens through U0 undoes their injection."""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS, NotComputable
from circuits.editing import demoted
from circuits.idf import edit_idf
from circuits.measures.idf import demotion_beyond_random
from circuits.ranking import mean_ndcg
from circuits.vocabulary import word_ids

INJECTION_GAIN = CLAIMS["edit.adversarial"].extra["injection_gain"]  # an injection is an attack above this gain
EDIT_STEPS = CLAIMS["edit.adversarial"].extra["edit_steps"]  # the unsafe tokens' IDF edit, in std of U0


def unsafe_tokens(tokenizer) -> list[str]:
    """LDNOOBW single-word entries that are one token of this tokenizer (inside a text)."""
    from axiomtests.wordlists import ldnoobw_words

    words = ldnoobw_words()
    return [w for w, i in zip(words, word_ids(tokenizer, words)) if i != tokenizer.unk_token_id]


def held_out_rankings(corpus, n_queries: int, seed: int):
    """(query_id, query, doc_id, passage) of the retrieved, sentence-cut passages of held-out judged queries."""
    from axiomtests.corpus import split_queries
    from axiomtests.perturb import base_set

    _, test = split_queries(corpus, seed=seed)
    judged = [q for q in test if corpus.qrels.get(q)][:n_queries]
    keep = set(judged)
    return [(b.query_id, b.query, b.doc_id, b.document) for b in base_set(corpus) if b.query_id in keep]


@pytest.mark.claim("edit.adversarial")
def test_lowering_unsafe_idf_demotes_injected_documents(hooked_model, datasets, corpus, vocab_idf, spectrum,
                                                        axiom_session, report_section, check_claim):
    from circuits.idf import signed_random_directions

    spectrum, mask = spectrum
    tok = hooked_model.tokenizer
    words = unsafe_tokens(tok)
    if not words:
        raise NotComputable("no LDNOOBW word is a single wordpiece of this tokenizer")
    rng = np.random.default_rng(axiom_session.seed)
    pairs = datasets["TFC1"][: 2 * axiom_session.pairs]
    injected_words = [words[int(rng.integers(len(words)))] for _ in pairs]
    queries = [p.query for p in pairs]
    clean_docs = [p.document for p in pairs]
    injected_docs = [f"{p.document} {w}" for p, w in zip(pairs, injected_words)]
    clean = hooked_model.score_pairs(queries, clean_docs).double().numpy()
    injected = hooked_model.score_pairs(queries, injected_docs).double().numpy()
    attacks = np.nonzero(injected - clean > INJECTION_GAIN)[0]
    if not len(attacks):
        raise NotComputable(f"no injection raised the score by more than {INJECTION_GAIN}: nothing to mitigate")
    ids = word_ids(tok, words)
    rankings = held_out_rankings(corpus, axiom_session.pairs // 4, axiom_session.seed)

    def ndcg() -> float:
        scores = hooked_model.score_pairs([r[1] for r in rankings], [r[3] for r in rankings]).double().numpy()
        run: dict[str, dict[str, float]] = {}
        for (qid, _, did, _), s in zip(rankings, scores):
            run.setdefault(qid, {})[did] = float(s)
        return mean_ndcg(run, {q: corpus.qrels[q] for q in run})

    before = ndcg()
    sub_q = [queries[i] for i in attacks]

    attacked = ([injected_docs[i] for i in attacks], [clean_docs[i] for i in attacks])
    own = demoted(hooked_model, spectrum, ids, EDIT_STEPS, sub_q, *attacked)
    with edit_idf(hooked_model, spectrum, ids, EDIT_STEPS):
        after = ndcg()
    claim = CLAIMS["edit.adversarial"]
    directions = signed_random_directions(hooked_model, spectrum, claim.extra["random_directions"], axiom_session.seed,
                                          vocab_idf[0], mask)
    controls = np.array([demoted(hooked_model, spectrum, ids, EDIT_STEPS, sub_q, *attacked, d)
                         for d in directions]).T  # [attacks, directions]
    report_section("adversarial editing", {
        "unsafe_single_wordpiece_words": len(words), "pairs": len(pairs), "attacks": int(len(attacks)),
        "edit_steps": EDIT_STEPS, "ndcg10_before": before, "ndcg10_after": after,
        "ndcg_retention": after / before if before else None, "held_out_queries": len({r[0] for r in rankings})})
    share, control, items = demotion_beyond_random([pairs[a].id for a in attacks], own, controls,
                                                   [pairs[a].query_id for a in attacks], axiom_session.seed)
    check_claim(claim.result(
        share, control=control, items=items, attacks=int(len(attacks)),
        ndcg_retention=after / before if before else None,
        mean_injection_gain=float((injected - clean)[attacks].mean())))


