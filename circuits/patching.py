"""Activation patching and exact path patching for a HookedCrossEncoder: batched, streamed, layer-skipping.

Semantics (DESIGN.md, "Patching semantics"); every patched run is on the *baseline* pair ("denoising"):

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
  projecting every key and value (``_cls_context``);
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
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from circuits.errors import InputError
from circuits.hooks import act_name
from circuits.model import HookedCrossEncoder, PairBatch
from circuits.roles import head_labels
from circuits.stats import EffectEstimate, estimate_effects, pair_effects

Head = tuple[int, int]
Tensor = torch.Tensor

SCHEMA = "axiomtests.patching/1"
_KEYS = ("resid_pre", "q", "k", "v", "pattern", "z", "attn_out", "mlp_out")  # a block's activations, in order
# cached baseline activations that stand in for computation inside the block of the first patch
_UPSTREAM = {"resid_pre": (), "pattern": ("pattern", "v"), "z": ("z", "attn_out"), "attn_out": ("attn_out",),
             "mlp_out": ("attn_out", "mlp_out")}
_TOKENS_PER_PASS = {"cpu": 4096, "cuda": 1 << 16}  # auto variants_per_pass: rows computed per stacked pass


# ---------------------------------------------------------------------------------------------------- inputs
@dataclass
class AlignedPairs:
    """Baseline and perturbed pairs of identical token shape; pair ``i`` of each belongs to ``query_ids[i]``."""

    baseline: PairBatch
    perturbed: PairBatch
    query_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        self.query_ids = tuple(str(q) for q in self.query_ids)
        base, pert = self.baseline, self.perturbed
        if base.input_ids.shape != pert.input_ids.shape:
            raise InputError(
                f"baseline tokens {tuple(base.input_ids.shape)} and perturbed {tuple(pert.input_ids.shape)} differ "
                "in shape: patching needs aligned pairs. Fix: pad the shorter document with a filler before its "
                "final [SEP] so both tokenise to the same length (the dataset builder does).")
        bad = (base.attention_mask != pert.attention_mask).any(dim=1)
        if (base.token_type_ids is None) != (pert.token_type_ids is None):
            raise InputError("only one of baseline and perturbed has token_type_ids; tokenise both the same way")
        if base.token_type_ids is not None:
            bad |= (base.token_type_ids != pert.token_type_ids).any(dim=1)
        if bad.any():
            rows = bad.nonzero().flatten().tolist()
            raise InputError(f"pairs {rows[:8]} are not aligned: their baseline and perturbed attention masks or "
                             "segments differ. Fix: pad the baseline document with a filler to the perturbed "
                             "length.")
        if len(self.query_ids) != len(base):
            raise InputError(f"{len(self.query_ids)} query ids for {len(base)} pairs: pass one per pair")

    def __len__(self) -> int:
        return len(self.baseline)

    def select(self, index: slice | Sequence[int]) -> "AlignedPairs":
        ids = self.query_ids[index] if isinstance(index, slice) else tuple(self.query_ids[i] for i in index)
        return AlignedPairs(self.baseline.select(index), self.perturbed.select(index), ids)

    def to(self, device: torch.device | str) -> "AlignedPairs":
        return AlignedPairs(self.baseline.to(device), self.perturbed.to(device), self.query_ids)

    def chunks(self, size: int) -> Iterator["AlignedPairs"]:
        """Consecutive batches of at most ``size`` pairs."""
        for start in range(0, len(self), size):
            yield self.select(slice(start, start + size))


def align_pairs(model: HookedCrossEncoder, queries: Sequence[str], baselines: Sequence[str],
                perturbeds: Sequence[str], query_ids: Sequence[str] | None = None) -> AlignedPairs:
    """Tokenise ``(query, baseline)`` and ``(query, perturbed)`` pairs and check that they are aligned.

    Refuses pairs whose two documents tokenise to different lengths, and pairs that would be truncated (a
    truncated perturbed document may lose the perturbation).

    Examples:
        >>> pairs = align_pairs(model, ["what is bm25"], ["bm25 is a ranking function a"],   # doctest: +SKIP
        ...                     ["bm25 is a ranking function bm25"], ["q1"])
        >>> pairs.baseline.input_ids.shape == pairs.perturbed.input_ids.shape               # doctest: +SKIP
        True
    """
    base = model.tokenize(queries, baselines)
    pert = model.tokenize(queries, perturbeds)
    ids = tuple(query_ids) if query_ids is not None else tuple(queries)
    if base.n_truncated or pert.n_truncated:
        raise InputError(f"{base.n_truncated + pert.n_truncated} documents exceed {model.cfg.max_length} tokens "
                         "and would be truncated, which can cut the perturbation off. Fix: shorten them.")
    lengths_b, lengths_p = base.attention_mask.sum(1), pert.attention_mask.sum(1)
    if not torch.equal(lengths_b, lengths_p):
        rows = (lengths_b != lengths_p).nonzero().flatten().tolist()
        detail = ", ".join(f"{ids[i]!r}: {int(lengths_b[i])} vs {int(lengths_p[i])} tokens" for i in rows[:5])
        raise InputError(f"{len(rows)} pairs are not aligned ({detail}). Fix: pad the shorter document with a "
                         "filler before its final [SEP] so both tokenise to the same length.")
    return AlignedPairs(base, pert, ids)


# ---------------------------------------------------------------------------------------------------- sites
@dataclass(frozen=True)
class Site:
    """A patchable activation: its key in a block and the axes that index one patch within a layer."""

    name: str
    key: str
    axes: tuple[str, ...]

    def selector(self, index: tuple[int, ...]) -> tuple[int | slice, ...]:
        """Indexing tuple of the patched part of the activation tensor (hook layout, see ``circuits.hooks``)."""
        named = dict(zip(self.axes, index))
        pos = named.get("pos", slice(None))
        if self.key == "pattern":
            return (slice(None), named["head"], pos)
        if "head" in named:
            return (slice(None), pos, named["head"])
        return (slice(None), pos)


SITES: dict[str, Site] = {site.name: site for site in (
    Site("z", "z", ("head",)),  # one head's context at every position
    Site("z_pos", "z", ("head", "pos")),  # one head's context at one position
    Site("pattern_row", "pattern", ("head", "pos")),  # one head's attention row of one query position
    Site("resid_pre", "resid_pre", ("pos",)),
    Site("attn_out", "attn_out", ("pos",)),
    Site("mlp_out", "mlp_out", ("pos",)),
)}
BLOCK_SITES = ("resid_pre", "attn_out", "mlp_out")


@dataclass(frozen=True)
class Write:
    """Overwrite ``site`` at ``layer`` and ``index`` with the source (perturbed) value."""

    site: Site
    layer: int
    index: tuple[int, ...]


Variant = tuple[Write, ...]  # the writes of one patched run


@dataclass(frozen=True)
class _Plan:
    """What is frozen and what receives."""

    freeze_heads: bool = False
    freeze_mlps: bool = False
    receivers: tuple[Head, ...] = ()
    receiver_input: str = "q"

    @property
    def cls_only(self) -> bool:
        """With every head frozen and the logit receiving, positions never mix: only [CLS] matters."""
        return self.freeze_heads and not self.receivers

    def receiver_heads(self) -> dict[int, list[int]]:
        heads: dict[int, list[int]] = {}
        for layer, head in sorted(set(self.receivers)):
            heads.setdefault(layer, []).append(head)
        return heads


@dataclass(frozen=True)
class _Edit:
    """Overwrites parts of a block's activations in place: ``fn(key, tensor)`` for the ``keys`` it touches."""

    keys: frozenset[str] = frozenset()
    fn: Callable[[str, Tensor], Tensor] | None = None

    def __call__(self, key: str, tensor: Tensor) -> Tensor:
        return self.fn(key, tensor) if self.fn is not None and key in self.keys else tensor


