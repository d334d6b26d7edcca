"""A claim harness: every mechanism claim measured on small synthetic tasks and judged by the registry, for any
model whose vocabulary holds the tiny words (:data:`WORDS`), in the spirit of scikit-learn's
``parametrize_with_checks``.

The suite measures a checkpoint on real text; the harness measures a *zoo* of small models with known outcomes
(planted mechanisms, random initialisations, knockouts), so each claim's measure and verdict can be tried where
the answer is known: the unit tier's planted tests (``tests/unit/test_planted.py``) and the operating
characteristics (``benchmarks/operating_characteristics.py``) both run it. Roles are found as the suite finds
them (matching heads by similarity on one half of the queries, scoring heads by head→logit path patching); a
check may be given the heads instead (a planted model's, known by construction).

>>> from circuits.tiny import planted_cross_encoder                                  # doctest: +SKIP
>>> results = check_model(HookedCrossEncoder.from_pretrained(planted_cross_encoder(folder)))  # doctest: +SKIP
>>> results["mh.similarity"].status                                                    # doctest: +SKIP
'pass'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import SimpleNamespace

import numpy as np

from axiomtests.claims import CLAIMS
from circuits.controls import matched_head_sets
from circuits.errors import NotComputable
from circuits.idf import Spectrum, u0
from circuits.model import HookedCrossEncoder
from circuits.report import ClaimResult
from circuits.tiny import PLANTED_SYNONYMS, planted_idf

Head = tuple[int, int]

WORDS = ("bank river money water city music science history answer question search ranking model score token "
         "passage").split()  # one piece each in every tiny vocabulary (circuits.tiny)


# --------------------------------------------------------------------------- synthetic tasks

def matching_pairs(n: int = 60, seed: int = 0) -> list[SimpleNamespace]:
    """Three-word queries and eleven-word documents holding the query's first word."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        query = rng.choice(WORDS, 3, replace=False)
        doc = [*rng.choice([w for w in WORDS if w not in query], 10), query[0]]
        rng.shuffle(doc)
        out.append(SimpleNamespace(query_id=f"q{i}", query=" ".join(query), document=" ".join(doc)))
    return out


def appended_pairs(n: int, seed: int, appended: Callable) -> list[SimpleNamespace]:
    """``n`` three-word queries whose first word is a key of PLANTED_SYNONYMS, with an eight-word document of other
    words: ``document`` (and ``baseline``, the padded one) ends in the filler "a", ``perturbed`` in
    ``appended(query words, document words, rng)``; ready for :func:`circuits.pairs.align_records`."""
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
    """The query's first word (TFC1)."""
    return query[0]


def synonym(query, _doc, _rng) -> str:
    """The planted near-synonym of the query's first word (STMC1)."""
    return PLANTED_SYNONYMS[query[0]]


def random_word(query, doc, rng) -> str:
    """A word in neither the query nor the document (the RANDOM control)."""
    return rng.choice([w for w in WORDS if w not in query and w not in doc])


