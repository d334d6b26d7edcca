"""Measures of the behavioural axioms (TFC1, STMC1, TFC2, LNC1): compliance shares against indifference, the
saturation ratio against a straight line."""

from __future__ import annotations

import numpy as np

from circuits.axioms import compliance, gains
from circuits.controls import Control
from circuits.items import Items
from circuits.saturation import saturation_ratio


def compliance_measure(model, pairs, seed: int, d: np.ndarray | None = None) -> tuple:
    """(the share of TFC1/STMC1 ``pairs`` whose score rises, bootstrapped over queries; the indifference control;
    the items: per pair its gain and whether it rose; details) from the gains ``d`` (scored when None)."""
    d = gains(model, pairs) if d is None else d
    ok, details = compliance(d, pairs)
    items = Items.of([p.id for p in pairs], [p.query_id for p in pairs], gain=d, ok=ok)
    share, indifference = share_beyond_indifference(items, seed)
    return share, indifference, items, details


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
