"""The attention function the BERT family's hooked forward registers with Hugging Face: HF eager's arithmetic
(``circuits.block``) with hook points for the attention pattern and the per-head context z."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from circuits.block import attention_pattern, mix_values
from circuits.hooks import HookRegistry, act_name

ATTN_IMPLEMENTATION = "axiomtests_eager"


def _attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
               **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """HF eager attention ([b,h,p,d] inputs) with hook points for the pattern and the per-head context z."""
    hooks: LayerHooks | None = getattr(module, "_axiomtests_hooks", None)
    pattern = attention_pattern(query, key, attention_mask, query.size(-1) ** -0.5 if scaling is None else scaling)
    pattern = nn.functional.dropout(pattern, p=dropout, training=module.training)
    if hooks is not None:
        pattern = hooks.fire("pattern", pattern)
    z = mix_values(pattern, value).contiguous()
    if hooks is not None:
        z = hooks.fire("z", z)
    return z, pattern


def register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTN_IMPLEMENTATION, _attention)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, eager_mask)


@dataclass(frozen=True)
class LayerHooks:
    """Fires one block's attention hook points (set on the attention module, read by :func:`_attention`)."""

    registry: HookRegistry
    layer: int

    def fire(self, kind: str, tensor: torch.Tensor) -> torch.Tensor:
        return self.registry.fire(act_name(kind, self.layer), tensor)