def saturation_pairs(n: int = 40, seed: int = 1) -> list[SimpleNamespace]:
    """TFC2 chains: a ten-word body with a query term appended 0-5 times."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        word, other = rng.choice(WORDS, 2, replace=False)
        body = " ".join(rng.choice([w for w in WORDS if w not in (word, other)], 10))
        texts = [body + f" {word}" * k for k in range(6)]
        pairs += [SimpleNamespace(query_id=f"q{i}", query=f"{word} {other}", term=word, document=texts[k],
                                  perturbed=texts[k + 1], level_baseline=k, level_perturbed=k + 1) for k in range(5)]
    return pairs


# --------------------------------------------------------------------------- the model under check

@dataclass
class Probe:
    """A model and what several checks share: its IDF reference (a planted model's, or any fixed one: a model
    without the mechanism stores none), U0, and its roles, found once."""

    model: HookedCrossEncoder
    seed: int = 0
    idf: np.ndarray | None = None  # the IDF the model stores: a planted model's (its own seed's); default seed 0's

    def __post_init__(self) -> None:
        if self.idf is None:
            self.idf = planted_idf(len(self.model.tokenizer))

    @cached_property
    def spectrum(self) -> Spectrum:
        return u0(self.model, reference=self.idf)

    @cached_property
    def similarity(self) -> tuple[list[Head], np.ndarray]:
        """(matching heads chosen on one half of :func:`matching_pairs`, the other half's similarity map)."""
        from circuits.matching import head_similarity_correlation
        from circuits.roles import selection_half, top_matching

        pairs = matching_pairs()
        half = selection_half([p.query_id for p in pairs], seed=self.seed)
        select, held = ([p for p in pairs if (p.query_id in half) == side] for side in (True, False))
        r_select, r_held = (head_similarity_correlation(self.model, [p.query for p in s], [p.document for p in s])
                            for s in (select, held))
        return top_matching(r_select), r_held

    @property
    def matching_heads(self) -> list[Head]:
        return self.similarity[0]

    def aligned(self, n: int, seed: int, appended: Callable):
        from circuits.pairs import align_records

        return align_records(self.model, appended_pairs(n, seed, appended))

    @cached_property
    def scoring_heads(self) -> list[Head]:
        """Heads above the scoring cut of the TFC1 and of the STMC1 head→logit path-patching maps (as the
        suite's)."""
        from circuits.patching import path_patch
        from circuits.roles import shared_heads_above_cut

        return shared_heads_above_cut([path_patch(self.model, self.aligned(40, 8, appended), seed=self.seed).effect
                                       for appended in (term, synonym)])

    @cached_property
    def upstream(self) -> dict:
        """Path patching into the scoring heads' values on TFC1, STMC1 and RANDOM (as the suite's), or the
        NotComputable that says why there is none."""
        from circuits.measures.scoring import upstream_maps

        try:
            return upstream_maps(self.model, {axiom: self.aligned(40, 8, appended) for axiom, appended in
                                              (("TFC1", term), ("STMC1", synonym), ("RANDOM", random_word))},
                                 self.scoring_heads, self.seed)
        except NotComputable as why:
            return {"unmet": why}


# --------------------------------------------------------------------------- checks, one per claim

def check_similarity(probe: Probe) -> ClaimResult:
    from circuits.measures.matching import similarity_gap

    heads, r_held = probe.similarity
    gap, _, _, items = similarity_gap(r_held, heads, probe.seed)
    return CLAIMS["mh.similarity"].result(gap, items=items, matching_heads=heads)


def check_u0(probe: Probe) -> ClaimResult:
    from circuits.stats import group_bootstrap

    values, idf = probe.spectrum.u0, probe.idf
    r = group_bootstrap(lambda i: float(np.corrcoef(values[i], idf[i])[0, 1]), np.arange(len(idf)),
                        unit="vocabulary token", seed=probe.seed)
    return CLAIMS["idf.u0"].result(r)


def check_saturation(probe: Probe, heads: Sequence[Head] | None = None, preference: bool = True) -> ClaimResult:
    """mh.saturation on :func:`saturation_pairs`; ``preference=False`` judges by the uniform null alone."""
    from circuits.matching import attention_by_level
    from circuits.measures.matching import preference_unmet, saturation_against_uniform, term_preference
    from circuits.roles import same_layer_heads
    from circuits.saturation import saturation_unmet

    claim, m = CLAIMS["mh.saturation"], probe.model
    heads = list(heads or probe.matching_heads)
    pairs = saturation_pairs()
    every = same_layer_heads(heads, m.cfg.n_heads)
    per_head = attention_by_level(m, pairs, every, "term", per_head=True)
    matrix = per_head[:, :, [every.index(h) for h in heads]].mean(-1)
    null = attention_by_level(m, pairs, heads, "term", uniform=True)
    value, first, uniform, _ = saturation_against_uniform(sorted({p.query_id for p in pairs}), matrix, null,
                                                          probe.seed)
    unmet = saturation_unmet(first, value.value)
    if preference:
        controls = matched_head_sets(heads, m.cfg.n_heads, claim.extra["control_sets"], probe.seed)
        rank = term_preference(per_head, every, heads, controls, probe.seed)
        unmet = unmet or preference_unmet(rank, claim.extra["preference_rank"])
    return claim.result(value, control=uniform, unmet=unmet)


def check_ablation(probe: Probe, heads: Sequence[Head] | None = None) -> ClaimResult:
    from circuits.controls import percentile_rank
    from circuits.measures.matching import gain_lost

    claim, m = CLAIMS["mh.ablation"], probe.model
    heads = list(heads or probe.matching_heads)
    pairs = probe.aligned(24, 2, term)
    controls = matched_head_sets(heads, m.cfg.n_heads, claim.extra["control_sets"], probe.seed)
    intact, lost = gain_lost(m, pairs, [heads, *controls])
    value = percentile_rank(lost[:, 0], lost[:, 1:], pairs.query_ids, unit="query", seed=probe.seed)
    return claim.result(value, tfc1_share_raised=float((intact > 0).mean()))


def check_path_to_logit(probe: Probe) -> ClaimResult:
    from circuits.measures.scoring import late_concentration
    from circuits.patching import path_patch

    results = {axiom: path_patch(probe.model, probe.aligned(40, 3, appended), seed=probe.seed)
               for axiom, appended in (("TFC1", term), ("STMC1", synonym))}
    value, flat, held_out, items = late_concentration(results, late_from=probe.model.cfg.n_layers // 2,
                                                      seed=probe.seed)
    return CLAIMS["rsh.path_to_logit"].result(value, control=flat, held_out=held_out, items=items,
                                              top_tfc1=results["TFC1"].top(1)[0][0],
                                              top_stmc1=results["STMC1"].top(1)[0][0])


def check_u0_causal(probe: Probe) -> ClaimResult:
    from circuits.axioms import scores
    from circuits.controls import random_directions
    from circuits.idf import without_direction
    from circuits.measures.idf import dependence_lost

    claim, m = CLAIMS["idf.u0_causal"], probe.model
    rng = np.random.default_rng(5)
    rows = []
    for i in range(60):
        query = rng.choice(WORDS, 3, replace=False)
        doc = " ".join(rng.choice([w for w in WORDS if w not in query], 8))
        word = query[int(rng.integers(3))]
        rows.append((f"q{i}", " ".join(query), f"{doc} a", f"{doc} {word}", word))
    qids, queries, baselines, perturbed, words = (list(c) for c in zip(*rows))
    term_idf = probe.idf[m.tokenizer.convert_tokens_to_ids(words)]
    v0 = probe.spectrum.v0

    def gains() -> np.ndarray:
        return scores(m, queries, perturbed) - scores(m, queries, baselines)

    intact = gains()
    with without_direction(m, v0):
        ablated = gains()
    controls = []
    for direction in random_directions(len(v0), claim.extra["random_directions"], seed=probe.seed, orthogonal_to=v0):
        with without_direction(m, direction):
            controls.append(gains())
    value, control = dependence_lost(intact, ablated, controls, term_idf, qids, seed=probe.seed)
    return claim.result(value, control=control)


def check_attention_idf(probe: Probe, heads: Sequence[Head] | None = None,
                        others: Sequence[Head] | None = None) -> ClaimResult:
    from circuits.measures.scoring import idf_attention
    from circuits.roles import same_layer_heads

    heads = list(heads or probe.scoring_heads)
    if not heads:
        return CLAIMS["rsh.attention_idf"].not_computable("no scoring head found")
    if others is None:
        others = [h for h in same_layer_heads(heads, probe.model.cfg.n_heads) if h not in heads]
    value, _, control, _ = idf_attention(probe.model, matching_pairs(), heads, probe.idf, "cls", probe.seed,
                                         lambda r: np.nanmean(np.abs(r)), others)
    return CLAIMS["rsh.attention_idf"].result(value, control=control)


def check_stmc1(probe: Probe) -> ClaimResult:
    """axiom.stmc1, length-matched: the planted synonym against a random word appended in its place."""
    from circuits.measures.axioms import compliance_measure, length_matched_gains

    rng = np.random.default_rng(6)
    pairs = appended_pairs(60, 6, synonym)
    controls = [SimpleNamespace(id=f"RANDOM/{p.id}", perturbed=p.baseline.removesuffix(" a") + " " + random_word(
        p.query.split(), p.baseline.split(), rng)) for p in pairs]
    kept, d = length_matched_gains(probe.model, pairs, controls)
    share, indifference, items, details = compliance_measure(probe.model, kept, probe.seed, d)
    return CLAIMS["axiom.stmc1"].result(share, control=indifference, items=items, **details)


def check_tfc1_vs_stmc1(probe: Probe) -> ClaimResult:
    from circuits.measures.scoring import agreement_beyond_random, kept_with_random
    from circuits.patching import path_patch

    results = {axiom: path_patch(probe.model, probe.aligned(40, 7, appended), seed=probe.seed)
               for axiom, appended in (("TFC1", term), ("STMC1", synonym), ("RANDOM", random_word))}
    value, control, items = agreement_beyond_random(kept_with_random(results), seed=probe.seed)
    return CLAIMS["rsh.tfc1_vs_stmc1"].result(value, control=control, items=items)


def check_upstream_agreement(probe: Probe) -> ClaimResult:
    from circuits.measures.scoring import agreement_beyond_random, kept_with_random

    claim = CLAIMS["rsh.upstream_agreement"]
    if "unmet" in probe.upstream:
        return claim.not_computable(str(probe.upstream["unmet"]))
    try:
        value, control, items = agreement_beyond_random(kept_with_random(probe.upstream), seed=probe.seed)
    except NotComputable as why:
        return claim.not_computable(str(why))
    return claim.result(value, control=control, items=items, scoring_heads=probe.scoring_heads)


def check_contextualisation(probe: Probe) -> ClaimResult:
    from circuits.measures.scoring import contextualisation_heads, idf_attention

    claim = CLAIMS["qch.idf"]
    try:
        if "unmet" in probe.upstream:
            raise probe.upstream["unmet"]
        qch = contextualisation_heads(probe.upstream, probe.scoring_heads, probe.matching_heads)
    except NotComputable as why:
        return claim.not_computable(str(why))
    value, per_head, _, _ = idf_attention(probe.model, matching_pairs(), qch, probe.idf, "query", probe.seed,
                                          np.mean)
    return claim.result(value, contextualisation_heads=qch, scoring_heads=probe.scoring_heads, per_head=per_head)


def check_u0_edit(probe: Probe) -> ClaimResult:
    from circuits.editing import edit_curves, edit_examples, gap_changes
    from circuits.idf import signed_random_directions
    from circuits.measures.idf import edit_beyond_random

    claim, m = CLAIMS["idf.u0_edit"], probe.model
    rng = np.random.default_rng(9)
    rows = []
    for _ in range(40):
        first, second = rng.choice(WORDS, 2, replace=False)
        rows.append((f"{first} {second}", [first, second]))
    examples = edit_examples(rows, m.tokenizer, 40)  # each example edits a token no other example reads
    steps = claim.extra["edit_steps"]
    gaps = np.subtract(*edit_curves(m, probe.spectrum, examples, steps))
    directions = signed_random_directions(m, probe.spectrum, claim.extra["random_directions"], probe.seed, probe.idf)
    rank, unmet, _ = edit_beyond_random(gaps, gap_changes(m, probe.spectrum, examples, steps, directions),
                                        [q for q, _, _ in examples], probe.seed, steps, claim.extra["monotonic_rho"])
    return claim.result(rank, unmet=unmet, examples=len(examples))


def check_length(probe: Probe, heads: Sequence[Head] | None = None) -> ClaimResult:
    """mh.length: the heads' [CLS]/query outputs patched in from documents 24 words longer."""
    from circuits.ablation import patch_query_outputs
    from circuits.measures.matching import head_set_percentile

    claim, m = CLAIMS["mh.length"], probe.model
    heads = list(heads or probe.matching_heads)
    rng = np.random.default_rng(4)
    queries, short, long = [], [], []
    for _ in range(40):
        query = rng.choice(WORDS, 3, replace=False)
        others = [w for w in WORDS if w not in query]
        queries.append(" ".join(query))
        short.append(" ".join([*rng.choice(others, 8), *query]))
        long.append(f"{short[-1]} {' '.join(rng.choice(others, 24))}")
    controls = matched_head_sets(heads, m.cfg.n_heads, claim.extra["control_sets"], probe.seed)
    target, source = m.tokenize(queries, short), m.tokenize(queries, long)
    drop = m.scores_cls_last(target).double().numpy()[:, None] - patch_query_outputs(m, target, source,
                                                                                   [heads, *controls])
    value, items, details = head_set_percentile(range(len(queries)), drop[:, 0], drop[:, 1:], queries, heads,
                                                controls, probe.seed)
    return claim.result(value, items=items, **details)


def check_adversarial(probe: Probe, least_attacks: int = 1) -> ClaimResult:
    """edit.adversarial: the three rarest words injected into documents of queries that hold them."""
    from circuits.editing import demoted
    from circuits.idf import signed_random_directions
    from circuits.measures.idf import demotion_beyond_random

    claim, m = CLAIMS["edit.adversarial"], probe.model
    extra = claim.extra
    unsafe = sorted(WORDS, key=lambda w: -probe.idf[m.tokenizer.convert_tokens_to_ids(w)])[:3]
    rng = np.random.default_rng(4)
    queries, clean = [], []
    for i in range(60):
        query = [unsafe[i % 3], *rng.choice([w for w in WORDS if w not in unsafe], 2, replace=False)]
        queries.append(" ".join(query))
        clean.append(" ".join(rng.choice([w for w in WORDS if w not in query], 8)))
    injected = [f"{doc} {query.split()[0]}" for query, doc in zip(queries, clean)]
    gain = (m.score_pairs(queries, injected) - m.score_pairs(queries, clean)).numpy()
    attacks = np.nonzero(gain > extra["injection_gain"])[0]
    if len(attacks) < least_attacks:
        return claim.not_computable(f"{len(attacks)} injections raised the score by more than "
                                    f"{extra['injection_gain']}: no attack to undo")
    attacked = ([queries[i] for i in attacks], [injected[i] for i in attacks], [clean[i] for i in attacks])
    ids = m.tokenizer.convert_tokens_to_ids(unsafe)
    own = demoted(m, probe.spectrum, ids, extra["edit_steps"], *attacked)
    directions = signed_random_directions(m, probe.spectrum, extra["random_directions"], probe.seed, probe.idf)
    controls = np.array([demoted(m, probe.spectrum, ids, extra["edit_steps"], *attacked, d) for d in directions]).T
    share, control, items = demotion_beyond_random(attacks, own, controls, [queries[i] for i in attacks],
                                                   seed=probe.seed)
    return claim.result(share, control=control, items=items, attacks=len(attacks))


def check_semantic_bm(probe: Probe, heads: Sequence[Head] | None = None) -> tuple[ClaimResult, ClaimResult]:
    """semantic_bm.fit and semantic_bm.generalization on 2-4 word queries, grouped by their token length (fit on
    the middle group: 3 words where each word is a token), with documents holding 0-2 of the query's words among
    8 others."""
    from circuits.bm25 import BM25, analyze
    from circuits.measures.semantic_bm import fit_beyond_bm25, generalization_beyond_bm25
    from circuits.semantic_study import Circuit, Source, control_circuits, evaluate_group

    m, seed = probe.model, probe.seed
    heads = list(heads or probe.matching_heads)
    controls = control_circuits(m, heads, probe.spectrum.v0, CLAIMS["semantic_bm.fit"].extra["control_circuits"],
                                seed)
    rng = np.random.default_rng(0)
    by_length: dict[int, list[SimpleNamespace]] = {}
    for length in (2, 3, 4):
        for q in range(30):
            query = list(rng.choice(WORDS, length, replace=False))
            tokens = len(m.tokenizer(" ".join(query), add_special_tokens=False)["input_ids"])
            for d in range(6):
                doc = [*rng.choice([w for w in WORDS if w not in query], 8), *rng.choice(query, rng.integers(3))]
                rng.shuffle(doc)
                by_length.setdefault(tokens, []).append(SimpleNamespace(
                    query_id=f"{length}q{q}", doc_id=f"{length}q{q}d{d}", query=" ".join(query),
                    document=" ".join(doc)))
    fit_extra = CLAIMS["semantic_bm.fit"].extra
    evaluated = {}
    for tokens, pairs in sorted(by_length.items()):  # groups by query token length, as the suite's
        if len(pairs) < fit_extra["min_group"] or len({p.query_id for p in pairs}) < fit_extra["min_queries"]:
            continue
        judged = {p.query_id: {p.doc_id: 1} for p in pairs[::6]}  # nDCG needs some judgement; the claims do not
        source = Source("synthetic", BM25(analyze(p.document) for p in pairs), judged)
        evaluated[tokens] = evaluate_group(m, pairs, Circuit(heads, -probe.spectrum.u0), controls, lambda _: source,
                                           seed=seed)
    if not evaluated:
        why = f"no query-length group has {fit_extra['min_group']} pairs from {fit_extra['min_queries']} queries"
        return CLAIMS["semantic_bm.fit"].not_computable(why), CLAIMS["semantic_bm.generalization"].not_computable(why)
    fit_length = sorted(evaluated)[len(evaluated) // 2]
    gain, control, items = fit_beyond_bm25(*evaluated[fit_length], seed=seed)
    fit = CLAIMS["semantic_bm.fit"].result(gain, control=control, items=items)
    general = CLAIMS["semantic_bm.generalization"]
    median, circuits, unmet, _, items = generalization_beyond_bm25(
        [row for row, _ in evaluated.values()], seed=seed, lengths=list(evaluated),
        random_r_max=general.extra["random_r_max"])
    return fit, general.result(median, control=circuits, unmet=unmet, items=items)


CHECKS: dict[str, Callable[[Probe], ClaimResult]] = {
    "mh.similarity": check_similarity, "idf.u0": check_u0, "mh.saturation": check_saturation,
    "mh.ablation": check_ablation, "rsh.path_to_logit": check_path_to_logit, "idf.u0_causal": check_u0_causal,
    "rsh.attention_idf": check_attention_idf, "axiom.stmc1": check_stmc1, "rsh.tfc1_vs_stmc1": check_tfc1_vs_stmc1,
    "rsh.upstream_agreement": check_upstream_agreement, "qch.idf": check_contextualisation,
    "idf.u0_edit": check_u0_edit, "mh.length": check_length, "edit.adversarial": check_adversarial,
    "semantic_bm.fit": lambda probe: check_semantic_bm(probe)[0],
    "semantic_bm.generalization": lambda probe: check_semantic_bm(probe)[1],
}


def check_model(model: HookedCrossEncoder, claims: Iterable[str] | None = None, seed: int = 0,
                idf: np.ndarray | None = None) -> dict[str, ClaimResult]:
    """Every harness check (or those of ``claims``) on ``model``, by claim id; ``idf``: the IDF it stores (a
    planted model's :func:`circuits.tiny.planted_idf` of its seed), seed 0's planted IDF when None."""
    probe = Probe(model, seed, idf)
    wanted = list(CHECKS) if claims is None else list(claims)
    unknown = sorted(set(wanted) - set(CHECKS))
    if unknown:
        raise KeyError(f"no harness check for {unknown}; the harness checks {sorted(CHECKS)}")
    out: dict[str, ClaimResult] = {}
    if {"semantic_bm.fit", "semantic_bm.generalization"} & set(wanted):
        fit, general = check_semantic_bm(probe)
        out.update({"semantic_bm.fit": fit, "semantic_bm.generalization": general})
    for claim_id in wanted:
        if claim_id not in out:
            out[claim_id] = CHECKS[claim_id](probe)
    return {claim_id: out[claim_id] for claim_id in wanted}


def check_zoo(zoo: Mapping[str, tuple[HookedCrossEncoder, Mapping[str, str]]], seed: int = 0
              ) -> list[tuple[str, str, str, ClaimResult]]:
    """The surprises of a model zoo: ``{name: (model, {claim id: expected status})}`` → (name, claim id, expected,
    the result) for every check whose status is not the expected one."""
    surprises = []
    for name, (model, expected) in zoo.items():
        for claim_id, result in check_model(model, expected, seed).items():
            if result.status != expected[claim_id]:
                surprises.append((name, claim_id, expected[claim_id], result))
    return surprises
