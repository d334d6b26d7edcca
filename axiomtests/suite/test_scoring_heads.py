"""Relevance scoring heads (§4.1) and query-contextualisation heads (§4.2), found by role.

Every value carries a bootstrap interval over queries: the patching maps are recomputed from the resampled
queries' pairs (and the scoring heads re-selected in each replicate), the attention correlations from the
resampled queries' tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.claims import CLAIMS, Control, NotComputable
from axiomtests.suite.conftest import kept_pairs, stacked_items
from circuits.items import Items, labelled
from circuits.matching import idf_correlations, received_attention
from circuits.roles import head_labels, same_layer_heads, selection_half, top_senders
from circuits.scoring import StackedPairs, held_out_concentrations, map_agreement


@pytest.mark.claim("rsh.path_to_logit")
def test_few_late_heads_carry_the_signal_to_the_logit(hooked_model, path_to_logit, patching_sets, scoring_heads,
                                                     axiom_session, check_claim):
    late_from = hooked_model.cfg.n_layers // 2
    value, flat, held_out, items = late_concentration(path_to_logit, late_from, axiom_session.seed,
                                                      pair_ids(patching_sets))
    result = path_to_logit["TFC1"]
    check_claim(CLAIMS["rsh.path_to_logit"].result(
        value, control=flat, items=items, held_out=held_out, late_layers_from=late_from,
        scoring_heads=head_labels(scoring_heads), layers=sorted({l for l, _ in scoring_heads}),
        share_of_heads=len(scoring_heads) / result.effect.size, pairs=result.n_pairs, dropped=result.n_dropped,
        top=[{"head": label, "effect": e} for label, e in result.top(8)]))


def pair_ids(patching_sets: dict) -> dict[str, list[str]]:
    """The dataset ids of each patching set's pairs, in the order they were patched."""
    return {axiom: [p.id for p in pairs] for axiom, (pairs, _) in patching_sets.items()}


def late_concentration(results: dict, late_from: int, seed: int, ids: dict | None = None) -> tuple:
    """(the smaller of TFC1's and STMC1's held-out late concentration (heads selected on one half of the queries,
    measured on the other), bootstrapped over queries; the control: a flat map, 0, since the concentration is
    already beyond the selected heads' flat share; each axiom's value; the items: the kept pairs, each with its
    selection-half flag) from their PatchResults and the pairs' ``ids`` by axiom."""
    kept = {axiom: kept_pairs(results, axiom, ids) for axiom in ("TFC1", "STMC1")}
    stack = StackedPairs.of(list(kept.values()))
    qids = stack.query_ids
    select = selection_half(qids, seed)
    in_select = np.array([q in select for q in qids])
    items = stacked_items(kept, selection_half=in_select)

    def per_axiom(i: np.ndarray) -> list[float]:
        return held_out_concentrations(stack, i, in_select, late_from)

    value = items.bootstrap(lambda i: min(per_axiom(i)), unit="query", seed=seed)
    flat = Control("a flat map (the selected late heads carry only their share of all heads)", 0.0, value)
    return value, flat, dict(zip(kept, per_axiom(np.arange(len(qids))))), items


def agreement_beyond_random(kept: dict, seed: int) -> tuple:
    """(r between the TFC1 and STMC1 effect maps, bootstrap over queries; the control: TFC1 against the RANDOM map,
    None without one; the items: the kept pairs). ``kept``: :func:`kept_pairs` blocks by axiom, "TFC1" and "STMC1"
    first."""
    stack = StackedPairs.of(list(kept.values()))
    items = stacked_items(kept)

    def r(i: np.ndarray, other: int) -> float:
        return map_agreement(stack, i, 0, other)

    value = items.bootstrap(lambda i: r(i, 1), unit="query", seed=seed)
    if "RANDOM" not in kept:
        return value, None, items
    beyond = items.bootstrap(lambda i: r(i, 1) - r(i, 2), unit="query", seed=seed)
    return value, Control("TFC1 vs a random word appended instead of the term", r(np.arange(len(items)), 2),
                          beyond), items


def kept_with_random(results: dict, ids: dict | None = None) -> dict:
    """:func:`kept_pairs` of TFC1, STMC1 and, when some random word moved the score, RANDOM (pair ids by axiom)."""
    kept = {axiom: kept_pairs(results, axiom, ids) for axiom in ("TFC1", "STMC1")}
    try:
        if results.get("RANDOM") is not None:
            kept["RANDOM"] = kept_pairs(results, "RANDOM", ids)
    except NotComputable:  # no random word moves the score: there is no control map to agree with
        pass
    return kept


@pytest.mark.claim("rsh.tfc1_vs_stmc1")
def test_exact_and_semantic_matches_use_the_same_heads(path_to_logit, patching_sets, axiom_session, check_claim):
    random = path_to_logit.get("RANDOM")
    value, control, items = agreement_beyond_random(kept_with_random(path_to_logit, pair_ids(patching_sets)),
                                                    axiom_session.seed)
    check_claim(CLAIMS["rsh.tfc1_vs_stmc1"].result(
        value, control=control, items=items, stmc1_pairs=path_to_logit["STMC1"].n_pairs,
        stmc1_dropped=path_to_logit["STMC1"].n_dropped, random_word_pairs=random.n_pairs if random else 0,
        random_word_dropped=random.n_dropped if random else None,
        stmc1_top=[{"head": label, "effect": e} for label, e in path_to_logit["STMC1"].top(8)]))


