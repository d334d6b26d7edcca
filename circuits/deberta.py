"""DeBERTa-v2/v3's disentangled attention, in the layout of ``circuits.block``.

A DeBERTa block is a post-LN BERT block but for its attention scores: content-to-content ``q_i·k_j``, plus
content-to-position ``q_i·P^k_{δ(i,j)}`` (c2p) and position-to-content ``k_j·P^q_{δ(i,j)}`` (p2c), where
``δ(i,j)`` is the (log-bucketed) relative position ``i − j`` and ``P^k``/``P^q`` project the encoder's shared
relative-position embeddings with the layer's position projections (or its own key/query projections when
``share_att_key``); every term is divided by ``sqrt(d_head · n_terms)``. Padding is masked on both axes, as
Hugging Face's pairwise mask does (a padded query row then attends uniformly). ``hook_q``/``hook_k`` are the
content projections; the position terms are recomputed from them, so patching ``q`` or ``k`` moves both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from circuits.errors import CheckpointError

if TYPE_CHECKING:
    from circuits.model import HookedCrossEncoder

Tensor = torch.Tensor


def check_config(config: object, where: str) -> None:
    """Refuse the variant this module does not implement: the convolution after block 0 (``conv_kernel_size``)."""
    if getattr(config, "conv_kernel_size", 0) > 0:
        raise CheckpointError(f"{where!r} is a DeBERTa-v2 with a convolution layer (conv_kernel_size="
                              f"{config.conv_kernel_size}), which axiomtests does not implement; DeBERTa-v3 "
                              "checkpoints have none.")


def relative_positions(attention: torch.nn.Module, length: int, device: torch.device) -> Tensor:
    """``δ(i,j)`` ``[p,p]``: ``i − j``, log-bucketed as the model's config says (Hugging Face's function)."""
    from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

    probe = torch.empty(length, 0, device=device)
    return build_relative_position(probe, probe, bucket_size=attention.position_buckets,
                                   max_position=attention.max_relative_positions)[0]


def _positions(projection: torch.nn.Linear, embeddings: Tensor, heads: int) -> Tensor:
    """A position projection per head ``[h, 2·span, d]``."""
    return projection(embeddings).unflatten(-1, (heads, -1)).transpose(0, 1)


def disentangled_pattern(model: HookedCrossEncoder, layer: int, q: Tensor, k: Tensor, mask: Tensor) -> Tensor:
    """Attention weights ``[b,h,p_q,p]`` of block ``layer`` from ``q`` ``[b,p_q,h,d]`` (the first ``p_q`` query
    rows) and ``k`` ``[b,p,h,d]``, with Hugging Face's arithmetic."""
    attention = model.block_part(layer, "attention")
    terms = [t for t in ("c2p", "p2c") if t in attention.pos_att_type] if attention.relative_attention else []
    scale = torch.sqrt(torch.tensor(q.size(-1), dtype=torch.float) * (1 + len(terms))).to(q.dtype)
    qh, kh = q.transpose(1, 2), k.transpose(1, 2)  # [b,h,p_q,d], [b,h,p,d]
    rows, length, heads = qh.size(2), kh.size(2), qh.size(1)
    scores = torch.matmul(qh, kh.transpose(-1, -2) / scale)
    if terms:
        span = attention.pos_ebd_size
        embeddings = model.base.encoder.get_rel_embedding()[: 2 * span]
        delta = relative_positions(attention, length, q.device)
        shape = (qh.size(0), heads, rows, length)
        if "c2p" in terms:
            keys = _positions(attention.key_proj if attention.share_att_key else attention.pos_key_proj,
                              embeddings, heads)
            index = torch.clamp(delta[:rows] + span, 0, 2 * span - 1).expand(shape)
            scores = scores + torch.gather(torch.matmul(qh, keys.transpose(-1, -2)), -1, index) / scale
        if "p2c" in terms:
            queries = _positions(attention.query_proj if attention.share_att_key else attention.pos_query_proj,
                                 embeddings, heads)
            index = torch.clamp(-delta + span, 0, 2 * span - 1).expand(qh.size(0), heads, length, length)
            by_key = torch.gather(torch.matmul(kh, queries.transpose(-1, -2)), -1, index)  # [b,h,key,query]
            scores = scores + by_key.transpose(-1, -2)[:, :, :rows] / scale
    valid = mask[:, 0, 0] == 0  # [b,p]
    pairs = valid[:, None, :rows, None] & valid[:, None, None, :]
    scores = scores.masked_fill(~pairs, torch.finfo(q.dtype).min)
    return torch.softmax(scores, dim=-1)
