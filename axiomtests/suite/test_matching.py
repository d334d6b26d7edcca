"""Matching heads (paper §4.3, App. E): similarity-driven attention, saturation, length, ablation.

Matching heads are found by role: the heads whose query→document attention correlates best with token
similarity on one half of the queries (as many heads as the paper's 13 of 144); every claim about them is
then measured on the other half or on other datasets, so the selection cannot flatter the result.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from axiomtests.claims import CLAIMS
from axiomtests.suite.conftest import levels, saturation_ratio
from circuits.matching import attention_to_positions
from circuits.stats import group_bootstrap


def head_names(heads) -> list[str]:
    return [f"{layer}.{head}" for layer, head in heads]


@pytest.mark.claim("mh.similarity")
def test_matching_heads_attend_by_similarity(matching_heads, axiom_session, check_claim):
    _, r_held, heads = matching_heads
    chosen = np.zeros(r_held.shape, bool)
    for layer, head in heads:
        chosen[layer, head] = True
    mh, others = float(np.nanmean(r_held[chosen])), float(np.nanmean(r_held[~chosen]))
    finite = np.isfinite(r_held).ravel()
    r, is_mh = r_held.ravel()[finite], chosen.ravel()[finite]
    gap = group_bootstrap(lambda i: float(r[i][is_mh[i]].mean() - r[i][~is_mh[i]].mean()), np.arange(len(r)),
                          unit="head", strata=is_mh, seed=axiom_session.seed)
    check_claim(CLAIMS["mh.similarity"].result(
        gap, matching_heads=head_names(heads), mean_r_matching=mh, mean_r_others=others,
        r_map_held_out=np.round(r_held, 4).tolist()))


def attention_by_level(model, pairs, heads, target: str) -> np.ndarray:
    """``[queries, levels]`` matrix of the heads' query→target attention."""
    by_query = levels(pairs)
    rows = [[by_query[q][k] for k in sorted(by_query[q])] for q in sorted(by_query)]
    flat = [item for row in rows for item in row]
    term_ids = [model.tokenizer.convert_tokens_to_ids(t) if t else -1 for _, _, t in flat]
    values = attention_to_positions(model, [q for q, _, _ in flat], [d for _, d, _ in flat], heads, target,
                                    term_ids)
    return values.reshape(len(rows), -1)


@pytest.mark.claim("mh.saturation")
def test_matching_attention_saturates(hooked_model, datasets, matching_heads, axiom_report, axiom_session,
                                      plot_curve, check_claim):
    _, _, heads = matching_heads
    pairs = [p for p in datasets["TFC2"] if p.variant == "appended"]
    matrix = attention_by_level(hooked_model, pairs, heads, "term")
    steps = np.diff(matrix, axis=1)
    value = group_bootstrap(lambda i: saturation_ratio(steps[i]), range(len(steps)), unit="query",
                            seed=axiom_session.seed)
    axiom_report.sections["matching heads: attention to the repeated term (TFC2)"] = {
        f"k={k}": float(matrix[:, k].mean()) for k in range(matrix.shape[1])}
    plot_curve("mh_saturation", range(matrix.shape[1]), {"matching heads": matrix},
               title="Matching heads: query→term attention by occurrences (TFC2)", xlabel="occurrences k",
               ylabel="attention to the term")
    check_claim(CLAIMS["mh.saturation"].result(value, queries=len(matrix), matching_heads=head_names(heads)))


@pytest.mark.claim("mh.length")
def test_matching_attention_shifts_with_length(hooked_model, datasets, matching_heads, axiom_report, axiom_session,
                                               plot_curve, check_claim):
    _, _, heads = matching_heads
    matrix = attention_by_level(hooked_model, datasets["LNC1"], heads, "doc")
    means = matrix.mean(0)
    rho = float(stats.spearmanr(np.arange(len(means)), means)[0])
    trend = group_bootstrap(lambda i: abs(float(stats.spearmanr(np.arange(len(means)), matrix[i].mean(0))[0])),
                            range(len(matrix)), unit="query", seed=axiom_session.seed)
    axiom_report.sections["matching heads: query→document attention (LNC1)"] = {
        f"i={i}": float(m) for i, m in enumerate(means)}
    plot_curve("mh_length", range(matrix.shape[1]), {"matching heads": matrix},
               title="Matching heads: query→document attention by length (LNC1)", xlabel="sentences appended",
               ylabel="attention to the document")
    check_claim(CLAIMS["mh.length"].result(trend, spearman=rho, queries=len(matrix),
                                           matching_heads=head_names(heads)))


def random_matched_sets(heads, n_layers_heads: tuple[int, int], n_sets: int, seed: int) -> list[list]:
    """Head sets with the same size and layers as ``heads``, drawn from the heads outside it (seeded)."""
    n_heads = n_layers_heads[1]
    rng = np.random.default_rng(seed)
    chosen = set(heads)
    sets = []
    for _ in range(n_sets):
        drawn = []
        for layer, _ in heads:
            options = [(layer, h) for h in range(n_heads) if (layer, h) not in chosen and (layer, h) not in drawn]
            drawn.append(options[int(rng.integers(len(options)))])
        sets.append(sorted(drawn))
    return sets


@pytest.mark.claim("mh.ablation")
def test_ablating_matching_heads_lowers_perturbed_scores(hooked_model, patching_sets, matching_heads,
                                                        axiom_session, check_claim):
    from circuits.patching import ablate_heads, head_means

    heads = matching_heads[2]
    controls = random_matched_sets(heads, (hooked_model.cfg.n_layers, hooked_model.cfg.n_heads), 5,
                                   axiom_session.seed)
    drops, per_pair = {}, {}
    for axiom in ("TFC1", "STMC1"):
        _, pairs = patching_sets[axiom]
        perturbed = hooked_model(pairs.perturbed).double().cpu().numpy()
        means = head_means(hooked_model, pairs.baseline, sorted(set(heads).union(*controls)))

        def drop(head_set) -> np.ndarray:
            """Per pair, perturbed score minus the score with ``head_set`` mean-ablated."""
            return perturbed - ablate_heads(hooked_model, pairs.perturbed, head_set, mode="mean",
                                            means=means).double().cpu().numpy()

        per_pair[axiom] = (drop(heads), np.array([drop(s) for s in controls]).T, pairs.query_ids)  # [n], [n, sets]
        drops[axiom] = {"perturbed_mean": float(perturbed.mean()), "matching_heads": float(per_pair[axiom][0].mean()),
                        "random_sets": per_pair[axiom][1].mean(0).tolist()}
    own, control, qids = per_pair["TFC1"]
    value = group_bootstrap(lambda i: float(own[i].mean() - control[i].mean()), qids, unit="query",
                            seed=axiom_session.seed)
    check_claim(CLAIMS["mh.ablation"].result(
        value, matching_heads=head_names(heads), control_sets=[head_names(s) for s in controls],
        reference="mean z over the real tokens of the padded TFC1/STMC1 baselines (one vector per head)",
        drops=drops))