def idf_attention(model, pairs, heads, idf: np.ndarray, source_rows: str, seed: int, combine,
                  controls: list | None = None):
    """``combine`` (over heads) of the per-head attention–IDF r, with a bootstrap over the pairs' queries; the
    per-head r; and, given ``controls`` (other heads), the Control of the same statistic over them."""
    every = list(heads) + list(controls or [])
    values, ids, pair = received_attention(model, [p.query for p in pairs], [p.document for p in pairs], every,
                                           source_rows)
    token_idf = idf[ids]
    own = np.arange(len(every)) < len(heads)
    per_head = {label: float(r) for label, r in zip(head_labels(every), idf_correlations(values, token_idf))}
    items = token_items(pairs, pair, ids, token_idf, values, every, own)

    def statistic(i: np.ndarray, rows: np.ndarray) -> float:
        return float(combine(idf_correlations(values[rows][:, i], token_idf[i])))

    value = items.bootstrap(lambda i: statistic(i, own), unit="query", seed=seed)
    if not controls:
        return value, per_head, None, items
    beyond = items.bootstrap(lambda i: statistic(i, own) - statistic(i, ~own), unit="query", seed=seed)
    return value, per_head, Control("the other heads of the same layers", statistic(np.arange(len(items)), ~own),
                                    beyond), items


def token_items(pairs, pair: np.ndarray, ids: np.ndarray, token_idf: np.ndarray, values: np.ndarray, heads,
                own: np.ndarray) -> Items:
    """One item per query token of every pair (``<pair id>#<position in the query>``), grouped by query: its token
    id, IDF and the attention each head gives it (``attention[L.H]`` for the claim's heads, ``control[L.H]`` for
    the control heads)."""
    position = np.zeros(len(pair), dtype=int)
    for n in range(1, len(pair)):
        position[n] = position[n - 1] + 1 if pair[n] == pair[n - 1] else 0
    labels = np.array(head_labels(heads))
    return Items.of([f"{getattr(pairs[p], 'id', p)}#{k}" for p, k in zip(pair, position)],
                    [pairs[p].query_id for p in pair], token_id=ids, idf=token_idf,
                    **labelled("attention", values[own].T, labels[own]),
                    **labelled("control", values[~own].T, labels[~own]))


@pytest.mark.claim("rsh.attention_idf")
def test_scoring_heads_weight_query_tokens_by_idf(hooked_model, patching_sets, scoring_heads, vocab_idf,
                                                 axiom_session, check_claim):
    if not scoring_heads:
        raise NotComputable("no scoring head found: the TFC1 head→logit effects are all ≤ 0")
    pairs, _ = patching_sets["TFC1"]
    others = [h for h in same_layer_heads(scoring_heads, hooked_model.cfg.n_heads) if h not in scoring_heads]
    value, per_head, control, items = idf_attention(hooked_model, pairs, scoring_heads, vocab_idf[0], "cls",
                                                    axiom_session.seed, lambda r: np.nanmean(np.abs(r)), others)
    check_claim(CLAIMS["rsh.attention_idf"].result(value, control=control, items=items, per_head=per_head))


def contextualisation_heads(model, aligned_pairs, scoring_heads, matching_heads, seed: int) -> tuple:
    """(the two heads, matching and scoring heads left out, with the largest positive path effect into the scoring
    heads' value inputs, §4.2; the PatchResult). NotComputable without a receiver above layer 0 or a sender."""
    from circuits.patching import path_patch

    receivers = [h for h in scoring_heads if h[0] > 0]
    if not receivers:
        raise NotComputable("no scoring head above layer 0: no head can send to them")
    result = path_patch(model, aligned_pairs, receivers=receivers, receiver_input="v", seed=seed)
    qch = top_senders(result.effect, 2, exclude=set(matching_heads) | set(scoring_heads))
    if not qch:
        raise NotComputable("no head outside the matching and scoring heads sends a positive effect to the scoring "
                            "heads' values")
    return qch, result


@pytest.mark.claim("qch.idf")
def test_contextualisation_heads_attend_to_high_idf_tokens(hooked_model, patching_sets, scoring_heads,
                                                           matching_heads, vocab_idf, axiom_session,
                                                           report_section, check_claim):
    pairs, aligned_pairs = patching_sets["TFC1"]
    qch, result = contextualisation_heads(hooked_model, aligned_pairs, scoring_heads, matching_heads[2],
                                          axiom_session.seed)
    value, per_head, _, items = idf_attention(hooked_model, pairs, qch, vocab_idf[0], "query", axiom_session.seed,
                                              np.mean)
    report_section("path patching into the scoring heads' values (TFC1)", {
        "receivers": result.settings["receivers"], "top": [{"head": label, "effect": e} for label, e in result.top(8)]})
    check_claim(CLAIMS["qch.idf"].result(value, items=items, contextualisation_heads=head_labels(qch),
                                         per_head=per_head))
