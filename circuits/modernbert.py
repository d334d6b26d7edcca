"""ModernBERT's block pieces, in the layout of ``circuits.block``: rotary attention with local windows, the
GeGLU MLP, and the head (final norm, [CLS] or mean pooling, prediction head).

ModernBERT is pre-LN: ``ln1`` (``attn_norm``, the identity in block 0) normalises the attention input and
``ln2`` (``mlp_norm``) the MLP input, so ``hook_resid_mid = resid_pre + attn_out`` and ``hook_resid_post =
resid_mid + mlp_out``. ``hook_q``/``hook_k`` are the projections before the rotary embedding, which is applied
inside the attention scores at each row's own position. A ``sliding_attention`` block sees keys within
``config.sliding_window`` positions of the query (Hugging Face's eager mask); ``full_attention`` blocks see all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from circuits.model import HookedCrossEncoder

Tensor = torch.Tensor


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotary embedding of ``x`` ``[b,h,p,d]`` at the positions of ``cos``/``sin`` ``[1,p,d]`` (HF's arithmetic)."""
    from transformers.models.modernbert.modeling_modernbert import rotate_half

    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return ((x.float() * cos) + (rotate_half(x.float()) * sin)).to(x.dtype)


def rotary_pattern(model: HookedCrossEncoder, layer: int, q: Tensor, k: Tensor, mask: Tensor) -> Tensor:
    """Attention weights ``[b,h,p_q,p]`` of block ``layer`` from ``q`` ``[b,p_q,h,d]`` (the first ``p_q`` query
    rows) and ``k`` ``[b,p,h,d]``."""
    base = model.base
    kind = base.config.layer_types[layer]
    length, rows = k.size(1), q.size(1)
    positions = torch.arange(length, device=k.device)[None]
    cos, sin = base.rotary_emb(k, positions, kind)
    qh = _rotate(q.transpose(1, 2), cos[:, :rows], sin[:, :rows])
    kh = _rotate(k.transpose(1, 2), cos, sin)
    allowed = (mask == 0).expand(-1, -1, rows, -1)  # [b,1,p_q,p]
    if kind == "sliding_attention":
        offset = positions[0, :rows, None] - positions[0, None, :]
        allowed = allowed & (offset.abs() <= base.config.sliding_window)
    additive = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed,
                                                                                     torch.finfo(q.dtype).min)
    scores = torch.matmul(qh, kh.transpose(2, 3)) * q.size(-1) ** -0.5 + additive
    return nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)


def mlp(block: nn.Module, x: Tensor) -> Tensor:
    """The GeGLU MLP of a block, from its (normalised) input."""
    return block.mlp(x)


def head_input(model: nn.Module, hidden: Tensor, valid: Tensor | None) -> Tensor:
    """Final norm, pooling ([CLS] row, or the mean over valid positions), prediction head: the classifier's
    input."""
    hidden = model.model.final_norm(hidden)
    if model.config.classifier_pooling == "cls":
        pooled = hidden[:, 0]
    else:
        weights = (torch.ones(hidden.shape[:2], device=hidden.device) if valid is None else valid).to(hidden.dtype)
        pooled = (hidden * weights.unsqueeze(-1)).sum(dim=1) / weights.sum(dim=1, keepdim=True)
    return model.drop(model.head(pooled))
