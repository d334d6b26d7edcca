"""The activations a patching pass caches from the baseline and perturbed runs of a batch of pairs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from circuits.block import cls_rows
from circuits.hooks import act_name
from circuits.model import HookedCrossEncoder, PairBatch
from circuits.pairs import AlignedPairs
from circuits.sites import Plan, Site

Tensor = torch.Tensor
# cached baseline activations that stand in for computation inside the block of the first patch
UPSTREAM = {"resid_pre": (), "pattern": ("pattern", "v"), "z": ("z", "attn_out"), "attn_out": ("attn_out",),
            "mlp_out": ("attn_out", "mlp_out")}


@dataclass
class Chunk:
    """One batch of pairs: cached baseline activations, source (perturbed) activations, scores."""

    base: dict[str, Tensor]
    source: dict[str, Tensor]
    mask: Tensor  # additive [b,1,1,p]
    base_scores: Tensor
    source_scores: Tensor

    @property
    def size(self) -> int:
        return self.base_scores.shape[0]


def hook_key(name: str) -> str:
    """``blocks.3.attn.hook_z`` -> ``z``."""
    return name.rsplit(".", 1)[-1].removeprefix("hook_")


def record(model: HookedCrossEncoder, batch: PairBatch, names: Mapping[str, bool]
            ) -> tuple[Tensor, dict[str, Tensor]]:
    """Scores of one forward and its activations ``names`` (only their [CLS] row where the value is True)."""
    store: dict[str, Tensor] = {}

    def save(tensor: Tensor, point: Any) -> None:
        kept = cls_rows(tensor, hook_key(point.name)) if names[point.name] else tensor
        store[point.name] = kept.clone()

    scores = model.run_with_hooks(batch, [(names.__contains__, save)])
    return scores, store


def cache_names(model: HookedCrossEncoder, plan: Plan, sites: tuple[Site, ...]
                 ) -> tuple[dict[str, bool], dict[str, bool]]:
    """Hook names to cache on the baseline and on the perturbed run (True: [CLS] row only)."""
    keys = {"resid_pre"}
    for site in sites:
        keys.update(UPSTREAM[site.key])
    if plan.freeze_heads:
        keys.update(("z", "attn_out"))
    if plan.freeze_mlps:
        keys.add("mlp_out")
    layers, cls_only = range(model.cfg.n_layers), plan.cls_only and model.reads_cls_only
    base = {act_name(k, l): cls_only and k != "v" for k in keys for l in layers}
    for layer, _ in plan.receivers:
        base[act_name(plan.receiver_input, layer)] = False
    source = {act_name(s.key, l): cls_only for s in sites for l in layers}
    return base, source


def prepare(model: HookedCrossEncoder, plan: Plan, sites: tuple[Site, ...], pairs: AlignedPairs) -> Chunk:
    base_names, source_names = cache_names(model, plan, sites)
    base_scores, base = record(model, pairs.baseline, base_names)
    source_scores, source = record(model, pairs.perturbed, source_names)
    return Chunk(base, source, model.extended_mask(pairs.baseline.attention_mask), base_scores, source_scores)
