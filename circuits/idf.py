"""IDF in the embedding matrix: SVD of W_E, a sign-canonical U0, and reversible U0 edits (paper §4.4).

``W_E = U S Vᵀ``; U0 (first column of U) holds one value per vocabulary entry. A singular vector's sign is
arbitrary, so ``u0`` fixes it: the sign that makes corr(U0, reference) negative, as the paper reports
(r = −0.7136 against MS MARCO IDF), or, without a reference, the sign that makes Σ U0 positive.

Editing (Fig. 5): setting U0[t] to a new value changes row t of W_E by ``(new − old)·σ0·v0``; nothing else
moves. ``edit_idf`` raises or lowers a token's *IDF* by ``steps`` standard deviations of U0 (one step lowers
U0[t] by std(U0) when the canonical sign is negative), inside a context manager that restores the exact
original rows afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from circuits.controls import random_directions
from circuits.model import HookedCrossEncoder


@dataclass(frozen=True)
class Spectrum:
    """The top singular triplet of the word-embedding matrix, sign-canonical."""

    u0: np.ndarray  # [vocab]
    sigma0: float
    v0: np.ndarray  # [d_model]
    sign_rule: str


def word_embeddings(model: HookedCrossEncoder) -> torch.nn.Embedding:
    """The word-embedding module (W_E) of the model."""
    return model.base.get_input_embeddings()


def u0(model: HookedCrossEncoder, reference: np.ndarray | None = None, mask: np.ndarray | None = None) -> Spectrum:
    """Top singular triplet of W_E with a canonical sign.

    ``reference`` (e.g. IDF per vocabulary id) with ``mask`` (ids where it is defined): the sign making
    corr(U0, reference) negative. Without it: the sign making Σ U0 positive.
    """
    weight = word_embeddings(model).weight.detach().to("cpu", torch.float64)
    left, singular, right_t = torch.linalg.svd(weight, full_matrices=False)
    vec, v0 = left[:, 0].numpy(), right_t[0].numpy()
    sign = _canonical_sign(vec, reference, mask)
    rule = "corr(U0, IDF) < 0" if reference is not None else "sum(U0) > 0"
    return Spectrum(u0=sign * vec, sigma0=float(singular[0]), v0=sign * v0, sign_rule=rule)


def _canonical_sign(values: np.ndarray, reference: np.ndarray | None, mask: np.ndarray | None) -> float:
    """−1.0 or 1.0: the sign making corr(values, reference) negative over ``mask``, or Σ values positive."""
    if reference is None:
        return -1.0 if values.sum() < 0 else 1.0
    keep = np.ones(len(values), bool) if mask is None else mask
    return -1.0 if np.corrcoef(values[keep], reference[keep])[0, 1] > 0 else 1.0


def signed_random_directions(model: HookedCrossEncoder, spectrum: Spectrum, n: int, seed: int,
                             reference: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
    """``[n, d_model]`` random unit directions orthogonal to v0 (seeded), each signed by :func:`u0`'s rule applied
    to the rows' projections on it: an edit along one then "raises IDF" in the same sense as along v0, so the
    control of a U0 edit cannot win or lose by its arbitrary sign."""
    weight = word_embeddings(model).weight.detach().to("cpu", torch.float64).numpy()
    directions = random_directions(len(spectrum.v0), n, seed, orthogonal_to=spectrum.v0)
    return np.stack([_canonical_sign(weight @ d, reference, mask) * d for d in directions])


@contextmanager
def edit_idf(model: HookedCrossEncoder, spectrum: Spectrum, token_ids: Sequence[int], steps: float,
             direction: np.ndarray | None = None) -> Iterator[None]:
    """Raise (``steps`` > 0) or lower the IDF that U0 encodes for ``token_ids``; restored on exit.

    Assumes the canonical sign of ``u0`` with an IDF reference (U0 falls as IDF rises). ``direction``: a unit
    vector of W_E's row space to move along instead of v0, with the same length of step (the random-direction
    control of an IDF edit).
    """
    embedding = word_embeddings(model).weight
    ids = torch.as_tensor(list(token_ids), dtype=torch.long, device=embedding.device)
    original = embedding.detach()[ids].clone()
    delta_u = -float(steps) * float(np.std(spectrum.u0))
    axis = spectrum.v0 if direction is None else np.asarray(direction, float)
    step = torch.as_tensor(axis * spectrum.sigma0 * delta_u, dtype=embedding.dtype, device=embedding.device)
    try:
        with torch.no_grad():
            embedding[ids] = original + step
        yield
    finally:
        with torch.no_grad():
            embedding[ids] = original


@contextmanager
def without_direction(model: HookedCrossEncoder, direction: np.ndarray) -> Iterator[None]:
    """W_E with its component along ``direction`` (a vector of its row space, e.g. v0, which removes
    ``σ0·u0·v0ᵀ``: the IDF store) projected out of every row; restored on exit."""
    embedding = word_embeddings(model).weight
    original = embedding.detach().clone()
    unit = torch.as_tensor(np.asarray(direction, float) / np.linalg.norm(direction), dtype=embedding.dtype,
                           device=embedding.device)
    try:
        with torch.no_grad():
            embedding -= torch.outer(embedding @ unit, unit)
        yield
    finally:
        with torch.no_grad():
            embedding.copy_(original)
