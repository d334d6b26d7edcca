"""Matching heads (paper §4.3): query→document attention, token similarity, Matching Scores.

Positions come from the token layout ``[CLS] q… [SEP] d… [SEP] [PAD]…``: the query is everything between
[CLS] and the first [SEP], the document everything between the first and the second [SEP]. This holds for
every supported architecture (RoBERTa's ``</s></s>`` separator included: the extra separator is skipped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from circuits.model import HookedCrossEncoder, PairBatch


@dataclass(frozen=True)
class Segments:
    """Boolean masks ``[batch, pos]`` of query and document tokens (special tokens and padding excluded)."""

    query: torch.Tensor
    doc: torch.Tensor


def segments(model: HookedCrossEncoder, batch: PairBatch) -> Segments:
    """Query and document positions of every pair in ``batch``."""
    tok = model.tokenizer
    special = torch.zeros_like(batch.input_ids, dtype=torch.bool)
    for token_id in tok.all_special_ids:
        special |= batch.input_ids == token_id
    sep = batch.input_ids == tok.sep_token_id
    sep_rank = torch.cumsum(sep.int(), dim=1)
    real = batch.attention_mask.bool() & ~special
    query = real & (sep_rank == 0)
    # the document follows the last separator of the first run of separators
    doc = real & (sep_rank >= 1) & (sep_rank == _first_run_end(sep))
    return Segments(query=query, doc=doc)


def _first_run_end(sep: torch.Tensor) -> torch.Tensor:
    """Per pair, how many separators precede the document (1 for BERT, 2 for RoBERTa's ``</s></s>``)."""
    first = sep.int().argmax(dim=1)
    nxt = torch.gather(sep, 1, (first + 1).clamp(max=sep.shape[1] - 1)[:, None])[:, 0]
    return (1 + nxt.int())[:, None]


def token_cosine(model: HookedCrossEncoder, input_ids: torch.Tensor) -> torch.Tensor:
    """cos(e_i, e_j) of the word embeddings of every token pair: ``[batch, pos, pos]``."""
    emb = model.base.get_input_embeddings().weight.detach()[input_ids]
    emb = torch.nn.functional.normalize(emb, dim=-1)
    return emb @ emb.transpose(1, 2)


def matching_scores(pattern: torch.Tensor, seg: Segments) -> torch.Tensor:
    """MS per head and query position: Σ_j∈doc pattern[h, i, j]; ``[batch, head, pos]`` (0 off the query)."""
    doc = seg.doc[:, None, None, :].to(pattern.dtype)
    ms = (pattern * doc).sum(-1)
    return ms * seg.query[:, None, :].to(pattern.dtype)


def similarity_correlation(pattern: torch.Tensor, cosine: torch.Tensor, seg: Segments) -> np.ndarray:
    """Per head, Pearson r between attention q_i→d_j and cos(q_i, d_j) over every query–document token pair."""
    pair_mask = seg.query[:, :, None] & seg.doc[:, None, :]  # [b, q, k]
    cos = cosine[pair_mask].double().numpy()
    out = np.empty(pattern.shape[1])
    for head in range(pattern.shape[1]):
        att = pattern[:, head][pair_mask].double().numpy()
        out[head] = np.corrcoef(att, cos)[0, 1] if att.std() > 0 and cos.std() > 0 else np.nan
    return out
