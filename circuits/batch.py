"""Tokenised (query, document) pairs as the hooked model and the patching engines take them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class PairBatch:
    """Tokenised (query, document) pairs: ``[CLS] query [SEP] document [SEP]`` padded to one length."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None
    n_truncated: int = 0

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def to(self, device: torch.device | str) -> "PairBatch":
        tt = None if self.token_type_ids is None else self.token_type_ids.to(device)
        return PairBatch(self.input_ids.to(device), self.attention_mask.to(device), tt, self.n_truncated)

    def inputs(self) -> dict[str, torch.Tensor]:
        """Keyword arguments for the Hugging Face model."""
        out = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.token_type_ids is not None:
            out["token_type_ids"] = self.token_type_ids
        return out

    def select(self, index: slice | Sequence[int] | torch.Tensor) -> "PairBatch":
        tt = None if self.token_type_ids is None else self.token_type_ids[index]
        return PairBatch(self.input_ids[index], self.attention_mask[index], tt, self.n_truncated)

    def trimmed(self) -> "PairBatch":
        """The same pairs without the padding columns that no pair uses (right padding): a cheaper forward."""
        width = max(1, int(self.attention_mask.sum(1).max()))
        tt = None if self.token_type_ids is None else self.token_type_ids[:, :width]
        return PairBatch(self.input_ids[:, :width], self.attention_mask[:, :width], tt, self.n_truncated)

    def length_chunks(self, size: int) -> list[torch.Tensor]:
        """Indices of the pairs, shortest first, in chunks of ``size``: with :meth:`trimmed`, each chunk pays only
        for its own longest pair."""
        order = torch.argsort(self.attention_mask.sum(1), stable=True)
        return list(order.split(size))