# ---------------------------------------------------------------------------------------------------- results
@dataclass
class PatchResult:
    """Patched scores per pair and index, and their ratio-of-means effects with bootstrap CIs."""

    kind: str
    sites: tuple[str, ...]
    axes: tuple[str, ...]
    coords: dict[str, list[Any]]
    patched: np.ndarray  # [n_pairs, *shape]
    baseline: np.ndarray  # [n_pairs]
    perturbed: np.ndarray  # [n_pairs]
    query_ids: tuple[str, ...]
    estimate: EffectEstimate
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.patched.shape[1:]

    @property
    def effect(self) -> np.ndarray:
        return self.estimate.effect

    @property
    def ci_low(self) -> np.ndarray:
        return self.estimate.ci_low

    @property
    def ci_high(self) -> np.ndarray:
        return self.estimate.ci_high

    @property
    def n_pairs(self) -> int:
        """Pairs kept by the δ-filter."""
        return self.estimate.n_pairs

    @property
    def n_dropped(self) -> int:
        return self.estimate.n_dropped

    def per_pair(self) -> np.ndarray:
        """Per-pair metric ``(patched − baseline)/(perturbed − baseline)`` of the kept pairs."""
        kept = self.estimate.kept
        return pair_effects(self.patched[kept], self.baseline[kept], self.perturbed[kept])

    def label(self, index: tuple[int, ...]) -> str:
        """``"10.1"`` for head (10, 1); ``"mlp_out.3.17"`` for component, layer, position."""
        return ".".join(str(self.coords[axis][i]) for axis, i in zip(self.axes, index))

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` indices with the largest absolute effect, as ``(label, effect)``."""
        flat = np.nan_to_num(np.abs(self.effect), nan=-1.0).ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        return [(self.label(np.unravel_index(i, self.shape)), float(self.effect.ravel()[i])) for i in order]

    def to_dict(self, per_pair: bool = False) -> dict[str, Any]:
        """JSON-ready dict (NaN as None); ``per_pair`` adds the per-pair scores."""
        out: dict[str, Any] = {
            "schema": SCHEMA, "kind": self.kind, "sites": list(self.sites), "axes": list(self.axes),
            "coords": self.coords, "shape": list(self.shape), "effect": _json(self.effect),
            "ci_low": _json(self.ci_low), "ci_high": _json(self.ci_high), "n_pairs": self.n_pairs,
            "n_dropped": self.n_dropped, "n_queries": self.estimate.n_groups, "settings": self.settings,
            "top": [{"index": label, "effect": _finite(value)} for label, value in self.top(10)],
        }
        if per_pair:
            out["pairs"] = {"query_ids": list(self.query_ids), "baseline": _json(self.baseline),
                            "perturbed": _json(self.perturbed), "kept": self.estimate.kept.tolist(),
                            "patched": _json(self.patched)}
        return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _json(array: np.ndarray) -> Any:
    return np.vectorize(_finite, otypes=[object])(np.asarray(array, dtype=np.float64)).tolist()


# ---------------------------------------------------------------------------------------------------- the API
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
    run = partial(_run_fast if engine == "fast" else _run_reference, model, plan, site_objs,
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
               freeze_mlps: bool) -> _Plan:
    if receiver_input not in ("q", "k", "v"):
        raise InputError(f"receiver_input must be 'q', 'k' or 'v', got {receiver_input!r}")
    if not path:
        if receivers or freeze_mlps:
            raise InputError("receivers and freeze_mlps belong to path patching: pass path=True")
        return _Plan()
    return _Plan(freeze_heads, freeze_mlps, tuple((int(l), int(h)) for l, h in receivers), receiver_input)


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


def _check_receivers(model: HookedCrossEncoder, plan: _Plan) -> None:
    for layer, head in plan.receivers:
        if not (0 < layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
            raise InputError(f"receiver {layer}.{head} is not a head of this model above layer 0 "
                             f"({model.cfg.n_layers} layers × {model.cfg.n_heads} heads)")


def _sweep(model: HookedCrossEncoder, sites: tuple[Site, ...], plan: _Plan, n_pos: int
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


def _auto_per_pass(model: HookedCrossEncoder, plan: _Plan, batch_size: int, n_pos: int) -> int:
    rows = batch_size * (1 if plan.cls_only else n_pos)
    return max(1, _TOKENS_PER_PASS.get(model.device.type, _TOKENS_PER_PASS["cpu"]) // rows)


# ---------------------------------------------------------------------------------------------------- caching
@dataclass
class _Chunk:
    """One batch of pairs: cached baseline activations, source (perturbed) activations, scores."""

    base: dict[str, Tensor]
    source: dict[str, Tensor]
    mask: Tensor  # additive [b,1,1,p]
    base_scores: Tensor
    source_scores: Tensor

    @property
    def size(self) -> int:
        return self.base_scores.shape[0]


def _cls_rows(tensor: Tensor, key: str) -> Tensor:
    return tensor.narrow(2 if key == "pattern" else 1, 0, 1)


def _key(name: str) -> str:
    """``blocks.3.attn.hook_z`` -> ``z``."""
    return name.rsplit(".", 1)[-1].removeprefix("hook_")


def _record(model: HookedCrossEncoder, batch: PairBatch, names: Mapping[str, bool]
            ) -> tuple[Tensor, dict[str, Tensor]]:
    """Scores of one forward and its activations ``names`` (only their [CLS] row where the value is True)."""
    store: dict[str, Tensor] = {}

    def save(tensor: Tensor, point: Any) -> None:
        kept = _cls_rows(tensor, _key(point.name)) if names[point.name] else tensor
        store[point.name] = kept.clone()

    scores = model.run_with_hooks(batch, [(names.__contains__, save)])
    return scores, store


def _cache_names(model: HookedCrossEncoder, plan: _Plan, sites: tuple[Site, ...]
                 ) -> tuple[dict[str, bool], dict[str, bool]]:
    """Hook names to cache on the baseline and on the perturbed run (True: [CLS] row only)."""
    keys = {"resid_pre"}
    for site in sites:
        keys.update(_UPSTREAM[site.key])
    if plan.freeze_heads:
        keys.update(("z", "attn_out"))
    if plan.freeze_mlps:
        keys.add("mlp_out")
    layers = range(model.cfg.n_layers)
    base = {act_name(k, l): plan.cls_only and k != "v" for k in keys for l in layers}
    for layer, _ in plan.receivers:
        base[act_name(plan.receiver_input, layer)] = False
    source = {act_name(s.key, l): plan.cls_only for s in sites for l in layers}
    return base, source


def _prepare(model: HookedCrossEncoder, plan: _Plan, sites: tuple[Site, ...], pairs: AlignedPairs) -> _Chunk:
    base_names, source_names = _cache_names(model, plan, sites)
    base_scores, base = _record(model, pairs.baseline, base_names)
    source_scores, source = _record(model, pairs.perturbed, source_names)
    return _Chunk(base, source, model.extended_mask(pairs.baseline.attention_mask), base_scores, source_scores)


# ---------------------------------------------------------------------------------------------------- blocks
def _take(given: Mapping[str, Tensor], key: str, cls: bool) -> Tensor | None:
    tensor = given.get(key)
    if tensor is None or not cls or key in ("k", "v"):
        return tensor
    return _cls_rows(tensor, key)


def _project(model: HookedCrossEncoder, layer: int, part: str, x: Tensor) -> Tensor:
    """q, k or v projection per head ``[b,p,h,d]``."""
    return model.block_part(layer, part)(x).unflatten(-1, (model.cfg.n_heads, model.cfg.d_head))


def _project_heads(model: HookedCrossEncoder, layer: int, part: str, x: Tensor, heads: Sequence[int]) -> Tensor:
    """q, k or v projection of some heads only ``[b,p,len(heads),d]``."""
    linear, d = model.block_part(layer, part), model.cfg.d_head
    rows = torch.cat([torch.arange(h * d, (h + 1) * d, device=x.device) for h in heads])
    bias = None if linear.bias is None else linear.bias[rows]
    return F.linear(x, linear.weight[rows], bias).unflatten(-1, (len(heads), d))


def _context(model: HookedCrossEncoder, layer: int, resid: Tensor, query_in: Tensor, mask: Tensor,
             given: Mapping[str, Tensor], cls: bool, edit: _Edit) -> Tensor:
    """Per-head context ``z`` [b,p,h,d] (HF eager attention's arithmetic), from ``given`` where possible."""
    pattern = _take(given, "pattern", cls)
    if pattern is None and cls and not edit.keys & {"q", "k", "v", "pattern"}:
        return _cls_context(model, layer, resid, query_in, mask)
    if pattern is None:
        q = edit("q", _project(model, layer, "q", query_in))
        k = edit("k", _project(model, layer, "k", resid))
        v = edit("v", _project(model, layer, "v", resid))
        scores = torch.matmul(q.transpose(1, 2), k.permute(0, 2, 3, 1)) * model.cfg.d_head ** -0.5 + mask
        pattern = torch.softmax(scores, dim=-1)
    else:
        v = given["v"]
    pattern = edit("pattern", pattern)
    return torch.matmul(pattern, v.transpose(1, 2)).transpose(1, 2)


def _cls_context(model: HookedCrossEncoder, layer: int, resid: Tensor, query_in: Tensor, mask: Tensor) -> Tensor:
    """``z`` of the [CLS] row ``[b,1,h,d]`` without projecting every key and value.

    ``q·(W_k x_j + b_k) = (W_kᵀ q)·x_j + q·b_k`` and the last term is the same for every key, so softmax ignores
    it; ``Σ_j a_j (W_v x_j + b_v) = W_v (Σ_j a_j x_j) + b_v`` since the weights sum to 1. Per pair this costs
    ``O(p·h·m + m²)`` instead of the ``O(p·m²)`` of projecting all keys and values.
    """
    h, d = model.cfg.n_heads, model.cfg.d_head
    q = _project(model, layer, "q", query_in)[:, 0]  # [b,h,d]
    w_k = model.block_part(layer, "k").weight.view(h, d, -1)  # [h,d,m]
    keys = torch.einsum("bhd,hdm->bhm", q, w_k)
    scores = torch.matmul(keys, resid.transpose(1, 2)) * d ** -0.5 + mask[:, 0]  # [b,h,p]
    mixed = torch.matmul(torch.softmax(scores, dim=-1), resid)  # [b,h,m]
    value = model.block_part(layer, "v")
    z = torch.einsum("bhm,hdm->bhd", mixed, value.weight.view(h, d, -1))
    if value.bias is not None:
        z = z + value.bias.view(h, d)
    return z[:, None]


def _block(model: HookedCrossEncoder, layer: int, resid: Tensor, mask: Tensor, cls: bool,
           given: Mapping[str, Tensor], edit: _Edit) -> Tensor:
    """Block ``layer`` from the residual stream entering it (its resid_pre already edited).

    ``given`` activations replace their computation (and what only feeds them); ``edit`` then overwrites parts
    of each activation. With ``cls`` only the [CLS] query row is computed.
    """
    query_in = resid.narrow(1, 0, 1) if cls else resid
    attn_out = _take(given, "attn_out", cls)
    if attn_out is None:
        z = _take(given, "z", cls)
        if z is None:
            z = _context(model, layer, resid, query_in, mask, given, cls, edit)
        z = edit("z", z)
        attn_out = model.block_part(layer, "o")(z.flatten(2))
    attn_out = edit("attn_out", attn_out)
    resid_mid = model.block_part(layer, "ln1")(attn_out + query_in)
    mlp_out = _take(given, "mlp_out", cls)
    if mlp_out is None:
        mlp_out = model.arch.mlp(model.blocks[layer], resid_mid)
    mlp_out = edit("mlp_out", mlp_out)
    return model.block_part(layer, "ln2")(mlp_out + resid_mid)


def _scores(model: HookedCrossEncoder, resid: Tensor) -> Tensor:
    return model.scores_from_logits(model.head_logits(resid))


# ---------------------------------------------------------------------------------------------------- fast engine
WriteTable = dict[int, dict[str, list[tuple[int, tuple[int | slice, ...]]]]]  # layer -> key -> [(slot, selector)]


def _write_table(variants: Sequence[Variant]) -> WriteTable:
    table: WriteTable = {}
    for slot, variant in enumerate(variants):
        for w in variant:
            table.setdefault(w.layer, {}).setdefault(w.site.key, []).append((slot, w.site.selector(w.index)))
    return table


def _editor(writes: Mapping[str, list[tuple[int, tuple[int | slice, ...]]]], source: Mapping[str, Tensor],
            layer: int, size: int, changed: Tensor) -> _Edit:
    """An edit that overwrites, in variant slot ``s`` (rows ``s*size…``), the selected part with the source's;
    ``changed`` marks the rows where that changed a value."""
    def edit(key: str, tensor: Tensor) -> Tensor:
        chosen = writes[key]
        axis = 2 if key == "pattern" else 1
        rows = tensor.shape[axis]
        values = source[act_name(key, layer)].narrow(axis, 0, rows)
        for slot, selector in chosen:
            pos = selector[axis]
            if isinstance(pos, int) and pos >= rows:
                continue  # a position this block does not compute (only [CLS] is)
            target = tensor[slot * size:(slot + 1) * size]
            rows_changed = changed[slot * size:(slot + 1) * size]
            rows_changed |= (target[selector] != values[selector]).reshape(size, -1).any(1)
            target[selector] = values[selector]
        return tensor
    return _Edit(frozenset(k for k, chosen in writes.items() if chosen), edit)


def _stack(tensor: Tensor, copies: int, edited: bool) -> Tensor:
    """``copies`` variant slots of a cached tensor; a fresh tensor whenever it will be edited in place."""
    if copies > 1:
        return tensor.repeat(copies, *([1] * (tensor.dim() - 1)))
    return tensor.clone() if edited else tensor


def _given(model: HookedCrossEncoder, plan: _Plan, chunk: _Chunk, layer: int, start: int,
           written: Mapping[str, list[tuple[int, tuple[int | slice, ...]]]], copies: int, changed: Tensor
           ) -> dict[str, Tensor]:
    """Activations of block ``layer`` taken from the baseline cache instead of computed."""
    keys: set[str] = set()
    if plan.freeze_heads:
        keys.add("z" if "z" in written else "attn_out")
    if plan.freeze_mlps:
        keys.add("mlp_out")
    if layer == start and written:
        keys.update(_UPSTREAM[min(written, key=_KEYS.index)])
    given: dict[str, Tensor] = {}
    if set(written) == {"z"} and keys & {"z"}:  # z is the baseline's but for the writes: use linearity
        keys -= {"z", "attn_out"}
        given["attn_out"] = _attn_out_with_heads(model, chunk, layer, written["z"], copies, changed)
    given.update({k: _stack(chunk.base[act_name(k, layer)], copies, k in written) for k in keys})
    return given


def _attn_out_with_heads(model: HookedCrossEncoder, chunk: _Chunk, layer: int,
                         writes: Sequence[tuple[int, tuple[int | slice, ...]]], copies: int, changed: Tensor
                         ) -> Tensor:
    """attn_out of baseline ``z`` with head writes: ``attn_out_B + (z_src − z_B)[head] W_O[:, head]ᵀ`` per write.

    The output projection is linear, so this equals projecting the patched ``z`` at ``1/n_heads`` of the cost.
    """
    attn_out = _stack(chunk.base[act_name("attn_out", layer)], copies, True)
    z_base, z_source = chunk.base[act_name("z", layer)], chunk.source[act_name("z", layer)]
    w_o, d, size = model.block_part(layer, "o").weight, model.cfg.d_head, chunk.size
    for slot, selector in writes:
        pos, head = selector[1], selector[2]
        if isinstance(pos, int) and pos >= attn_out.shape[1]:
            continue
        delta = (z_source[selector] - z_base[selector]) @ w_o[:, head * d:(head + 1) * d].T
        attn_out[slot * size:(slot + 1) * size][:, pos] += delta
        changed[slot * size:(slot + 1) * size] |= delta.reshape(size, -1).ne(0).any(1)
    return attn_out


def _run_group(model: HookedCrossEncoder, plan: _Plan, chunk: _Chunk, variants: Sequence[Variant]) -> Tensor:
    """Scores ``[len(variants), b]`` of variants that write the same layers, stacked along the batch.

    A variant whose writes change nothing for a pair (the source value equals the one it replaces, or a head's
    output projection maps the change to zero) scores exactly the baseline for that pair: everything
    downstream is then a function of unchanged inputs, and reporting the cached baseline keeps the rounding
    of a partial recompute ([CLS] row only, stacked rows) out of a zero effect.
    """
    copies, size, n_layers = len(variants), chunk.size, model.cfg.n_layers
    changed = torch.zeros(copies * size, dtype=torch.bool, device=chunk.mask.device)
    table = _write_table(variants)
    start = min(table, default=n_layers - 1)
    receiving = plan.receiver_heads()
    stop = max(receiving) if receiving else n_layers
    mask = chunk.mask.repeat(copies, 1, 1, 1)
    resid = _stack(chunk.base[act_name("resid_pre", start)], copies, "resid_pre" in table.get(start, {}))
    captured: dict[int, Tensor] = {}
    for layer in range(start, stop + 1 if receiving else stop):
        written = table.get(layer, {})
        edit = _editor(written, chunk.source, layer, size, changed)
        resid = edit("resid_pre", resid)
        if layer in receiving:
            captured[layer] = _project_heads(model, layer, plan.receiver_input, resid, receiving[layer])
        if layer == stop:
            break
        cls = plan.cls_only or layer == n_layers - 1
        given = _given(model, plan, chunk, layer, start, written, copies, changed)
        resid = _block(model, layer, resid, mask, cls, given, edit)
    scores = _scores(model, resid) if not receiving else _receive(model, plan, chunk, captured, copies)
    return torch.where(changed, scores, chunk.base_scores.repeat(copies)).view(copies, size)


def _receive(model: HookedCrossEncoder, plan: _Plan, chunk: _Chunk, captured: Mapping[int, Tensor],
             copies: int) -> Tensor:
    """Pass 3: the baseline run with only the receivers' q/k/v input replaced (``captured``, else baseline)."""
    receiving = plan.receiver_heads()
    first, n_layers, key = min(receiving), model.cfg.n_layers, plan.receiver_input
    mask = chunk.mask.repeat(copies, 1, 1, 1)
    resid = _stack(chunk.base[act_name("resid_pre", first)], copies, False)
    for layer in range(first, n_layers):
        edit = _Edit()
        if layer in receiving:
            heads = _head_index(receiving[layer], resid.device)
            values = captured.get(layer)
            if values is None:
                values = _stack(chunk.base[act_name(key, layer)][:, :, heads], copies, False)
            edit = _Edit(frozenset((key,)), partial(_replace_heads, heads, values))
        resid = _block(model, layer, resid, mask, layer == n_layers - 1, {}, edit)
    return _scores(model, resid)


def _head_index(heads: list[int], device: torch.device) -> Tensor:
    """Head numbers as an index tensor on ``device`` (one copy per pass, not one per indexing)."""
    return torch.tensor(heads, dtype=torch.long).to(device)


def _replace_heads(heads: Tensor, values: Tensor, _key: str, tensor: Tensor) -> Tensor:
    tensor[:, :, heads] = values.narrow(1, 0, tensor.shape[1])
    return tensor


def _groups(variants: Sequence[Variant], per_pass: int) -> Iterator[list[Variant]]:
    """Consecutive variants that write the same (layer, activation) pairs, at most ``per_pass`` at a time."""
    def signature(variant: Variant) -> tuple[tuple[int, str], ...]:
        return tuple(sorted({(w.layer, w.site.key) for w in variant}))

    for _, same in itertools.groupby(variants, key=signature):
        same = list(same)
        for i in range(0, len(same), per_pass):
            yield same[i:i + per_pass]


def _run_fast(model: HookedCrossEncoder, plan: _Plan, sites: tuple[Site, ...], pairs: AlignedPairs, *,
              variants: Sequence[Variant], per_pass: int) -> tuple[Tensor, Tensor, Tensor]:
    chunk = _prepare(model, plan, sites, pairs)
    scores = [_run_group(model, plan, chunk, group) for group in _groups(variants, per_pass)]
    return chunk.base_scores, chunk.source_scores, torch.cat(scores).T


# ---------------------------------------------------------------------------------------------------- reference
def _run_reference(model: HookedCrossEncoder, plan: _Plan, sites: tuple[Site, ...], pairs: AlignedPairs, *,
                   variants: Sequence[Variant], per_pass: int) -> tuple[Tensor, Tensor, Tensor]:
    """One full hooked Hugging Face forward per variant (two for head receivers): no skipping, no stacking."""
    del per_pass
    base_names, source_names = _cache_names(model, _Plan(), sites)
    base_names.update({act_name(k, l): False for k in ("z", "mlp_out") for l in range(model.cfg.n_layers)})
    base_scores, base = _record(model, pairs.baseline, base_names)
    source_scores, source = _record(model, pairs.perturbed, source_names)
    receiving = {l: _head_index(heads, model.device) for l, heads in plan.receiver_heads().items()}
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


def _freeze_hooks(model: HookedCrossEncoder, plan: _Plan, base: Mapping[str, Tensor]) -> list[tuple[str, Any]]:
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
