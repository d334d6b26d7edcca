"""Aligned (baseline, perturbed) pairs: what every patching pass runs on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from circuits.errors import InputError
from circuits.model import HookedCrossEncoder, PairBatch


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


def align_records(model: HookedCrossEncoder, pairs: Sequence) -> AlignedPairs:
    """AlignedPairs of dataset pairs (records with ``query``, the padded ``baseline``, ``perturbed`` and
    ``query_id``), grouped by query id."""
    return align_pairs(model, [p.query for p in pairs], [p.baseline for p in pairs], [p.perturbed for p in pairs],
                       [p.query_id for p in pairs])
