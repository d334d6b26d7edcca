"""The transformer block's arithmetic, written once: the hooked model, both patching engines and the tests use
it. Post-LN (BERT, DeBERTa) and pre-LN (ModernBERT) blocks differ only in where ``ln1``/``ln2`` sit; an
architecture's own attention scores come from its ``pattern`` entry (``circuits.architectures``).

- :func:`attention_pattern` is the attention softmax and :func:`mix_values` the weighted sum of values. The hooked
  Hugging Face forward calls them through the registered attention function (``circuits.hf_attention``), so the
  reference engine and plain scoring share them.
- :func:`block` computes one block from the residual stream entering it. ``HookedCrossEncoder.block`` and
  ``run_from`` (scoring with the last block's [CLS] row only) call it, and so does the fast patching engine.
  Cached activations passed as ``given`` stand in for what only feeds them; an :class:`Edit` overwrites parts of
  activations as they are computed (a patch, or the model's hook points).

Layouts follow ``circuits.hooks``: q/k/v/z ``[b,p,h,d]``, pattern ``[b,h,p_q,p_k]``, the mask additive ``[b,1,1,p]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from circuits.model import HookedCrossEncoder

Tensor = torch.Tensor


@dataclass(frozen=True)
class Edit:
    """Overwrites parts of a block's activations: ``fn(key, tensor)`` for the ``keys`` it touches."""

    keys: frozenset[str] = frozenset()
    fn: Callable[[str, Tensor], Tensor] | None = None

    def __call__(self, key: str, tensor: Tensor) -> Tensor:
        return self.fn(key, tensor) if self.fn is not None and key in self.keys else tensor


def attention_pattern(query: Tensor, key: Tensor, mask: Tensor | None, scaling: float) -> Tensor:
    """Softmax attention weights ``[b,h,p_q,p_k]`` from per-head queries and keys ``[b,h,p,d]`` (HF eager's
    arithmetic: scaled dot products plus the additive mask)."""
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if mask is not None:
        scores = scores + mask
    return F.softmax(scores, dim=-1)


def mix_values(pattern: Tensor, value: Tensor) -> Tensor:
    """Per-head context ``z`` ``[b,p,h,d]``: the attention-weighted values (``value`` per head ``[b,h,p,d]``)."""
    return torch.matmul(pattern, value).transpose(1, 2)


def cls_rows(tensor: Tensor, key: str) -> Tensor:
    """The [CLS] query row of an activation (the pattern's query axis is 2, every other activation's is 1)."""
    return tensor.narrow(2 if key == "pattern" else 1, 0, 1)


def take(given: Mapping[str, Tensor], key: str, cls: bool) -> Tensor | None:
    """A cached activation, cut to its [CLS] row when only that row is computed (keys and values keep all)."""
    tensor = given.get(key)
    if tensor is None or not cls or key in ("k", "v"):
        return tensor
    return cls_rows(tensor, key)


def projection(model: HookedCrossEncoder, layer: int, part: str) -> tuple[Tensor, Tensor | None]:
    """Weight and bias of the q, k or v projection (its rows of a fused q/k/v projection)."""
    linear = model.block_part(layer, part)
    if not model.arch.fused_qkv:
        return linear.weight, linear.bias
    width = model.cfg.n_heads * model.cfg.d_head
    rows = slice("qkv".index(part) * width, ("qkv".index(part) + 1) * width)
    return linear.weight[rows], None if linear.bias is None else linear.bias[rows]


def project(model: HookedCrossEncoder, layer: int, part: str, x: Tensor) -> Tensor:
    """q, k or v projection per head ``[b,p,h,d]`` (a separate projection is called as a module: its hooks fire)."""
    if model.arch.fused_qkv:
        out = F.linear(x, *projection(model, layer, part))
    else:
        out = model.block_part(layer, part)(x)
    return out.unflatten(-1, (model.cfg.n_heads, model.cfg.d_head))


def project_heads(model: HookedCrossEncoder, layer: int, part: str, x: Tensor, heads: Sequence[int]) -> Tensor:
    """q, k or v projection of some heads only ``[b,p,len(heads),d]``, from the attention input ``x``."""
    (weight, bias), d = projection(model, layer, part), model.cfg.d_head
    rows = torch.cat([torch.arange(h * d, (h + 1) * d, device=x.device) for h in heads])
    return F.linear(x, weight[rows], None if bias is None else bias[rows]).unflatten(-1, (len(heads), d))


def attention_input(model: HookedCrossEncoder, layer: int, resid: Tensor) -> Tensor:
    """What q, k and v project: the residual stream itself (post-LN), or its ``ln1`` normalisation (pre-LN)."""
    return model.block_part(layer, "ln1")(resid) if model.arch.pre_ln else resid


