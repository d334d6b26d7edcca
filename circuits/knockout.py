"""Models that each lack one mechanism: the known negatives a claim family must fail on.

``knock_out`` saves a copy of a checkpoint with heads silenced (their slice of the attention output projection
zeroed: they still attend, but write nothing) or with the top singular direction of the word embeddings (U0,
the IDF store of §4.4) projected out of every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from circuits.errors import InputError
from circuits.idf import u0, word_embeddings
from circuits.model import HookedCrossEncoder

Head = tuple[int, int]


def silence_heads(model: HookedCrossEncoder, heads: Sequence[Head]) -> None:
    """Zero each head's input columns of its layer's attention output projection (in place)."""
    d_head = model.cfg.d_model // model.cfg.n_heads
    for layer, head in heads:
        if not (0 <= layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
            raise InputError(f"head {layer}.{head} does not exist in a {model.cfg.n_layers} × {model.cfg.n_heads} "
                             "model")
        with torch.no_grad():
            model.block_part(layer, "o").weight[:, head * d_head:(head + 1) * d_head] = 0


def remove_u0(model: HookedCrossEncoder) -> np.ndarray:
    """Project the top right singular vector v0 of W_E out of every row (in place); returns v0."""
    v0 = u0(model).v0
    embedding = word_embeddings(model).weight
    direction = torch.as_tensor(v0, dtype=embedding.dtype, device=embedding.device)
    with torch.no_grad():
        embedding -= torch.outer(embedding @ direction, direction)
    return v0


def knock_out(checkpoint: str | Path, folder: str | Path, *, heads: Sequence[Head] = (), without_u0: bool = False
              ) -> Path:
    """Save ``checkpoint`` with ``heads`` silenced and/or U0 removed into ``folder`` (tokenizer included)."""
    if not heads and not without_u0:
        raise InputError("nothing to knock out: pass heads=[(layer, head), ...] and/or without_u0=True")
    model = HookedCrossEncoder.from_pretrained(checkpoint)
    silence_heads(model, heads)
    if without_u0:
        remove_u0(model)
    folder = Path(folder)
    model.model.save_pretrained(folder)
    model.tokenizer.save_pretrained(folder)
    return folder


def parse_heads(text: str) -> list[Head]:
    """``"0.8,1.1"`` → ``[(0, 8), (1, 1)]``.

    >>> parse_heads("0.8, 1.10")
    [(0, 8), (1, 10)]
    """
    try:
        return [(int(a), int(b)) for a, b in (h.strip().split(".") for h in text.split(",") if h.strip())]
    except ValueError:
        raise InputError(f"heads {text!r} are not of the form 'layer.head,layer.head'") from None
