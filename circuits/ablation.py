"""Head ablation and query-side output patching for a HookedCrossEncoder: a head's ``z`` replaced by zero, by its
mean over a reference set of inputs (``head_means``), or, at [CLS] and the query positions, by its value on the same
query with another document (``patch_query_outputs``, App. E's length patching). Every run is one hooked forward
per batch under ``torch.inference_mode()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from circuits.errors import InputError
from circuits.hooks import act_name
from circuits.model import HookedCrossEncoder, PairBatch

Head = tuple[int, int]
Tensor = torch.Tensor


def head_means(model: HookedCrossEncoder, reference: PairBatch, heads: Sequence[Head], *,
               per_position: bool = False, batch_size: int = 32) -> dict[Head, Tensor]:
    """Mean ``z`` of each head over the real (unpadded) tokens of ``reference``.

    ``per_position=False``: one vector ``[d_head]`` per head, the mean over every real token of every input
    ([CLS] and [SEP] included). ``per_position=True``: ``[p, d_head]``, position ``i`` averaged over the
    inputs that have a real token there (NaN where none has).

    Examples:
        >>> head_means(model, pairs.baseline, [(8, 10)])[(8, 10)].shape                   # doctest: +SKIP
        torch.Size([32])
    """
    layers = sorted({layer for layer, _ in heads})
    sums: dict[int, Tensor] = {}
    count: Tensor | float = 0.0
    with torch.inference_mode():
        for start in range(0, len(reference), batch_size):
            batch = reference.select(slice(start, start + batch_size)).to(model.device)
            _, cache = model.run_with_cache(batch, [act_name("z", l) for l in layers])
            real = batch.attention_mask.to(cache["z", layers[0]].dtype)[:, :, None, None]
            dims = (0,) if per_position else (0, 1)
            for layer in layers:
                sums[layer] = sums.get(layer, 0) + (cache["z", layer] * real).sum(dims)
            count = count + real.sum(dims)
        return {(l, h): (sums[l] / count)[..., h, :] for l, h in heads}


def ablate_heads(model: HookedCrossEncoder, batch: PairBatch, heads: Sequence[Head], *, mode: str = "mean",
                 reference: PairBatch | None = None, means: Mapping[Head, Tensor] | None = None,
                 per_position: bool = False, batch_size: int = 32) -> Tensor:
    """Scores of ``batch`` with the ``z`` of ``heads`` replaced by zero or by its mean over ``reference``.

    ``mode="mean"`` needs ``reference`` (e.g. the baseline documents), or ``means`` computed once by
    ``head_means`` when several head sets are ablated against the same reference; see ``head_means`` for
    ``per_position``. Per-position means must cover every real position of ``batch``.

    Examples:
        >>> matching = [(8, 8), (8, 1), (7, 9)]
        >>> ablate_heads(model, pairs.perturbed, matching, reference=pairs.baseline).mean()   # doctest: +SKIP
    """
    if mode not in ("mean", "zero"):
        raise InputError(f"mode must be 'mean' or 'zero', got {mode!r}")
    if mode == "zero":
        values: Mapping[Head, Tensor] = {}
    elif means is not None:
        missing = sorted(set(heads) - set(means))
        if missing:
            raise InputError(f"means= lacks heads {missing[:8]}: compute head_means over every head you ablate")
        values = means
    elif reference is not None:
        values = head_means(model, reference, heads, per_position=per_position, batch_size=batch_size)
    else:
        raise InputError("mean ablation needs a reference set of inputs: pass reference=<PairBatch> (or means= "
                         "from head_means)")
    by_layer: dict[int, list[int]] = {}
    for layer, head in sorted(set(heads)):
        by_layer.setdefault(layer, []).append(head)
    chunks = batch.length_chunks(batch_size)
    scores = []
    with torch.inference_mode():
        for index in chunks:
            chunk = batch.select(index).trimmed().to(model.device)
            n_pos = chunk.input_ids.shape[1]
            fill = {h: _ablation_value(values.get(h), n_pos, chunk, h) for h in heads}
            hooks = [(act_name("z", l), partial(_ablate, [(h, fill[(l, h)]) for h in hs]))
                     for l, hs in by_layer.items()]
            with model.hooks(hooks):
                scores.append(model.scores_cls_last(chunk))
        order = torch.cat(chunks).to(scores[0].device)
        return torch.empty_like(torch.cat(scores)).index_put_((order,), torch.cat(scores))


def _ablation_value(mean: Tensor | None, n_pos: int, batch: PairBatch, head: Head) -> Tensor | float:
    """Zero, a ``[d]`` mean, or a ``[p, d]`` per-position mean cut or padded to ``n_pos`` (pads get zero)."""
    if mean is None:
        return 0.0
    if mean.dim() == 1:
        return mean
    covered = torch.zeros(n_pos, dtype=torch.bool, device=mean.device)
    upto = min(n_pos, mean.shape[0])
    covered[:upto] = ~mean[:upto].isnan().any(-1)
    needed = batch.attention_mask.bool().any(0).to(mean.device)
    if (needed & ~covered).any():
        first = int((needed & ~covered).nonzero()[0])
        raise InputError(f"per-position mean of head {head[0]}.{head[1]} has no reference input with a real "
                         f"token at position {first}: use a reference set at least as long, or "
                         "per_position=False")
    out = torch.zeros(n_pos, mean.shape[-1], dtype=mean.dtype, device=mean.device)
    out[:upto] = mean[:upto].nan_to_num(0.0)
    return out


def _ablate(fills: list[tuple[int, Tensor | float]], tensor: Tensor, point: Any) -> Tensor:
    tensor = tensor.clone()
    rows = tensor.shape[1]  # 1 in a last block that computes the [CLS] row only
    for head, value in fills:
        tensor[:, :, head] = value[:rows] if isinstance(value, Tensor) and value.dim() == 2 else value
    return tensor





def _prefix_mask(model: HookedCrossEncoder, batch: PairBatch) -> Tensor:
    """``[batch, pos]``: [CLS], the query and its first separator (identical in two pairs with the same query)."""
    sep = batch.input_ids == model.tokenizer.sep_token_id
    return torch.cumsum(sep.int(), dim=1) - sep.int() == 0


def patch_query_outputs(model: HookedCrossEncoder, target: PairBatch, source: PairBatch,
                        head_sets: Sequence[Sequence[Head]], *, batch_size: int = 32) -> np.ndarray:
    """Scores ``[pairs, sets]`` of ``target`` with each set's heads' ``z`` at [CLS] and the query positions taken
    from ``source``: pairs of the same query and another document (e.g. a longer one), so the heads carry what
    they read from the source document (the paper's App. E patches only the matching heads).

    Examples:
        >>> long, short = model.tokenize(qs, long_docs), model.tokenize(qs, short_docs)     # doctest: +SKIP
        >>> patch_query_outputs(model, short, long, [[(1, 7), (2, 1)]]).shape             # doctest: +SKIP
        (64, 1)
    """
    if len(target) != len(source):
        raise InputError(f"{len(target)} target pairs but {len(source)} source pairs: pass one source per target")
    mask_t, mask_s = _prefix_mask(model, target), _prefix_mask(model, source)
    width = int(mask_t.sum(1).max())
    if not torch.equal(mask_t[:, :width], mask_s[:, :width]) or not torch.equal(
            (target.input_ids * mask_t)[:, :width], (source.input_ids * mask_s)[:, :width]):
        raise InputError("target and source pairs differ in their queries: patching query positions needs the "
                         "same query in both (only the documents may differ)")
    layers = sorted({layer for heads in head_sets for layer, _ in heads})
    out = np.empty((len(target), len(head_sets)))
    with torch.inference_mode():
        for index in target.length_chunks(batch_size):
            tgt, src = (b.select(index).trimmed().to(model.device) for b in (target, source))
            _, cache = model.run_with_cache(src, [act_name("z", l) for l in layers])
            prefix = _prefix_mask(model, tgt)
            width = int(prefix.sum(1).max())
            keep = prefix[:, :width, None]
            scores = []
            for heads in head_sets:
                by_layer: dict[int, list[int]] = {}
                for layer, head in heads:
                    by_layer.setdefault(layer, []).append(head)
                hooks = [(act_name("z", l), partial(_put_prefix, hs, cache["z", l][:, :width], keep))
                         for l, hs in by_layer.items()]
                with model.hooks(hooks):
                    scores.append(model.scores_cls_last(tgt))
            out[index.numpy()] = torch.stack(scores, 1).double().cpu().numpy()
    return out


def _put_prefix(heads: list[int], source: Tensor, keep: Tensor, tensor: Tensor, point: Any) -> Tensor:
    tensor = tensor.clone()
    width = min(source.shape[1], tensor.shape[1])  # 1 in a last block that computes the [CLS] row only
    for head in heads:
        tensor[:, :width, head] = torch.where(keep[:, :width], source[:, :width, head], tensor[:, :width, head])
    return tensor
