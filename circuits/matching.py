"""Matching heads (paper §4.3): query→document attention, token similarity, Matching Scores.

Positions come from the token layout ``[CLS] q… [SEP] d… [SEP] [PAD]…``: the query is everything between
[CLS] and the first [SEP], the document everything between the first and the second [SEP]. This holds for
every supported architecture (RoBERTa's ``</s></s>`` separator included: the extra separator is skipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from circuits.axioms import levels
from circuits.hooks import ActivationCache, act_name
from circuits.model import HookedCrossEncoder, PairBatch
from circuits.roles import head_labels
from circuits.vocabulary import word_ids


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


def attention_patterns(model: HookedCrossEncoder, queries: Sequence[str], docs: Sequence[str],
                       layers: Sequence[int]) -> tuple[PairBatch, Segments, torch.Tensor, ActivationCache]:
    """Tokenize the pairs and run them once, caching the attention patterns of ``layers``: (batch, segments,
    scores, cache)."""
    batch = model.tokenize(list(queries), list(docs))
    scores, cache = model.run_with_cache(batch, names_filter=[act_name("pattern", layer) for layer in layers])
    return batch, segments(model, batch), scores, cache


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


def head_similarity_correlation(model: HookedCrossEncoder, queries: list[str], docs: list[str],
                                batch_size: int = 32) -> np.ndarray:
    """Per head ``[layer, head]``: Pearson r of attention q_i→d_j against cos(q_i, d_j), pooled over all pairs."""
    layers = range(model.cfg.n_layers)
    att: list[list[np.ndarray]] = [[] for _ in layers]
    cos: list[np.ndarray] = []
    for start in range(0, len(queries), batch_size):
        batch, seg, _, cache = attention_patterns(model, queries[start:start + batch_size],
                                                  docs[start:start + batch_size], layers)
        pair_mask = (seg.query[:, :, None] & seg.doc[:, None, :]).cpu()
        cos.append(token_cosine(model, batch.input_ids).cpu()[pair_mask].double().numpy())
        for layer in layers:
            pattern = cache["pattern", layer].cpu()
            att[layer].append(pattern.permute(1, 0, 2, 3)[:, pair_mask].double().numpy())  # [head, n]
    cos_all = np.concatenate(cos)
    out = np.empty((model.cfg.n_layers, model.cfg.n_heads))
    for layer in range(model.cfg.n_layers):
        values = np.concatenate(att[layer], axis=1)
        for head in range(model.cfg.n_heads):
            a = values[head]
            out[layer, head] = np.corrcoef(a, cos_all)[0, 1] if a.std() > 0 else np.nan
    return out


def attention_to_positions(model: HookedCrossEncoder, queries: list[str], docs: list[str],
                           heads: list[tuple[int, int]], target: str, term_id: list[int] | None = None,
                           batch_size: int = 32, uniform: bool = False, per_head: bool = False) -> np.ndarray:
    """Per pair, the heads' attention from query tokens to ``target`` positions, summed over those positions
    and averaged over query tokens and heads: ``target`` is ``"doc"`` (every document token) or ``"term"``
    (document tokens equal to the pair's ``term_id``). ``uniform``: the same for attention spread evenly over
    every real token (a head without preferences; no forward pass). ``per_head``: ``[pairs, heads]``, not
    averaged over heads."""
    layers = sorted({layer for layer, _ in heads})
    out = []
    for start in range(0, len(queries), batch_size):
        chunk = slice(start, start + batch_size)
        if uniform:
            batch = model.tokenize(queries[chunk], docs[chunk])
            seg = segments(model, batch)
        else:
            batch, seg, _, cache = attention_patterns(model, queries[chunk], docs[chunk], layers)
        keys = seg.doc
        if target == "term":
            ids = torch.as_tensor(term_id[chunk], device=batch.input_ids.device)
            keys = keys & (batch.input_ids == ids[:, None])
        if uniform:
            even = (keys.sum(-1) / batch.attention_mask.sum(-1)).cpu().double().numpy()
            out.append(np.repeat(even[:, None], len(heads), axis=1) if per_head else even)
            continue
        values = []
        for layer, head in heads:
            pattern = cache["pattern", layer][:, head]  # [b, q, k]
            to_keys = (pattern * keys[:, None, :]).sum(-1)  # [b, q]
            values.append((to_keys * seg.query).sum(-1) / seg.query.sum(-1))
        stacked = torch.stack(values, dim=1)  # [b, heads]
        out.append((stacked if per_head else stacked.mean(1)).cpu().double().numpy())
    return np.concatenate(out)


def attention_by_level(model: HookedCrossEncoder, pairs: Sequence, heads: list[tuple[int, int]], target: str,
                       uniform: bool = False, per_head: bool = False) -> np.ndarray:
    """``[queries, levels]`` (``per_head``: ``[queries, levels, heads]``): the heads' query→``target`` attention
    (:func:`attention_to_positions`) at every level of chained k→k+1 pairs (:func:`circuits.axioms.levels`);
    ``uniform``: of attention spread evenly over every real token, the null of a head without preferences."""
    by_query = levels(pairs)
    rows = [[by_query[q][k] for k in sorted(by_query[q])] for q in sorted(by_query)]
    flat = [item for row in rows for item in row]
    ids = iter(word_ids(model.tokenizer, [t for _, _, t in flat if t]))
    term_ids = [next(ids) if t else -1 for _, _, t in flat]
    values = attention_to_positions(model, [q for q, _, _ in flat], [d for _, d, _ in flat], heads, target,
                                    term_ids, uniform=uniform, per_head=per_head)
    return values.reshape(len(rows), -1, len(heads)) if per_head else values.reshape(len(rows), -1)


def received_attention(model: HookedCrossEncoder, queries: list[str], docs: list[str],
                       heads: list[tuple[int, int]], source_rows: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query token of every pair, the attention it receives from each head: ``(values [heads, tokens],
    token ids [tokens], pair index [tokens])``.

    ``source_rows="cls"``: attention from [CLS]; ``"query"``: mean attention from every query token.
    """
    batch, seg, _, cache = attention_patterns(model, queries, docs, sorted({layer for layer, _ in heads}))
    query = seg.query.cpu()
    ids = batch.input_ids.cpu().numpy()[query.numpy()]
    pair = np.nonzero(query.numpy())[0]
    values = []
    for layer, head in heads:
        pattern = cache["pattern", layer][:, head].cpu()  # [b, q, k]
        if source_rows == "cls":
            received = pattern[:, 0, :]
        else:
            received = (pattern * query[:, :, None].to(pattern.dtype)).sum(1) / query.sum(1, keepdim=True)
        values.append(received[query].double().numpy())
    return np.array(values).reshape(len(heads), -1), ids, pair


def idf_correlations(values: np.ndarray, token_idf: np.ndarray) -> np.ndarray:
    """Per head (row of ``values``), Pearson r between the attention a token receives and its IDF."""
    return np.array([float(np.corrcoef(v, token_idf)[0, 1]) if v.std() > 0 and token_idf.std() > 0 else np.nan
                     for v in values])


def query_token_attention(model: HookedCrossEncoder, queries: list[str], docs: list[str],
                          heads: list[tuple[int, int]], idf: np.ndarray, source_rows: str) -> dict[str, float]:
    """Per head, Pearson r (pooled over pairs) between the attention query tokens receive and their IDF
    (``idf`` indexed by token id; ``source_rows`` as in :func:`received_attention`)."""
    values, ids, _ = received_attention(model, queries, docs, heads, source_rows)
    return {label: float(r) for label, r in zip(head_labels(heads), idf_correlations(values, idf[ids]))}
