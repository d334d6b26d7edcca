"""Timing: pytest-benchmark runs of the patching passes the suite makes, on a slice of its own TFC1 pairs.

They run only with ``--axiom-timing`` (``axiomtests run --timing``): timings are benchmarks, not verdicts, and
cost the run a minute. With ``--axiom-report-dir`` the pytest-benchmark JSON lands beside the report as
``benchmarks.json`` (``report.json`` holds no timings, so it stays byte-identical across runs). Each pass runs
when a claim that makes it is selected (``--axiom-claims``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

TIMED_PAIRS = 8
ROUNDS = 3


def _passes(scoring_heads, matching_heads) -> dict[str, Callable]:
    """Each pass, as ``run(model, pairs) -> array``, with the suite's settings. The ablation computes its head
    means in the same call (the suite computes them once per axiom and ablates six head sets with them)."""
    from circuits.ablation import ablate_heads
    from circuits.patching import path_patch

    receivers = [h for h in scoring_heads if h[0] > 0]
    return {
        "path_to_logit": lambda model, pairs: path_patch(model, pairs, n_boot=100).effect,
        "path_to_scoring_heads_v": lambda model, pairs: path_patch(
            model, pairs, receivers=receivers, receiver_input="v", n_boot=100).effect,
        "mean_ablation_matching_heads": lambda model, pairs: ablate_heads(
            model, pairs.perturbed, matching_heads[2], mode="mean", reference=pairs.baseline).double().cpu().numpy(),
    }


@pytest.fixture(scope="module")
def timed_pairs(patching_sets):
    return patching_sets["TFC1"][1].select(slice(0, TIMED_PAIRS))


@pytest.mark.parametrize("name", [
    pytest.param("path_to_logit", marks=pytest.mark.timing("rsh.*")),
    pytest.param("path_to_scoring_heads_v", marks=pytest.mark.timing("qch.idf")),
    pytest.param("mean_ablation_matching_heads", marks=pytest.mark.timing("mh.ablation"))])
def test_patching_pass_timing(benchmark, name, hooked_model, timed_pairs, scoring_heads, matching_heads,
                              axiom_session):
    if name == "path_to_scoring_heads_v" and not any(layer > 0 for layer, _ in scoring_heads):
        pytest.skip("the scoring heads sit in layer 0: nothing sends to them")
    cfg = hooked_model.cfg
    benchmark.group = f"suite patching passes: {len(timed_pairs)} TFC1 pairs"
    benchmark.extra_info.update(checkpoint=axiom_session.resolved_checkpoint(), device=axiom_session.device,
                                pairs=len(timed_pairs), tokens=int(timed_pairs.baseline.input_ids.shape[1]),
                                layers=cfg.n_layers, heads=cfg.n_heads)
    result = benchmark.pedantic(_passes(scoring_heads, matching_heads)[name], args=(hooked_model, timed_pairs),
                                rounds=ROUNDS, iterations=1)
    senders = max(layer for layer, _ in scoring_heads) if name == "path_to_scoring_heads_v" else cfg.n_layers
    expected = (len(timed_pairs),) if name.startswith("mean_ablation") else (senders, cfg.n_heads)
    # patching effects are NaN where no timed pair moved the score by δ (a model without the effect); scores never
    finite = np.isfinite(result).all() if name.startswith("mean_ablation") else True
    assert result.shape == expected and finite, (result.shape, expected)
