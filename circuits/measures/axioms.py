"""Measures of the behavioural axioms (TFC1, STMC1, TFC2, LNC1): compliance shares against indifference, the
saturation ratio against a straight line."""

from __future__ import annotations

import numpy as np

from circuits.axioms import compliance, gains, scores
from circuits.controls import Control
from circuits.items import Items
from circuits.saturation import saturation_ratio


def compliance_measure(model, pairs, seed: int, d: np.ndarray | None = None) -> tuple:
    """(the share of TFC1/STMC1 ``pairs`` whose gain is positive, bootstrapped over queries; the indifference
    control; the items: per pair its gain and whether it was positive; details) from the gains ``d`` (perturbed −
    unpadded baseline, scored when None; the suite passes :func:`length_matched_gains`)."""
    d = gains(model, pairs) if d is None else d
    ok, details = compliance(d, pairs)
    items = Items.of([p.id for p in pairs], [p.query_id for p in pairs], gain=d, ok=ok)
    share, indifference = share_beyond_indifference(items, seed)
    return share, indifference, items, details


def length_matched_gains(model, pairs, controls) -> tuple[list, np.ndarray]:
    """(the ``pairs`` that have a control, per pair score(perturbed) − score(its control's perturbed)): the term
    against another word appended at the same place, as long in pieces (``controls``: the RANDOM pairs of
    :func:`axiomtests.perturb.random_word_pair`, ids ``RANDOM/<pair id>``), so that both documents have the same
    length, as Fang's constraints require, and no length penalty enters the gain."""
    control_of = {c.id.removeprefix("RANDOM/"): c for c in controls}
    kept = [p for p in pairs if p.id in control_of]
    queries = [p.query for p in kept]
    return kept, (scores(model, queries, [p.perturbed for p in kept])
                  - scores(model, queries, [control_of[p.id].perturbed for p in kept]))


def share_beyond_indifference(items: Items, seed: int) -> tuple:
    """(share of the items' ``ok`` with its CI, the indifference control: 0.5, a rise as likely as a fall)."""
    ok = items.values["ok"]
    share = items.bootstrap(lambda i: float(ok[i].mean()), unit="query", seed=seed)
    beyond = items.bootstrap(lambda i: float(ok[i].mean()) - 0.5, unit="query", seed=seed)
    return share, Control("indifference (a rise as likely as a fall)", 0.5, beyond)


def saturation_against_a_line(qids, steps: np.ndarray, seed: int) -> tuple:
    """(saturation ratio, first gain, the straight-line control, the items) of per-query score steps
    ``[queries, k]``, each query its own unit."""
    items = Items.of(qids, step=steps)
    value = items.bootstrap(lambda i: saturation_ratio(steps[i]), unit="query", seed=seed)
    first = items.bootstrap(lambda i: float(steps[i, 0].mean()), unit="query", seed=seed)
    linear = Control("a straight line (ratio 1)", 1.0, items.bootstrap(
        lambda i: saturation_ratio(steps[i]) - 1.0, unit="query", seed=seed))
    return value, first, linear, items
