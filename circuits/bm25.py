"""Lexical BM25 (Robertson / Lucene form) over pre-tokenised text, with per-query-term contributions.

For query terms ``t`` (each query position counts, as Lucene's clauses do) and a document ``d`` of
length ``|d|`` tokens::

    score(q, d) = sum_t idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

with ``N``, ``df`` and ``avgdl`` taken from a given collection. Tokens can be words, stems or wordpieces.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nltk.stem.porter import PorterStemmer

# NLTK's English stopword list (179 words), inlined because nltk ships its corpora separately.
ENGLISH_STOPWORDS = frozenset("""
a about above after again against ain all am an and any are aren aren't as at be because been before
being below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don
don't down during each few for from further had hadn hadn't has hasn hasn't have haven haven't having he
her here hers herself him himself his how i if in into is isn isn't it it's its itself just ll m ma me
mightn mightn't more most mustn mustn't my myself needn needn't no nor not now o of off on once only or
other our ours ourselves out over own re s same shan shan't she she's should should've shouldn shouldn't
so some such t than that that'll the their theirs them themselves then there these they this those
through to too under until up ve very was wasn wasn't we were weren weren't what when where which while
who whom why will with won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself
yourselves
""".split())
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased ``\\w+`` word tokens."""
    return _WORD.findall(text.lower())


@lru_cache(maxsize=1)
def _stemmer() -> PorterStemmer:  # nltk is imported lazily: its import is slow
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    return _stemmer().stem(word)


def analyze(text: str) -> list[str]:
    """Lucene-English-like analysis: lower-cased words, stopwords dropped, Porter-stemmed."""
    return [_stem(w) for w in words(text) if w not in ENGLISH_STOPWORDS]


def _check_params(k1: float, b: float) -> None:
    if k1 < 0 or not 0.0 <= b <= 1.0:
        raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")


class BM25:
    """BM25 scorer whose document frequencies and average length come from ``collection``."""

    def __init__(self, collection: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        _check_params(k1, b)
        self.k1 = float(k1)
        self.b = float(b)
        self.df: Counter[str] = Counter()
        total = 0
        self.n_docs = 0
        for doc in collection:
            self.df.update(set(doc))
            total += len(doc)
            self.n_docs += 1
        if self.n_docs == 0:
            raise ValueError("BM25 needs a non-empty collection")
        self.avgdl = total / self.n_docs

    def with_params(self, k1: float, b: float) -> BM25:
        """The same collection statistics with other ``k1``, ``b`` (no re-counting)."""
        _check_params(k1, b)
        clone = object.__new__(BM25)
        clone.__dict__.update(self.__dict__, k1=float(k1), b=float(b))
        return clone

    def idf(self, terms: Sequence[str]) -> np.ndarray:
        """Lucene's always-positive idf of each term (unseen terms get the largest value)."""
        df = np.array([self.df.get(t, 0) for t in terms], dtype=np.float64)
        return np.log1p((self.n_docs - df + 0.5) / (df + 0.5))

    def tf_weight(self, tf: np.ndarray | float, doc_len: np.ndarray | float) -> np.ndarray:
        """The saturating, length-normalised term-frequency factor (0 when ``tf`` is 0)."""
        tf = np.asarray(tf, dtype=np.float64)
        norm = self.k1 * (1.0 - self.b + self.b * np.asarray(doc_len, dtype=np.float64) / self.avgdl)
        return tf * (self.k1 + 1.0) / (tf + norm)

    def contributions(self, query: Sequence[str], doc: Sequence[str]) -> np.ndarray:
        """Per query position: ``idf(t) * tf_weight(tf(t, d), |d|)``; they sum to :meth:`score`."""
        counts = Counter(doc)
        tf = np.array([counts.get(t, 0) for t in query], dtype=np.float64)
        return self.idf(query) * self.tf_weight(tf, len(doc))

    def score(self, query: Sequence[str], doc: Sequence[str]) -> float:
        """BM25 score of one document."""
        return float(self.contributions(query, doc).sum())

    def scores(self, query: Sequence[str], docs: Sequence[Sequence[str]]) -> np.ndarray:
        """BM25 scores of several documents, shape ``[len(docs)]``."""
        return np.array([self.score(query, doc) for doc in docs], dtype=np.float64)
