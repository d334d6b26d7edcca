"""STMC1's near-synonyms: WordNet candidates for a query term, ranked by a fixed reference embedding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from axiomtests.text import query_terms
from axiomtests.tokens import pieces
from axiomtests.wordlists import STOPWORDS, WordNet, is_inflection, lexically_related, wordnet
from circuits.errors import DatasetError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Candidate:
    """A near-synonym of a query term: WordNet ``relation``, reference ``cosine``, ``pieces`` in the tokenizer."""

    word: str
    relation: str
    cosine: float
    pieces: int


class ReferenceEmbedding:
    """A fixed word-embedding matrix for ranking STMC1 candidates, independent of the model under test.

    The default is the input word-embedding matrix (``embeddings.word_embeddings.weight``, 30,522 x 384)
    of the base all-MiniLM-L6-v2 checkpoint (:func:`axiomtests.sources.base_model_dir`), read with
    safetensors. A word's vector is the mean of its wordpiece rows.
    """

    TENSOR_NAMES = ("embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight")

    def __init__(self, matrix: np.ndarray, tokenizer: PreTrainedTokenizerBase, description: dict[str, str]) -> None:
        if matrix.ndim != 2 or matrix.shape[0] < len(tokenizer):
            raise ValueError(f"embedding matrix of shape {matrix.shape} does not cover the "
                             f"{len(tokenizer)}-token vocabulary of its tokenizer")
        self.matrix = matrix.astype(np.float64)
        self.tokenizer = tokenizer
        self.description = dict(description)
        self._vectors: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"ReferenceEmbedding({self.description['name']}, shape={self.matrix.shape})"

    @classmethod
    def load(cls, model_dir: str | Path | None = None) -> ReferenceEmbedding:
        """The word embeddings of ``model_dir`` (default: the base all-MiniLM-L6-v2 folder)."""
        from safetensors import safe_open
        from transformers import AutoTokenizer

        from axiomtests.sources import sha256_file

        if model_dir is None:
            from axiomtests.sources import base_model_dir

            model_dir = base_model_dir()
        path = Path(model_dir) / "model.safetensors"
        if not path.exists():
            raise DatasetError(f"no model.safetensors in {model_dir}; the reference embedding needs a "
                               f"safetensors checkpoint folder (default: the base all-MiniLM-L6-v2)")
        with safe_open(str(path), "np") as weights:
            name = next((n for n in cls.TENSOR_NAMES if n in weights.keys()), None)
            if name is None:
                raise DatasetError(f"{path} has none of the tensors {cls.TENSOR_NAMES}; "
                                   f"point the reference at a BERT-family checkpoint")
            matrix = weights.get_tensor(name)
        description = {"name": f"{Path(model_dir).name}:{name}", "tensor": name, "file": "model.safetensors",
                       "sha256": sha256_file(path), "shape": "x".join(map(str, matrix.shape))}
        return cls(matrix, AutoTokenizer.from_pretrained(str(model_dir)), description)

    def vector(self, word: str) -> np.ndarray:
        """The mean of ``word``'s wordpiece rows (cached per word)."""
        if word not in self._vectors:
            ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            self._vectors[word] = self.matrix[ids].mean(axis=0)
        return self._vectors[word]

    def cosine(self, a: str, b: str) -> float:
        """Cosine similarity of two words' vectors."""
        u, v = self.vector(a), self.vector(b)
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def synonym_candidates(term: str, *, query: str, tokenizer: PreTrainedTokenizerBase,
                       reference: ReferenceEmbedding, wn: WordNet | None = None) -> list[Candidate]:
    """STMC1 candidates for ``term``, best first: WordNet synonyms and related lemmas (similar-to,
    also-see, derivation, pertainym, hypernym) that are one alphabetic word, not a stopword, not the term,
    an inflection of it or a visible stem-sharer ("traumatic"), and not an inflection of any query term.

    Ranked single-piece first (in ``tokenizer``), then by cosine to ``term`` in ``reference``, then by word.
    """
    wn = wn or wordnet()
    terms = query_terms(query)
    out: list[Candidate] = []
    for word, relation in wn.related(term).items():
        if not (word.isascii() and word.isalpha() and len(word) >= 2) or word in STOPWORDS:
            continue
        if lexically_related(term, word) or any(is_inflection(word, t) for t in terms):
            continue
        out.append(Candidate(word, relation, round(reference.cosine(term, word), 6),
                             len(pieces(tokenizer, word))))
    return sorted(out, key=lambda c: (c.pieces > 1, -c.cosine, c.word))
