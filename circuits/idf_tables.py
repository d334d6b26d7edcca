"""IDF tables per word and per wordpiece from a corpus's document frequencies, in BM25's form.

``idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))`` (the same form as :meth:`circuits.bm25.BM25.idf`).

Words the corpus lacks fall back to wordfreq's English frequency ``f`` (a token frequency): a document of
the corpus's mean length ``L`` holds the word with probability ``1 - (1 - f)^L``, so the estimated
document frequency is ``N * (1 - (1 - f)^L)``. Every value says where it came from: ``"corpus"``,
``"wordfreq"`` or ``"absent"`` (neither knows it; df = 0, the largest IDF). Wordpieces fall back the same
way only when they are whole words (``circuits.vocabulary``: a word start, alphabetic); other absent pieces are
``"absent"``, which callers can filter (the paper keeps only pieces seen in the corpus).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from circuits.bm25 import words
from circuits.vocabulary import word_of, word_start

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["IdfEntry", "IdfTable", "bm25_idf", "word_idf_table", "wordpiece_idf_table", "wordfreq_source"]

Source = Literal["corpus", "wordfreq", "absent"]


def bm25_idf(df: float | np.ndarray, n_docs: int) -> float | np.ndarray:
    """``ln(1 + (N - df + 0.5) / (df + 0.5))``; always positive, largest for df = 0."""
    return np.log1p((n_docs - np.asarray(df, dtype=np.float64) + 0.5) / (np.asarray(df, dtype=np.float64) + 0.5))


def wordfreq_source() -> str:
    """``"wordfreq==<version> (en)"``, the fallback's provenance."""
    from importlib.metadata import version

    return f"wordfreq=={version('wordfreq')} (en)"


@dataclass(frozen=True)
class IdfEntry:
    """One looked-up IDF: the value, the (possibly estimated) document frequency, and its source."""

    idf: float
    df: float
    source: Source


@dataclass(frozen=True)
class IdfTable:
    """Document frequencies of words or wordpieces over ``n_docs`` documents, and their BM25 IDF.

    ``corpus`` describes where the counts came from (name and content hash); ``fallback`` is the wordfreq
    provenance, or ``None`` when absent keys are not estimated.

    Examples
    --------
    >>> table = word_idf_table({"d1": "the cat sat", "d2": "the dog"}, corpus="toy", fallback=False)
    >>> round(table.idf("the"), 4), table.lookup("cat")
    (0.1823, IdfEntry(idf=0.6931471805599453, df=1.0, source='corpus'))
    """

    unit: Literal["word", "wordpiece"]
    n_docs: int
    mean_doc_len: float
    df: Mapping[str, int]
    corpus: str
    fallback: str | None
    marker: str = ""  # a wordpiece table's word-start marker (circuits.vocabulary): fallbacks look up the word

    def lookup(self, key: str) -> IdfEntry:
        """The IDF of ``key`` with its document frequency and source."""
        if key in self.df:
            df = float(self.df[key])
            return IdfEntry(float(bm25_idf(df, self.n_docs)), df, "corpus")
        word = word_of(key, self.marker)
        if self.fallback is not None and word is not None and word.isascii():
            from wordfreq import word_frequency

            f = word_frequency(word, "en")
            if f > 0:
                df = self.n_docs * -np.expm1(self.mean_doc_len * np.log1p(-f))
                return IdfEntry(float(bm25_idf(df, self.n_docs)), float(df), "wordfreq")
        return IdfEntry(float(bm25_idf(0.0, self.n_docs)), 0.0, "absent")

    def idf(self, key: str) -> float:
        """The IDF of ``key`` (see :meth:`lookup`)."""
        return self.lookup(key).idf

    def vector(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(idf, source)`` arrays over ``keys`` (e.g. a vocabulary in id order); ``source`` holds strings."""
        entries = [self.lookup(k) for k in keys]
        return (np.array([e.idf for e in entries], dtype=np.float64),
                np.array([e.source for e in entries], dtype=object))

    def describe(self) -> dict[str, object]:
        """Provenance for reports: unit, corpus, document count, mean length, fallback."""
        return {"unit": self.unit, "corpus": self.corpus, "n_docs": self.n_docs,
                "mean_doc_len": round(self.mean_doc_len, 3), "keys": len(self.df), "fallback": self.fallback,
                "formula": "ln(1 + (N - df + 0.5) / (df + 0.5))"}


def _table(unit: Literal["word", "wordpiece"], tokenised: list[list[str]], corpus: str,
           fallback: bool, marker: str = "") -> IdfTable:
    if not tokenised:
        raise ValueError(f"an IDF table needs at least one document (corpus {corpus!r} has none)")
    df: Counter[str] = Counter()
    for tokens in tokenised:
        df.update(set(tokens))
    mean_len = sum(len(t) for t in tokenised) / len(tokenised)
    return IdfTable(unit, len(tokenised), mean_len, dict(sorted(df.items())), corpus,
                    wordfreq_source() if fallback else None, marker)


def word_idf_table(docs: Mapping[str, str], *, corpus: str, fallback: bool = True) -> IdfTable:
    """Per-word IDF over ``docs`` (lower-cased ``\\w+`` words, as :func:`circuits.bm25.words`)."""
    return _table("word", [words(text) for text in docs.values()], corpus, fallback)


def wordpiece_idf_table(docs: Mapping[str, str], tokenizer: PreTrainedTokenizerBase, *, corpus: str,
                        fallback: bool = True) -> IdfTable:
    """Per-wordpiece IDF over ``docs`` tokenised by ``tokenizer`` (no special tokens, no truncation).

    Keys are token strings (``tokenizer.convert_ids_to_tokens``); :meth:`IdfTable.vector` over
    ``tokenizer.convert_ids_to_tokens(range(len(tokenizer)))`` gives one value per vocabulary id.
    """
    texts = list(docs.values())
    ids = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"] if texts else []
    return _table("wordpiece", [tokenizer.convert_ids_to_tokens(row) for row in ids], corpus, fallback,
                  word_start(tokenizer))
