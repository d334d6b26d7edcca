"""The fast patching engine: each patch starts from the cached residual stream entering its layer, reuses the
cached activations upstream of it, stacks the variants of one layer along the batch, and computes only the
[CLS] row where nothing else is read (``circuits.patching`` states the semantics it keeps)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from functools import partial

import torch

from circuits.block import Edit, attention_input, block, final_scores, project_heads
from circuits.hooks import act_name
from circuits.model import HookedCrossEncoder
from circuits.pairs import AlignedPairs
from circuits.patch_cache import UPSTREAM, Chunk, prepare
from circuits.sites import KEYS, Plan, Site, Variant

Tensor = torch.Tensor


WriteTable = dict[int, dict[str, list[tuple[int, tuple[int | slice, ...]]]]]  # layer -> key -> [(slot, selector)]


def _write_table(variants: Sequence[Variant]) -> WriteTable:
    table: WriteTable = {}
    for slot, variant in enumerate(variants):
        for w in variant:
            table.setdefault(w.layer, {}).setdefault(w.site.key, []).append((slot, w.site.selector(w.index)))
    return table


def _editor(writes: Mapping[str, list[tuple[int, tuple[int | slice, ...]]]], source: Mapping[str, Tensor],
            layer: int, size: int, changed: Tensor) -> Edit:
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
    return Edit(frozenset(k for k, chosen in writes.items() if chosen), edit)


def _stack(tensor: Tensor, copies: int, edited: bool) -> Tensor:
    """``copies`` variant slots of a cached tensor; a fresh tensor whenever it will be edited in place."""
    if copies > 1:
        return tensor.repeat(copies, *([1] * (tensor.dim() - 1)))
    return tensor.clone() if edited else tensor


def _given(model: HookedCrossEncoder, plan: Plan, chunk: Chunk, layer: int, start: int,
           written: Mapping[str, list[tuple[int, tuple[int | slice, ...]]]], copies: int, changed: Tensor
           ) -> dict[str, Tensor]:
    """Activations of block ``layer`` taken from the baseline cache instead of computed."""
    keys: set[str] = set()
    if plan.freeze_heads:
        keys.add("z" if "z" in written else "attn_out")
    if plan.freeze_mlps:
        keys.add("mlp_out")
    if layer == start and written:
        keys.update(UPSTREAM[min(written, key=KEYS.index)])
    given: dict[str, Tensor] = {}
    if set(written) == {"z"} and keys & {"z"}:  # z is the baseline's but for the writes: use linearity
        keys -= {"z", "attn_out"}
        given["attn_out"] = _attn_out_with_heads(model, chunk, layer, written["z"], copies, changed)
    given.update({k: _stack(chunk.base[act_name(k, layer)], copies, k in written) for k in keys})
    return given


def _attn_out_with_heads(model: HookedCrossEncoder, chunk: Chunk, layer: int,
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


def _run_group(model: HookedCrossEncoder, plan: Plan, chunk: Chunk, variants: Sequence[Variant]) -> Tensor:
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
            captured[layer] = project_heads(model, layer, plan.receiver_input,
                                            attention_input(model, layer, resid), receiving[layer])
        if layer == stop:
            break
        cls = model.reads_cls_only and (plan.cls_only or layer == n_layers - 1)
        given = _given(model, plan, chunk, layer, start, written, copies, changed)
        resid = block(model, layer, resid, mask, cls, given, edit)
    scores = final_scores(model, resid, mask) if not receiving else _receive(model, plan, chunk, captured, copies)
    return torch.where(changed, scores, chunk.base_scores.repeat(copies)).view(copies, size)


def _receive(model: HookedCrossEncoder, plan: Plan, chunk: Chunk, captured: Mapping[int, Tensor],
             copies: int) -> Tensor:
    """Pass 3: the baseline run with only the receivers' q/k/v input replaced (``captured``, else baseline)."""
    receiving = plan.receiver_heads()
    first, n_layers, key = min(receiving), model.cfg.n_layers, plan.receiver_input
    mask = chunk.mask.repeat(copies, 1, 1, 1)
    resid = _stack(chunk.base[act_name("resid_pre", first)], copies, False)
    for layer in range(first, n_layers):
        edit = Edit()
        if layer in receiving:
            heads = head_index(receiving[layer], resid.device)
            values = captured.get(layer)
            if values is None:
                values = _stack(chunk.base[act_name(key, layer)][:, :, heads], copies, False)
            edit = Edit(frozenset((key,)), partial(_replace_heads, heads, values))
        resid = block(model, layer, resid, mask, model.reads_cls_only and layer == n_layers - 1, {}, edit)
    return final_scores(model, resid, mask)


def head_index(heads: list[int], device: torch.device) -> Tensor:
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


def run_fast(model: HookedCrossEncoder, plan: Plan, sites: tuple[Site, ...], pairs: AlignedPairs, *,
              variants: Sequence[Variant], per_pass: int) -> tuple[Tensor, Tensor, Tensor]:
    chunk = prepare(model, plan, sites, pairs)
    scores = [_run_group(model, plan, chunk, group) for group in _groups(variants, per_pass)]
    return chunk.base_scores, chunk.source_scores, torch.cat(scores).T
