"""Hook names (TransformerLens style), the hook registry, and ActivationCache.

Where each hook sits in a post-LN BERT block ``L`` (shapes: b batch, p positions, h heads, d d_head, m d_model)::

    hook_embed                  [b,p,m]  embeddings output (word+position+type, LayerNorm) = resid_pre of block 0
    blocks.L.hook_resid_pre     [b,p,m]  block input (the normalised output of block L-1)
    blocks.L.attn.hook_q/k/v    [b,p,h,d] query/key/value projections, per head, before scaling
    blocks.L.attn.hook_pattern  [b,h,p,p] softmax attention probabilities [query_pos, key_pos], mask applied
    blocks.L.attn.hook_z        [b,p,h,d] per-head context (pattern @ v) before the output projection
    blocks.L.hook_attn_out      [b,p,m]  output projection of z, before the residual add and LayerNorm 1
    blocks.L.hook_resid_mid     [b,p,m]  LayerNorm1(resid_pre + attn_out)
    blocks.L.hook_mlp_out       [b,p,m]  MLP output projection, before the residual add and LayerNorm 2
    blocks.L.hook_resid_post    [b,p,m]  LayerNorm2(resid_mid + mlp_out) = block output = resid_pre of L+1
    hook_cls                    [b,m]    input of the final linear layer (BERT: the pooled, tanh'd [CLS])
    hook_logit                  [b,n]    raw logits of the classification head

Unlike TransformerLens's HookedEncoder, ``hook_resid_post`` is *after* the block's final LayerNorm: in a
post-LN model that is the residual stream the next block reads.

The same names sit at the same roles in the other architectures:

- DeBERTa-v2/v3 (post-LN): as above; ``hook_q``/``hook_k`` are the content projections, and the pattern
  already holds the relative-position terms computed from them (``circuits.deberta``).
- ModernBERT (pre-LN): ``hook_q``/``hook_k`` are before the rotary embedding; ``hook_resid_mid`` is
  ``resid_pre + attn_out`` and ``hook_resid_post`` is ``resid_mid + mlp_out`` (no LayerNorm on the stream: each
  block normalises its attention and MLP inputs, ``circuits.modernbert``); ``hook_cls`` is the classifier's
  input after the final norm, pooling and prediction head.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from circuits.errors import HookError

HookFn = Callable[[torch.Tensor, "HookPoint"], "torch.Tensor | None"]

_SHORT = {"resid_pre": "hook_resid_pre", "q": "attn.hook_q", "k": "attn.hook_k", "v": "attn.hook_v",
          "pattern": "attn.hook_pattern", "z": "attn.hook_z", "attn_out": "hook_attn_out",
          "resid_mid": "hook_resid_mid", "mlp_out": "hook_mlp_out", "resid_post": "hook_resid_post"}  # as they run
BLOCK_KINDS = tuple(_SHORT)  #: a block's hook kinds, in execution order


def act_name(kind: str, layer: int | None = None) -> str:
    """Full hook name from a short kind: ``act_name("z", 3) == "blocks.3.attn.hook_z"``."""
    if layer is None:
        return kind if kind.startswith("hook_") else f"hook_{kind}"
    if kind not in _SHORT:
        raise HookError(f"unknown hook kind {kind!r}; choose one of {sorted(_SHORT)}")
    return f"blocks.{layer}.{_SHORT[kind]}"


def hook_names(n_layers: int) -> list[str]:
    """Every hook name of a model with ``n_layers`` blocks, in execution order."""
    return ["hook_embed", *(act_name(kind, layer) for layer in range(n_layers) for kind in _SHORT),
            "hook_cls", "hook_logit"]


@dataclass(frozen=True)
class HookPoint:
    """What a hook function is told about where it runs."""

    name: str
    layer: int | None


@dataclass
class HookRegistry:
    """Active hook functions by name. ``fire`` is called by the model at every hook point."""

    names: tuple[str, ...]
    _fns: dict[str, list[HookFn]] = field(default_factory=dict)

    def check(self, name: str) -> None:
        """Raise a HookError naming close matches when ``name`` is not a hook point of this model."""
        if name not in self.names:
            close = difflib.get_close_matches(name, self.names, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise HookError(f"no hook point named {name!r} in this model.{hint} "
                            "Valid names: HookedCrossEncoder.hook_names.")

    @property
    def active(self) -> bool:
        return bool(self._fns)

    def fire(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """Run the hooks of ``name`` in order; a hook returning a tensor replaces the activation."""
        fns = self._fns.get(name)
        if not fns:
            return tensor
        point = HookPoint(name, _layer_of(name))
        for fn in fns:
            out = fn(tensor, point)
            if out is not None:
                if out.shape != tensor.shape:
                    raise HookError(f"hook on {name!r} returned shape {tuple(out.shape)}, "
                                    f"expected {tuple(tensor.shape)}")
                tensor = out
        return tensor

    @contextmanager
    def using(self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]) -> Iterator[None]:
        """Add hooks for the duration of the block; always removed afterwards, even on error."""
        added: list[tuple[str, HookFn]] = []
        try:
            for name, fn in fwd_hooks:
                targets = [n for n in self.names if name(n)] if callable(name) else [name]
                for target in targets:
                    self.check(target)
                    self._fns.setdefault(target, []).append(fn)
                    added.append((target, fn))
            yield
        finally:
            for target, fn in added:
                self._fns[target].remove(fn)
                if not self._fns[target]:
                    del self._fns[target]


def _layer_of(name: str) -> int | None:
    return int(name.split(".")[1]) if name.startswith("blocks.") else None


class ActivationCache:
    """Activations recorded by ``run_with_cache``, by hook name.

    >>> cache = ActivationCache({"blocks.0.attn.hook_z": torch.zeros(1, 5, 4, 8)})
    >>> cache["z", 0] is cache["blocks.0.attn.hook_z"]   # the short form names the same tensor
    True
    >>> ("z", 0) in cache, cache
    (True, ActivationCache(1 activations: blocks.0.attn.hook_z))
    """

    def __init__(self, store: dict[str, torch.Tensor]) -> None:
        self._store = store

    def __getitem__(self, key: str | tuple[str, int]) -> torch.Tensor:
        name = act_name(*key) if isinstance(key, tuple) else key
        if name not in self._store:
            raise HookError(f"{name!r} was not cached; cached: {sorted(self._store)[:8]}"
                            f"{' …' if len(self._store) > 8 else ''}. Widen names_filter.")
        return self._store[name]

    def __contains__(self, key: object) -> bool:
        """``"blocks.0.attn.hook_z" in cache`` and ``("z", 0) in cache`` alike, as ``cache[key]`` accepts both."""
        if isinstance(key, tuple):
            try:
                key = act_name(*key)
            except (HookError, TypeError):
                return False
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    def keys(self) -> list[str]:
        return list(self._store)

    def items(self) -> Iterator[tuple[str, torch.Tensor]]:
        return iter(self._store.items())

    def __repr__(self) -> str:
        return f"ActivationCache({len(self._store)} activations: {', '.join(self._store)})"
