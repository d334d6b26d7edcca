"""Activation patching and exact path patching for a HookedCrossEncoder: batched, streamed, layer-skipping.

Semantics (``docs/patching.md``); every patched run is on the *baseline* pair ("denoising"):

- **Activation patching** overwrites one activation (a head's ``z`` at every position or at one position, one
  query row of a head's attention pattern, or ``resid_pre``/``attn_out``/``mlp_out`` at one position) with its
  value on the perturbed pair; everything downstream is recomputed.
- **Path patching** (IOI, the paper's appendix C) patches a *sender* while every head's ``z`` is frozen at its
  baseline value (``freeze_heads``) and MLP outputs are recomputed, or frozen too (``freeze_mlps``); LayerNorms
  are always recomputed. Receiver = the logit: the score of that run. Receivers = heads: that run (pass 2)
  yields the receivers' q, k or v input; pass 3 reruns the baseline with only those inputs of those heads
  replaced, everything else recomputed, and the score is read.

Result: ``(patched − baseline) / (perturbed − baseline)`` aggregated as a ratio of means over the pairs that
pass the δ-filter, with a bootstrap CI over queries (``circuits.stats``).

Speed, with exactness kept (tested against ``engine="reference"``, one full hooked forward per patch):

- a patch at layer ``l`` starts from the cached residual stream entering ``l`` and reuses the cached baseline
  activations upstream of the patched one inside block ``l``; a head patch updates the cached ``attn_out`` by
  that head's slice of the (linear) output projection; the last block computes only the [CLS] row, without
  projecting every key and value (``circuits.block.cls_context``);
- with every head frozen, positions never mix after the sender, so head→logit path patching computes only the
  [CLS] row of the sender's and later blocks, and no attention at all;
- a patch that changes nothing for a pair (say, a head whose output projection is zero) reports exactly the
  baseline score, not the rounding noise of a partial recompute;
- pairs stream in batches (peak memory does not grow with the number of pairs), patched variants of one layer
  stack along the batch (``variants_per_pass``), and everything runs under ``torch.inference_mode()``.

Reference: ``engine="reference"`` runs one full hooked Hugging Face forward per patch (two for head receivers),
with hooks that freeze and write exactly as described above; the tests hold the fast engine to it (≤ 1e-5).

Examples:
    >>> pairs = align_pairs(model, queries, baseline_docs, perturbed_docs, query_ids)    # doctest: +SKIP
    >>> patch_heads(model, pairs).effect.shape                  # [layers, heads]         # doctest: +SKIP
    >>> path_patch(model, pairs, receivers=[(10, 1)], receiver_input="k").effect.shape  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from circuits.errors import InputError
from circuits.model import HookedCrossEncoder
from circuits.pairs import AlignedPairs, align_pairs
from circuits.patch_fast import run_fast
from circuits.patch_reference import run_reference
from circuits.patch_result import SCHEMA, PatchResult
from circuits.roles import head_labels
from circuits.sites import BLOCK_SITES, SITES, Head, Plan, Site, Variant, Write
from circuits.stats import estimate_effects

__all__ = ["SCHEMA", "SITES", "BLOCK_SITES", "Head", "AlignedPairs", "align_pairs", "PatchResult", "Site", "Write",
           "generic_patch", "patch_heads", "patch_heads_by_pos", "patch_pattern_rows", "patch_block_every",
           "path_patch", "path_patch_resid", "patch_head_sets"]

Tensor = torch.Tensor
_TOKENS_PER_PASS = {"cpu": 4096, "cuda": 1 << 16}  # auto variants_per_pass: rows computed per stacked pass


def generic_patch(model: HookedCrossEncoder, pairs: AlignedPairs, *, sites: Sequence[str] = ("z",),
                  head_sets: Sequence[Sequence[Head]] | None = None, path: bool = False,
                  receivers: Sequence[Head] = (), receiver_input: str = "q", freeze_heads: bool = True,
                  freeze_mlps: bool = False, batch_size: int = 32, variants_per_pass: int | None = None,
                  device: str | torch.device | None = None, delta: float = 0.01, n_boot: int = 1000,
                  level: float = 0.95, seed: int = 0, engine: str = "fast") -> PatchResult:
    """Patch every index of ``sites`` (or each set of heads in ``head_sets``), one patched run per index.

    Args:
        sites: names from ``SITES``; several share their axes and add a leading ``component`` axis.
        head_sets: instead of a sweep, one run per set, patching all its heads' ``z`` together.
        path: path patching (senders = the patched sites) instead of activation patching.
        receivers: heads whose ``receiver_input`` (q, k or v) receives the senders' direct effect; empty:
            the logit. Head senders then range over layers below the last receiver, residual ones up to it.
        freeze_heads, freeze_mlps: what path patching freezes at its baseline value (every head's ``z``;
            every MLP output). ``freeze_heads=False`` turns head→logit path patching into activation patching.
        batch_size: pairs per streamed batch; peak memory grows with it, not with ``len(pairs)``.
        variants_per_pass: patched variants stacked in one forward; None sizes it for the device.
        device: run there (the model is moved).
        delta, n_boot, level, seed: δ-filter and bootstrap (``circuits.stats.estimate_effects``).
        engine: ``"fast"``, or ``"reference"``: one full hooked forward per patch (slow, obviously right).

    Examples:
        >>> result = generic_patch(model, pairs, sites=("z",), path=True)     # = path_patch   # doctest: +SKIP
        >>> result.effect.shape, result.n_pairs, result.top(3)                                 # doctest: +SKIP
        ((12, 12), 61, [('10.1', 0.41), ('10.7', 0.22), ('10.4', 0.17)])
        >>> json.dumps(result.to_dict())                                                       # doctest: +SKIP
    """
    plan = _make_plan(path, receivers, receiver_input, freeze_heads, freeze_mlps)
    site_objs = _sites(sites if head_sets is None else ("z",), path)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if engine not in ("fast", "reference"):
        raise InputError(f"engine must be 'fast' or 'reference', got {engine!r}")
    if device is not None:
        model.to(device)
    _check_receivers(model, plan)
    n_pos = pairs.baseline.input_ids.shape[1]
    if head_sets is None:
        axes, coords, variants = _sweep(model, site_objs, plan, n_pos)
    else:
        axes, coords, variants = _head_set_variants(model, head_sets)
    run = partial(run_fast if engine == "fast" else run_reference, model, plan, site_objs,
                  variants=variants, per_pass=variants_per_pass or _auto_per_pass(model, plan, batch_size, n_pos))
    result_b, result_p, result = _stream(model, pairs, batch_size, run)
    result = result.reshape(len(pairs), *(len(coords[axis]) for axis in axes))
    estimate = estimate_effects(result, result_b, result_p, pairs.query_ids, delta=delta, n_boot=n_boot,
                                level=level, seed=seed)
    settings = {"model": model.name, "path": path, "receivers": head_labels(plan.receivers),
                "receiver_input": plan.receiver_input if plan.receivers else None,
                "freeze_heads": plan.freeze_heads, "freeze_mlps": plan.freeze_mlps, "delta": delta,
                "n_boot": n_boot, "ci_level": level, "seed": seed, "engine": engine}
    kind = ("path" if path else "activation") + ("_head_sets" if head_sets is not None else "")
    return PatchResult(kind, tuple(s.name for s in site_objs), axes, coords, result, result_b, result_p,
                       pairs.query_ids, estimate, settings)


def _stream(model: HookedCrossEncoder, pairs: AlignedPairs, batch_size: int,
            run: Callable[[AlignedPairs], tuple[Tensor, Tensor, Tensor]]) -> tuple[np.ndarray, ...]:
    """Baseline, perturbed and patched scores of every pair, ``batch_size`` pairs at a time."""
    out: list[list[np.ndarray]] = [[], [], []]
    with torch.inference_mode():
        for chunk in pairs.chunks(batch_size):
            for store, scores in zip(out, run(chunk.to(model.device))):
                store.append(scores.double().cpu().numpy())
    return tuple(np.concatenate(store) for store in out)


patch_heads = partial(generic_patch, sites=("z",))
patch_heads.__doc__ = "Activation patching of each head's z at every position: effect ``[layer, head]``."
patch_heads_by_pos = partial(generic_patch, sites=("z_pos",))
patch_heads_by_pos.__doc__ = "Activation patching of each head's z at each position: ``[layer, head, pos]``."
patch_pattern_rows = partial(generic_patch, sites=("pattern_row",))
patch_pattern_rows.__doc__ = ("Activation patching of each head's attention row of each query position: "
                              "``[layer, head, pos]``.")
patch_block_every = partial(generic_patch, sites=BLOCK_SITES)
patch_block_every.__doc__ = ("Activation patching of resid_pre, attn_out, mlp_out at each position: "
                             "``[component, layer, pos]``.")
path_patch = partial(generic_patch, sites=("z",), path=True)
path_patch.__doc__ = ("Path patching from each head: to the logit, or with ``receivers`` to their q/k/v input: "
                      "``[layer, head]``.")
path_patch_resid = partial(generic_patch, sites=BLOCK_SITES, path=True)
path_patch_resid.__doc__ = ("Path patching from resid_pre, attn_out, mlp_out per position (the paper's D.2 "
                            "into matching heads with ``receivers``): ``[component, layer, pos]``.")


def patch_head_sets(model: HookedCrossEncoder, pairs: AlignedPairs, head_sets: Sequence[Sequence[Head]],
                    **options: Any) -> PatchResult:
    """One run per set, patching the ``z`` of all heads of the set together: effect ``[set]``.

    With ``path=True`` the set is the sender set (every other head frozen).
    """
    return generic_patch(model, pairs, head_sets=head_sets, **options)


def _make_plan(path: bool, receivers: Sequence[Head], receiver_input: str, freeze_heads: bool,
               freeze_mlps: bool) -> Plan:
    if receiver_input not in ("q", "k", "v"):
        raise InputError(f"receiver_input must be 'q', 'k' or 'v', got {receiver_input!r}")
    if not path:
        if receivers or freeze_mlps:
            raise InputError("receivers and freeze_mlps belong to path patching: pass path=True")
        return Plan()
    return Plan(freeze_heads, freeze_mlps, tuple((int(l), int(h)) for l, h in receivers), receiver_input)


def _sites(names: Sequence[str], path: bool) -> tuple[Site, ...]:
    unknown = [n for n in names if n not in SITES]
    if unknown or not names:
        raise InputError(f"unknown sites {unknown or list(names)!r}; choose from {sorted(SITES)}")
    sites = tuple(SITES[n] for n in names)
    if len({s.axes for s in sites}) > 1:
        raise InputError(f"sites {list(names)} index differently ({[s.axes for s in sites]}): sweep them apart")
    if path and any(s.key == "pattern" for s in sites):
        raise InputError("attention-pattern rows are activation-patching sites; path senders are heads (z) or "
                         "residual components (resid_pre, attn_out, mlp_out)")
    return sites


def _check_receivers(model: HookedCrossEncoder, plan: Plan) -> None:
    for layer, head in plan.receivers:
        if not (0 < layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
            raise InputError(f"receiver {layer}.{head} is not a head of this model above layer 0 "
                             f"({model.cfg.n_layers} layers × {model.cfg.n_heads} heads)")


def _sweep(model: HookedCrossEncoder, sites: tuple[Site, ...], plan: Plan, n_pos: int
           ) -> tuple[tuple[str, ...], dict[str, list[Any]], list[Variant]]:
    if plan.receivers:
        top = max(layer for layer, _ in plan.receivers)
        layers = range(top if sites[0].key == "z" else top + 1)
    else:
        layers = range(model.cfg.n_layers)
    sizes = {"head": model.cfg.n_heads, "pos": n_pos}
    variants = [(Write(site, layer, index),)
                for site in sites for layer in layers
                for index in itertools.product(*(range(sizes[a]) for a in site.axes))]
    axes = ("layer", *sites[0].axes)
    coords: dict[str, list[Any]] = {"layer": list(layers), **{a: list(range(sizes[a])) for a in sites[0].axes}}
    if len(sites) > 1:
        axes = ("component", *axes)
        coords["component"] = [s.name for s in sites]
    return axes, coords, variants


def _head_set_variants(model: HookedCrossEncoder, head_sets: Sequence[Sequence[Head]]
                       ) -> tuple[tuple[str, ...], dict[str, list[Any]], list[Variant]]:
    variants = []
    for heads in head_sets:
        for layer, head in heads:
            if not (0 <= layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
                raise InputError(f"head {layer}.{head} is not in this model "
                                 f"({model.cfg.n_layers} layers × {model.cfg.n_heads} heads)")
        variants.append(tuple(Write(SITES["z"], int(l), (int(h),)) for l, h in sorted(set(heads))))
    labels = ["+".join(head_labels(sorted(set(heads)))) or "none" for heads in head_sets]
    return ("set",), {"set": labels}, variants


def _auto_per_pass(model: HookedCrossEncoder, plan: Plan, batch_size: int, n_pos: int) -> int:
    rows = batch_size * (1 if plan.cls_only and model.reads_cls_only else n_pos)
    return max(1, _TOKENS_PER_PASS.get(model.device.type, _TOKENS_PER_PASS["cpu"]) // rows)
