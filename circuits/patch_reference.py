"""The reference patching engine: one full hooked Hugging Face forward per patch (two for head receivers), with
hooks that freeze and write exactly as ``circuits.patching`` states. Slow and obviously right: the tests hold
the fast engine to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import torch

from circuits.hooks import act_name
from circuits.model import HookedCrossEncoder
from circuits.pairs import AlignedPairs
from circuits.patch_cache import cache_names, record
from circuits.patch_fast import head_index
from circuits.sites import Plan, Site, Variant, Write

Tensor = torch.Tensor


def run_reference(model: HookedCrossEncoder, plan: Plan, sites: tuple[Site, ...], pairs: AlignedPairs, *,
                   variants: Sequence[Variant], per_pass: int) -> tuple[Tensor, Tensor, Tensor]:
    """One full hooked Hugging Face forward per variant (two for head receivers): no skipping, no stacking."""
    del per_pass
    base_names, source_names = cache_names(model, Plan(), sites)
    base_names.update({act_name(k, l): False for k in ("z", "mlp_out") for l in range(model.cfg.n_layers)})
    base_scores, base = record(model, pairs.baseline, base_names)
    source_scores, source = record(model, pairs.perturbed, source_names)
    receiving = {l: head_index(heads, model.device) for l, heads in plan.receiver_heads().items()}
    scores = []
    for variant in variants:
        hooks = _freeze_hooks(model, plan, base) + [_write_hook(w, source) for w in variant]
        if not plan.receivers:
            scores.append(model.run_with_hooks(pairs.baseline, hooks))
            continue
        captured: dict[str, Tensor] = {}
        capture = [(act_name(plan.receiver_input, l), partial(_capture, captured, heads))
                   for l, heads in receiving.items()]
        model.run_with_hooks(pairs.baseline, hooks + capture)
        replace = [(name, partial(_put_heads, receiving[int(name.split(".")[1])], value))
                   for name, value in captured.items()]
        scores.append(model.run_with_hooks(pairs.baseline, replace))
    return base_scores, source_scores, torch.stack(scores, dim=1)


def _freeze_hooks(model: HookedCrossEncoder, plan: Plan, base: Mapping[str, Tensor]) -> list[tuple[str, Any]]:
    keys = (["z"] if plan.freeze_heads else []) + (["mlp_out"] if plan.freeze_mlps else [])
    return [(act_name(k, l), partial(_frozen, base)) for k in keys for l in range(model.cfg.n_layers)]


def _frozen(base: Mapping[str, Tensor], tensor: Tensor, point: Any) -> Tensor:
    return base[point.name].clone()


def _write_hook(write: Write, source: Mapping[str, Tensor]) -> tuple[str, Any]:
    selector = write.site.selector(write.index)

    def hook(tensor: Tensor, point: Any) -> Tensor:
        tensor = tensor.clone()
        tensor[selector] = source[point.name][selector]
        return tensor
    return act_name(write.site.key, write.layer), hook


def _capture(store: dict[str, Tensor], heads: Tensor, tensor: Tensor, point: Any) -> None:
    store[point.name] = tensor[:, :, heads].clone()


def _put_heads(heads: Tensor, values: Tensor, tensor: Tensor, point: Any) -> Tensor:
    tensor = tensor.clone()
    tensor[:, :, heads] = values
    return tensor
