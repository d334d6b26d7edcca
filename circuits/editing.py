"""IDF edits through U0 as measures (paper §4.4, Fig. 6; §6.3, Fig. 7): score gaps along an edit, and
injected tokens demoted by lowering their IDF. Each edit has a control: the same step along another direction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats

from circuits.idf import Spectrum, edit_idf
from circuits.model import HookedCrossEncoder
from circuits.vocabulary import word_ids


def edit_examples(queries: Iterable[tuple[str, list[str]]], tokenizer, limit: int) -> list[tuple[str, int, int]]:
    """(query, tok1, tok2) from (query, eligible terms) rows: each query's first two distinct terms, at most
    ``limit`` examples (rows are read no further than that: pass a generator to find terms lazily).

    Examples are chosen so that no example's edited token occurs in another example's query or documents,
    so all of one step's edits can run in a single batch without touching each other's inputs.
    """
    used_tokens: set[int] = set()  # every token of the accepted examples' inputs
    edited: set[int] = set()
    out = []
    for query, terms in queries:
        if len(out) >= limit:
            break
        ids = list(dict.fromkeys(word_ids(tokenizer, list(terms))))
        if len(ids) < 2:
            continue
        tokens = set(tokenizer(query, add_special_tokens=False)["input_ids"]) | {ids[0], ids[1]}
        if ids[0] in used_tokens or tokens & edited:
            continue
        out.append((query, ids[0], ids[1]))
        used_tokens |= tokens
        edited.add(ids[0])
    return out


def edit_curves(model: HookedCrossEncoder, spectrum: Spectrum, examples: Sequence[tuple[str, int, int]],
                steps: Sequence[float], direction: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``[queries, steps]`` of doc1 (token 1 repeated) and doc2 (token 2 repeated) as token 1's IDF is
    edited over ``steps`` along U0 (or along ``direction``, a control of equal step length)."""
    tok = model.tokenizer
    queries = [q for q, _, _ in examples]
    doc1 = [" ".join([tok.convert_ids_to_tokens(t1)] * 3) for _, t1, _ in examples]
    doc2 = [" ".join([tok.convert_ids_to_tokens(t2)] * 3) for _, _, t2 in examples]
    scores1, scores2 = [], []
    for step in steps:
        with edit_idf(model, spectrum, [t1 for _, t1, _ in examples], step, direction=direction):
            scores1.append(model.score_pairs(queries, doc1).double().numpy())
            scores2.append(model.score_pairs(queries, doc2).double().numpy())
    return np.array(scores1).T, np.array(scores2).T


def gap_changes(model: HookedCrossEncoder, spectrum: Spectrum, examples: Sequence[tuple[str, int, int]],
                steps: Sequence[float], directions: np.ndarray) -> np.ndarray:
    """``[queries, directions]``: how far each query's gap (doc1 − doc2) moves from the first of ``steps`` to the
    last when token 1 moves along each of ``directions`` (only the two end steps are scored)."""
    ends = (steps[0], steps[-1])
    out = []
    for direction in directions:
        gaps = np.subtract(*edit_curves(model, spectrum, examples, ends, direction))
        out.append(gaps[:, -1] - gaps[:, 0])
    return np.array(out).T


def monotonicity(steps: Sequence[float], gaps: np.ndarray) -> float:
    """Spearman ρ between the edit steps and the mean gap over the rows of ``gaps`` ``[queries, steps]``."""
    return float(stats.spearmanr(steps, gaps.mean(0))[0])


def demoted(model: HookedCrossEncoder, spectrum: Spectrum, token_ids: Sequence[int], steps: float,
            queries: list[str], injected: list[str], clean: list[str], direction: np.ndarray | None = None
            ) -> np.ndarray:
    """Per (query, injected document, clean document), 1.0 when the model with ``token_ids``' IDF edited by
    ``steps`` (along U0, or ``direction``) scores the injected document below its clean version."""
    with edit_idf(model, spectrum, token_ids, steps, direction=direction):
        edited_injected = model.score_pairs(queries, injected).double().numpy()
        edited_clean = model.score_pairs(queries, clean).double().numpy()
    return (edited_injected < edited_clean).astype(float)


def idf_dependence(gains: np.ndarray, idf: np.ndarray) -> float:
    """Pearson r between per-pair gains and the added terms' IDF (NaN when either is constant)."""
    return float(np.corrcoef(gains, idf)[0, 1]) if gains.std() > 0 and idf.std() > 0 else float("nan")
