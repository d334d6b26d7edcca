"""Measures of the relevance scoring heads (§4.1) and the query-contextualisation heads (§4.2): concentration
of the head→logit map in late layers, agreement of the TFC1 and STMC1 maps, attention–IDF correlations."""

from __future__ import annotations

import numpy as np

from circuits.controls import Control
from circuits.errors import NotComputable
from circuits.items import Items, labelled
from circuits.matching import idf_correlations, received_attention
from circuits.roles import head_labels, selection_half, top_senders
from circuits.scoring import StackedPairs, held_out_concentrations, map_agreement


def kept_pairs(results: dict, axiom: str, ids: dict | None = None) -> tuple[np.ndarray, ...]:
    """(patched, baseline, perturbed, query ids, pair ids) of the pairs ``axiom``'s PatchResult kept after its
    δ-filter; the pair ids are ``ids[axiom]`` (one per pair of the result), else ``<axiom>#<index>``."""
    result, ids = results[axiom], (ids or {}).get(axiom)
    kept = result.estimate.kept
    if not kept.any():
        raise NotComputable(f"no pair's perturbation moved the score by at least δ = {result.settings.get('delta')} "
                            f"(0 of {len(kept)} kept): there is no effect to patch")
    ids = np.asarray(list(ids) if ids is not None else [f"{axiom}#{n}" for n in range(len(kept))])
    return (result.patched[kept], result.baseline[kept], result.perturbed[kept], np.asarray(result.query_ids)[kept],
            ids[kept])


def stacked_items(kept: dict, **columns) -> Items:
    """The items of stacked :func:`kept_pairs` blocks (``StackedPairs.of`` order): per pair its baseline and
    perturbed score and every head's patched score ``patched[L.H]``, grouped by query, plus ``columns`` (one value
    per row)."""
    from circuits.roles import head_labels

    blocks = list(kept.values())
    patched = np.concatenate([b[0] for b in blocks])
    heads = list(np.ndindex(*patched.shape[1:]))
    patched = patched.reshape(len(patched), -1)
    return Items.of(np.concatenate([b[4] for b in blocks]), np.concatenate([b[3] for b in blocks]),
                    baseline=np.concatenate([b[1] for b in blocks]), perturbed=np.concatenate([b[2] for b in blocks]),
                    **columns, **labelled("patched", patched, head_labels(heads)))


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


def upstream_maps(model, aligned: dict, scoring_heads, seed: int) -> dict:
    """Path patching into the scoring heads' value inputs (§4.1: "We path patch to the Relevance Scoring Heads'
    value vectors"), one PatchResult per aligned pair set by axiom (TFC1, STMC1 and the RANDOM control).
    NotComputable without a scoring head above layer 0 (no head can send to it)."""
    from circuits.patching import path_patch

    receivers = [h for h in scoring_heads if h[0] > 0]
    if not receivers:
        raise NotComputable("no scoring head above layer 0: no head can send to them")
    return {axiom: path_patch(model, pairs, receivers=receivers, receiver_input="v", seed=seed)
            for axiom, pairs in aligned.items()}


def contextualisation_heads(upstream: dict, scoring_heads, matching_heads) -> list:
    """The two heads, matching and scoring heads left out, with the largest path effect into the scoring heads'
    values on both TFC1 and STMC1 (the smaller of the two effects: the paper's "shared" heads, §4.1, App. D.1).
    NotComputable when no other head sends a positive effect on both."""
    from circuits.roles import shared_effect

    qch = top_senders(shared_effect([upstream["TFC1"].effect, upstream["STMC1"].effect]), 2,
                      exclude=set(matching_heads) | set(scoring_heads))
    if not qch:
        raise NotComputable("no head outside the matching and scoring heads sends a positive effect to the scoring "
                            "heads' values on both TFC1 and STMC1")
    return qch