def pattern_of(model: HookedCrossEncoder, layer: int, q: Tensor, k: Tensor, mask: Tensor) -> Tensor:
    """Attention weights ``[b,h,p_q,p]`` from q ``[b,p_q,h,d]`` and k ``[b,p,h,d]``, by the architecture's scores."""
    if model.arch.pattern is not None:
        return model.arch.pattern(model, layer, q, k, mask)
    return attention_pattern(q.transpose(1, 2), k.transpose(1, 2), mask, model.cfg.d_head ** -0.5)


def context(model: HookedCrossEncoder, layer: int, x: Tensor, query_in: Tensor, mask: Tensor,
            given: Mapping[str, Tensor], cls: bool, edit: Edit) -> Tensor:
    """Per-head context ``z`` [b,p,h,d] from the attention input ``x`` (``query_in``: its query rows), from
    ``given`` where possible."""
    pattern = take(given, "pattern", cls)
    if pattern is None and cls and model.arch.pattern is None and not edit.keys & {"q", "k", "v", "pattern"}:
        return cls_context(model, layer, x, query_in, mask)
    if pattern is None:
        q = edit("q", project(model, layer, "q", query_in))
        k = edit("k", project(model, layer, "k", x))
        v = edit("v", project(model, layer, "v", x))
        pattern = pattern_of(model, layer, q, k, mask)
    else:
        v = given["v"]
    pattern = edit("pattern", pattern)
    return mix_values(pattern, v.transpose(1, 2))


def cls_context(model: HookedCrossEncoder, layer: int, resid: Tensor, query_in: Tensor, mask: Tensor) -> Tensor:
    """``z`` of the [CLS] row ``[b,1,h,d]`` without projecting every key and value.

    ``q·(W_k x_j + b_k) = (W_kᵀ q)·x_j + q·b_k`` and the last term is the same for every key, so softmax ignores
    it; ``Σ_j a_j (W_v x_j + b_v) = W_v (Σ_j a_j x_j) + b_v`` since the weights sum to 1. Per pair this costs
    ``O(p·h·m + m²)`` instead of the ``O(p·m²)`` of projecting all keys and values. It holds for plain scaled
    dot products only: rotary and relative-position scores depend on the key's position, so those architectures
    project every key.
    """
    h, d = model.cfg.n_heads, model.cfg.d_head
    q = project(model, layer, "q", query_in)[:, 0]  # [b,h,d]
    w_k = model.block_part(layer, "k").weight.view(h, d, -1)  # [h,d,m]
    keys = torch.einsum("bhd,hdm->bhm", q, w_k)
    scores = torch.matmul(keys, resid.transpose(1, 2)) * d ** -0.5 + mask[:, 0]  # [b,h,p]
    mixed = torch.matmul(torch.softmax(scores, dim=-1), resid)  # [b,h,m]
    value = model.block_part(layer, "v")
    z = torch.einsum("bhm,hdm->bhd", mixed, value.weight.view(h, d, -1))
    if value.bias is not None:
        z = z + value.bias.view(h, d)
    return z[:, None]


def block(model: HookedCrossEncoder, layer: int, resid: Tensor, mask: Tensor, cls: bool = False,
          given: Mapping[str, Tensor] | None = None, edit: Edit = Edit()) -> Tensor:
    """Block ``layer`` from the residual stream entering it (its resid_pre already edited).

    ``given`` activations replace their computation (and what only feeds them); ``edit`` then overwrites parts
    of each activation. With ``cls`` only the [CLS] query row is computed. The submodules are called as
    modules, so the hooked model's hook points on them fire when hooks are active.
    """
    given, pre_ln = given or {}, model.arch.pre_ln
    resid_in = resid.narrow(1, 0, 1) if cls else resid
    attn_out = take(given, "attn_out", cls)
    if attn_out is None:
        z = take(given, "z", cls)
        if z is None:
            x = attention_input(model, layer, resid)
            z = context(model, layer, x, x.narrow(1, 0, 1) if cls else x, mask, given, cls, edit)
        z = edit("z", z)
        attn_out = model.block_part(layer, "o")(z.flatten(2))
    attn_out = edit("attn_out", attn_out)
    if pre_ln:
        resid_mid = edit("resid_mid", resid_in + attn_out)
        mlp_in = model.block_part(layer, "ln2")(resid_mid)
    else:
        resid_mid = mlp_in = edit("resid_mid", model.block_part(layer, "ln1")(attn_out + resid_in))
    mlp_out = take(given, "mlp_out", cls)
    if mlp_out is None:
        mlp_out = model.arch.mlp(model.blocks[layer], mlp_in)
    mlp_out = edit("mlp_out", mlp_out)
    out = resid_mid + mlp_out if pre_ln else model.block_part(layer, "ln2")(mlp_out + resid_mid)
    return edit("resid_post", out)


def final_scores(model: HookedCrossEncoder, resid: Tensor, mask: Tensor) -> Tensor:
    """Scores from the last block's output (the classification head reads its [CLS] row, or the mean of the
    positions ``mask`` leaves valid)."""
    return model.scores_from_logits(model.head_logits(resid, mask))
