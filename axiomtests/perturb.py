"""TFC1 / STMC1 / TFC2 / LNC1 diagnostic pairs (Lu, Chen, Eickhoff, Table 1): pure generators and a validator.

Every generator takes a :class:`BasePair` (a query with one passage cut at a sentence boundary to MS MARCO
v1 length) and returns :class:`Pair` records whose baseline and perturbed inputs have the same token
length: the baseline document is padded with a filler (``" a"`` by default, as in the paper's code)
before the final ``[SEP]``, and the filler, its count and its token position are recorded.

Nothing here draws random numbers: selection (which query, which term, which document) is the caller's,
by a seeded rule (:mod:`axiomtests.diagnostics`) or by Hypothesis (:mod:`axiomtests.strategies`).
A base pair that cannot be perturbed as asked raises :class:`NotApplicable` with the reason.

Occurrences of a term are counted twice and must agree: as words (case-insensitive, bounded by anything
but letters, digits, ``_`` and apostrophes, so ``"trauma's"`` and ``"traumas"`` are not ``"trauma"``) and
as tokens (positions of the document segment whose id is the term's single-piece id). A document where
the two counts differ (e.g. ``"traumas"`` tokenised as ``trauma ##s``) is not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from circuits.bm25 import words
from circuits.errors import DatasetError
from axiomtests.wordlists import STOPWORDS, WordNet, is_inflection, lexically_related, light_stem, wordnet

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from axiomtests.corpus import Corpus

__all__ = [
    "GENERATOR_VERSION", "AXIOMS", "DEFAULT_FILLER", "TFC2_VARIANTS", "NotApplicable", "BasePair", "Filler", "Pair",
    "Candidate", "ReferenceEmbedding", "filler_token", "split_sentences", "cut_at_sentence", "base_set", "query_terms",
    "eligible_terms", "term_count", "token_term_count", "synonym_candidates", "tfc1_pair", "stmc1_pair",
    "tfc2_window", "tfc2_pronoun", "tfc2_pairs", "tfc2_word_chain", "irrelevant_sentences", "lnc1_pairs",
    "filler_control",
    "pair_problems",
    "validate_pair",
]

GENERATOR_VERSION = "1"  # bump whenever a generator's output changes: older built files become stale
AXIOMS = ("TFC1", "STMC1", "TFC2", "LNC1", "FILLER")
DEFAULT_FILLER = " a"
TFC2_VARIANTS = ("pronoun", "appended")
MAX_CANDIDATES_RECORDED = 20

_ABBREVIATIONS = frozenset("mr mrs ms dr prof st jr sr vs etc inc ltd co corp no fig e.g i.e u.s u.k a.m p.m "
                           "approx dept est jan feb mar apr jun jul aug sep sept oct nov dec".split())
_BOUNDARY = re.compile(r"([.!?]+[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")


class NotApplicable(ValueError):
    """This base pair cannot be perturbed as asked: ``kind`` names the reason (builders count skips by
    it), the message gives the details."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class BasePair:
    """A query and one of its passages, cut at a sentence boundary (``document``); ``passage`` is uncut."""

    query_id: str
    doc_id: str
    query: str
    document: str
    passage: str
    relevance: int = 0


@dataclass(frozen=True)
class Filler:
    """The padding that aligns a baseline with its perturbed input.

    ``text`` (e.g. ``" a"``) was appended ``count`` times to the document; it tokenises to ``token``
    (id ``token_id``), and the first filler token sits at input position ``position`` (just before the
    final separator; ``-1`` when ``count`` is 0).
    """

    text: str
    token: str
    token_id: int
    count: int
    position: int


@dataclass(frozen=True)
class Pair:
    """One aligned (baseline, perturbed) example.

    ``document`` is the baseline before padding and ``baseline`` the padded text that is scored and patched.
    ``level_baseline``/``level_perturbed`` are the axiom's dose: the term count (TFC1, TFC2), the synonym
    count (STMC1), the number of appended sentences (LNC1) or of fillers (FILLER). ``tf_*`` count the
    selected query ``term`` (``None`` where there is none). ``baseline_len``/``perturbed_len`` are token
    lengths of the full (query, document) input, special tokens included.
    """

    id: str
    axiom: str
    variant: str
    query_id: str
    doc_id: str
    query: str
    document: str
    baseline: str
    perturbed: str
    term: str
    inserted: str
    stratum: str
    level_baseline: int
    level_perturbed: int
    tf_baseline: int | None
    tf_perturbed: int | None
    filler: Filler
    baseline_len: int
    perturbed_len: int
    details: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``filler`` nested)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pair:
        """The inverse of :meth:`to_json`; raises ``KeyError``/``TypeError`` on a malformed record."""
        return cls(**{**data, "filler": Filler(**data["filler"])})


# --------------------------------------------------------------------------- text utilities

def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: each line break ends one, and so does ``.``/``!``/``?`` (plus closing quotes
    or brackets) followed by space and a capital or digit, unless the period ends a known abbreviation
    or a single-letter initial. Whitespace inside a sentence is collapsed.

    Examples
    --------
    >>> split_sentences("Dr. Who met J. Smith in the U.S. Army. It rained!\\nA list item")
    ['Dr. Who met J. Smith in the U.S. Army.', 'It rained!', 'A list item']
    """
    out: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        start = 0
        for match in _BOUNDARY.finditer(line):
            before = line[start:match.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            if match.group(1) == "." and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
                continue
            out.append(line[start:match.end(1)])
            start = match.end()
        if line[start:]:
            out.append(line[start:])
    return out


def _n_words(text: str) -> int:
    return len(text.split())


def cut_at_sentence(text: str, *, min_words: int = 40, max_words: int = 100) -> str | None:
    """The shortest run of leading sentences with at least ``min_words`` words that ends a sentence
    (``.``, ``!`` or ``?``), or ``None`` if there is none within ``max_words`` words.

    The defaults give MS MARCO v1 passage lengths (40 to 100 words; most cuts land near 50).
    """
    sentences = split_sentences(text)
    total = 0
    for i, sentence in enumerate(sentences):
        total += _n_words(sentence)
        if total > max_words:
            return None
        if total >= min_words and _SENTENCE_END.search(sentence):
            return " ".join(sentences[: i + 1])
    return None


def base_set(corpus: Corpus, *, min_words: int = 40, max_words: int = 100) -> list[BasePair]:
    """Every query (sorted by id) with each of its retrieved passages (in rank order) that
    :func:`cut_at_sentence` can cut; a query without a retrieved list uses its judged passages (sorted).

    No model score is looked at.
    """
    out: list[BasePair] = []
    for query_id in sorted(corpus.queries):
        labels = corpus.qrels.get(query_id, {})
        doc_ids = corpus.retrieved.get(query_id) or sorted(labels)
        for doc_id in dict.fromkeys(doc_ids):
            passage = corpus.docs.get(doc_id)
            if passage is None:
                continue
            document = cut_at_sentence(passage, min_words=min_words, max_words=max_words)
            if document is not None:
                out.append(BasePair(query_id, doc_id, corpus.queries[query_id], document, passage,
                                    int(labels.get(doc_id, 0))))
    return out


def query_terms(query: str) -> list[str]:
    """The query's words (lower-cased ``\\w+``) that are not stopwords, unique, in order of appearance."""
    return [w for w in dict.fromkeys(words(query)) if w not in STOPWORDS]


@lru_cache(maxsize=1 << 16)
def _piece_ids(tokenizer: PreTrainedTokenizerBase, word: str) -> tuple[int, ...]:
    return tuple(tokenizer(" " + word, add_special_tokens=False)["input_ids"])


def _pieces(tokenizer: PreTrainedTokenizerBase, word: str) -> list[int]:
    """Token ids of ``word`` as it appears inside a text (after a space)."""
    return list(_piece_ids(tokenizer, word))


def eligible_terms(query: str, tokenizer: PreTrainedTokenizerBase) -> tuple[list[str], dict[str, str]]:
    """Query terms a TFC1 perturbation may append, and the others with the reason they were skipped.

    A term is eligible when it is alphabetic, has two letters or more, is not a stopword, and is a single
    token of ``tokenizer``; multi-piece words are skipped explicitly (``{"coped": "multi-piece: co ##ped"}``).
    """
    eligible: list[str] = []
    skipped: dict[str, str] = {}
    for term in query_terms(query):
        if not term.isascii() or not term.isalpha() or len(term) < 2:
            skipped[term] = "not an alphabetic word of two letters or more"
            continue
        ids = _pieces(tokenizer, term)
        if len(ids) != 1:
            skipped[term] = "multi-piece: " + " ".join(tokenizer.convert_ids_to_tokens(ids))
            continue
        eligible.append(term)
    return eligible, skipped


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'’]){re.escape(term)}(?![\w'’])", re.IGNORECASE)


def term_count(text: str, term: str) -> int:
    """Word-bounded, case-insensitive occurrences of ``term`` (letters, digits, ``_`` and apostrophes
    bound a word, so ``"trauma's"`` does not count as ``"trauma"``)."""
    return len(_term_pattern(term).findall(text))


@dataclass(frozen=True)
class _Encoding:
    ids: list[int]
    offsets: list[tuple[int, int]]
    segments: list[int | None]

    def doc_positions(self) -> list[int]:
        return [i for i, s in enumerate(self.segments) if s == 1]


@lru_cache(maxsize=1 << 13)
def _encode(tokenizer: PreTrainedTokenizerBase, query: str, document: str) -> _Encoding:
    """The (query, document) input; cached, so callers must not modify the lists."""
    enc = tokenizer(query, document, return_offsets_mapping=True, truncation=False, verbose=False)
    return _Encoding(list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]], enc.sequence_ids())


def _term_id(tokenizer: PreTrainedTokenizerBase, term: str) -> int:
    ids = _pieces(tokenizer, term)
    if len(ids) != 1:
        raise NotApplicable("multi_piece", f"term {term!r} is not a single token of this tokenizer")
    return ids[0]


def token_term_count(tokenizer: PreTrainedTokenizerBase, query: str, document: str, term: str) -> int:
    """Positions of the document segment of the (query, document) input whose token is ``term``'s single piece."""
    enc = _encode(tokenizer, query, document)
    term_id = _term_id(tokenizer, term)
    return sum(enc.ids[i] == term_id for i in enc.doc_positions())


def _counts(tokenizer: PreTrainedTokenizerBase, query: str, text: str, term: str) -> int:
    """The term's count in ``text``; :class:`NotApplicable` if word and token counts disagree."""
    by_words = term_count(text, term)
    by_tokens = token_term_count(tokenizer, query, text, term)
    if by_words != by_tokens:
        raise NotApplicable("count_mismatch", f"{term!r} occurs {by_words}x as a word but {by_tokens}x as a token "
                            f"(an inflected or possessive form shares its token)")
    return by_words


# --------------------------------------------------------------------------- alignment

def filler_token(tokenizer: PreTrainedTokenizerBase, text: str) -> tuple[str, int]:
    """The token and id of ``text`` (e.g. ``" a"``); ``ValueError`` unless it is a space and one token."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1 or not text.startswith(" ") or not text.strip():
        raise ValueError(f"filler {text!r} must be a space followed by text that is exactly one token "
                         f"(it gives {len(ids)}); use e.g. {DEFAULT_FILLER!r}")
    return tokenizer.convert_ids_to_tokens(ids)[0], ids[0]


def _aligned(tokenizer: PreTrainedTokenizerBase, *, pair_id: str, axiom: str, variant: str, base: BasePair,
             document: str, perturbed: str, term: str, inserted: str, stratum: str, levels: tuple[int, int],
             tfs: tuple[int | None, int | None], filler: str, details: dict[str, Any]) -> Pair:
    token, token_id = filler_token(tokenizer, filler)
    len_doc = len(_encode(tokenizer, base.query, document).ids)
    len_perturbed = len(_encode(tokenizer, base.query, perturbed).ids)
    count = len_perturbed - len_doc
    if count < 0:
        raise NotApplicable("shorter", f"the perturbed input is {-count} tokens shorter than the baseline")
    if len_perturbed > tokenizer.model_max_length:
        raise NotApplicable("too_long", f"{len_perturbed} tokens exceed the tokenizer's {tokenizer.model_max_length}")
    baseline = document + filler * count
    len_baseline = len(_encode(tokenizer, base.query, baseline).ids)
    if len_baseline != len_perturbed:
        raise NotApplicable("misaligned",
                            f"padding with {count} x {filler!r} gives {len_baseline} tokens, not {len_perturbed}")
    return Pair(pair_id, axiom, variant, base.query_id, base.doc_id, base.query, document, baseline, perturbed,
                term, inserted, stratum, levels[0], levels[1], tfs[0], tfs[1],
                Filler(filler, token, token_id, count, len_doc - 1 if count else -1),
                len_baseline, len_perturbed, details)


# --------------------------------------------------------------------------- TFC1 and STMC1

def tfc1_pair(base: BasePair, term: str, *, tokenizer: PreTrainedTokenizerBase, filler: str = DEFAULT_FILLER,
              details: Mapping[str, Any] | None = None) -> Pair:
    """TFC1: append one more occurrence of the query ``term`` to the document.

    The stratum is ``"0->1"`` when the document lacks the term and ``"k->k+1"`` otherwise.

    Examples
    --------
    >>> pair = tfc1_pair(base, "trauma", tokenizer=tokenizer)          # doctest: +SKIP
    >>> pair.perturbed == pair.document + " trauma", pair.baseline == pair.document + " a"  # doctest: +SKIP
    (True, True)
    """
    if term not in query_terms(base.query):
        raise NotApplicable("not_query_term", f"{term!r} is not a query term of {base.query!r}")
    _term_id(tokenizer, term)
    perturbed = f"{base.document} {term}"
    tf = _counts(tokenizer, base.query, base.document, term)
    if _counts(tokenizer, base.query, perturbed, term) != tf + 1:
        raise NotApplicable("count_changed", f"appending {term!r} does not add exactly one occurrence")
    return _aligned(tokenizer, pair_id=f"TFC1/{base.query_id}/{base.doc_id}", axiom="TFC1", variant="", base=base,
                    document=base.document, perturbed=perturbed, term=term, inserted=term,
                    stratum="0->1" if tf == 0 else "k->k+1", levels=(tf, tf + 1), tfs=(tf, tf + 1),
                    filler=filler, details=dict(details or {}))


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
                             len(_pieces(tokenizer, word))))
    return sorted(out, key=lambda c: (c.pieces > 1, -c.cosine, c.word))


def stmc1_pair(base: BasePair, term: str, candidates: Sequence[Candidate], *,
               tokenizer: PreTrainedTokenizerBase, filler: str = DEFAULT_FILLER,
               details: Mapping[str, Any] | None = None) -> Pair:
    """STMC1: append the best of ``candidates`` (from :func:`synonym_candidates`) for the query ``term``.

    The term's count must not change; the stratum says whether the document already had the term.
    """
    if not candidates:
        raise NotApplicable("no_candidate", f"no WordNet candidate for {term!r}")
    best = candidates[0]
    perturbed = f"{base.document} {best.word}"
    tf = _counts(tokenizer, base.query, base.document, term)
    if _counts(tokenizer, base.query, perturbed, term) != tf:
        raise NotApplicable("count_changed", f"appending {best.word!r} changes the count of {term!r}")
    synonym_tf = term_count(base.document, best.word)
    info = {**(details or {}), "synonym": best.word, "relation": best.relation, "cosine": best.cosine,
            "synonym_pieces": best.pieces, "n_candidates": len(candidates),
            "candidates": [[c.word, c.relation, c.cosine, c.pieces] for c in candidates[:MAX_CANDIDATES_RECORDED]]}
    return _aligned(tokenizer, pair_id=f"STMC1/{base.query_id}/{base.doc_id}", axiom="STMC1", variant="", base=base,
                    document=base.document, perturbed=perturbed, term=term, inserted=best.word,
                    stratum="tf=0" if tf == 0 else "tf>=1", levels=(synonym_tf, synonym_tf + 1), tfs=(tf, tf),
                    filler=filler, details=info)


# --------------------------------------------------------------------------- TFC2

def tfc2_window(passage: str, term: str, *, levels: int = 5, max_words: int = 150) -> str | None:
    """The shortest run of consecutive sentences of ``passage`` with at least ``levels`` occurrences of
    ``term`` and at most ``max_words`` words (earliest on ties), or ``None``."""
    sentences = split_sentences(passage)
    counts = [term_count(s, term) for s in sentences]
    lengths = [_n_words(s) for s in sentences]
    best: tuple[int, int, int] | None = None
    for i in range(len(sentences)):
        total = n_words = 0
        for j in range(i, len(sentences)):
            total += counts[j]
            n_words += lengths[j]
            if n_words > max_words:
                break
            if total >= levels:
                if best is None or n_words < best[0]:
                    best = (n_words, i, j)
                break
    return None if best is None else " ".join(sentences[best[1]: best[2] + 1])


def _keep_first(text: str, term: str, keep: int, pronoun: str) -> str:
    """``text`` with every occurrence of ``term`` after the first ``keep`` replaced by ``pronoun``
    (capitalised where the term was); word-bounded regex, never ``str.replace``."""
    seen = 0

    def substitute(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        if seen <= keep:
            return match.group(0)
        return pronoun.capitalize() if match.group(0)[0].isupper() else pronoun

    return _term_pattern(term).sub(substitute, text)


def tfc2_pairs(base: BasePair, term: str, *, tokenizer: PreTrainedTokenizerBase, variant: str = "pronoun",
               pronoun: str = "it", levels: int = 5, max_words: int = 150, filler: str = DEFAULT_FILLER,
               details: Mapping[str, Any] | None = None) -> list[Pair]:
    """TFC2: documents with exactly k = 0..``levels`` occurrences of ``term``, as ``levels`` pairs (k -> k+1).

    The source is :func:`tfc2_window` of the uncut passage. ``variant="pronoun"`` (the paper's design)
    keeps the first k occurrences and replaces the others by ``pronoun``; ``variant="appended"`` (length
    controlled, as van Marken et al.) takes the k = 0 text and appends k times the term and ``levels - k``
    times the filler, so every k has the same token length.
    """
    if variant not in TFC2_VARIANTS:
        raise ValueError(f"variant must be one of {TFC2_VARIANTS}, got {variant!r}")
    if term not in query_terms(base.query):
        raise NotApplicable("not_query_term", f"{term!r} is not a query term of {base.query!r}")
    _term_id(tokenizer, term)
    if len(_pieces(tokenizer, pronoun)) != 1 or term_count(pronoun, term):
        raise ValueError(f"pronoun {pronoun!r} must be one token and differ from the term")
    window = tfc2_window(base.passage, term, levels=levels, max_words=max_words)
    if window is None:
        raise NotApplicable("no_window",
                            f"no run of sentences with {levels} occurrences of {term!r} in {max_words} words")
    _counts(tokenizer, base.query, window, term)
    if variant == "pronoun":
        texts = [_keep_first(window, term, k, pronoun) for k in range(levels + 1)]
    else:
        plain = _keep_first(window, term, 0, pronoun)
        texts = [plain + f" {term}" * k + filler * (levels - k) for k in range(levels + 1)]
    info = {**(details or {}), "pronoun": pronoun, "window_words": _n_words(window), "levels": levels}
    if variant == "appended":
        info["length_filler_count"] = levels
    pairs = []
    for k in range(levels):
        if [_counts(tokenizer, base.query, texts[j], term) for j in (k, k + 1)] != [k, k + 1]:
            raise NotApplicable("count_changed", f"the {variant} documents for k={k} do not hold exactly {k} and "
                                f"{k + 1} occurrences of {term!r}")
        pairs.append(_aligned(
            tokenizer, pair_id=f"TFC2/{variant}/{base.query_id}/{base.doc_id}/{k}-{k + 1}", axiom="TFC2",
            variant=variant, base=base, document=texts[k], perturbed=texts[k + 1], term=term, inserted=term,
            stratum=f"{variant}:{k}->{k + 1}", levels=(k, k + 1), tfs=(k, k + 1), filler=filler,
            details=dict(info)))
    return pairs


def tfc2_word_chain(level0: str, *, word: str, filler: str, levels: int) -> list[str]:
    """The control chain of an appended TFC2 chain: its k = 0 text (``plain`` + ``levels`` × ``filler``) with
    ``word`` appended k times in place of the term, for k = 0..``levels`` (same lengths when ``word`` is one
    token, as the term is)."""
    tail = filler * levels
    if not level0.endswith(tail):
        raise ValueError(f"the k = 0 text does not end with {levels} x {filler!r}: not an appended TFC2 chain")
    plain = level0[: len(level0) - len(tail)]
    return [plain + f" {word}" * k + filler * (levels - k) for k in range(levels + 1)]


def tfc2_pronoun(term: str, wn: WordNet | None = None) -> str:
    """The pronoun that stands in for ``term`` in TFC2: ``"they"`` when WordNet's morphy finds a noun base
    form other than the term (a plural: "devices", "women"), else ``"it"``."""
    return "they" if any(form != term for form in (wn or wordnet()).morphy(term, "n")) else "it"


# --------------------------------------------------------------------------- LNC1

def _query_stems(query: str) -> set[str]:
    return {light_stem(t) for t in query_terms(query)}


def _shares_query_term(query: str, text: str) -> bool:
    stems = _query_stems(query)
    return any(light_stem(w) in stems for w in words(text))


def irrelevant_sentences(query: str, pool: Iterable[tuple[str, str]], *, n: int = 5, min_words: int = 6,
                         max_words: int = 30) -> list[tuple[str, str]]:
    """Up to ``n`` ``(doc_id, sentence)`` from ``pool`` passages, in order: whole sentences (ending in
    ``.``, ``!`` or ``?``) of ``min_words`` to ``max_words`` words that contain no query term, neither
    as is nor after lower-casing and :func:`~axiomtests.wordlists.light_stem`.

    ``pool`` must already hold only passages that are not relevant to ``query``.
    """
    out: list[tuple[str, str]] = []
    for doc_id, passage in pool:
        for sentence in split_sentences(passage):
            if (min_words <= _n_words(sentence) <= max_words and _SENTENCE_END.search(sentence)
                    and not _shares_query_term(query, sentence)):
                out.append((doc_id, sentence))
                if len(out) == n:
                    return out
    return out


def lnc1_pairs(base: BasePair, sentences: Sequence[tuple[str, str]], *, tokenizer: PreTrainedTokenizerBase,
               filler: str = DEFAULT_FILLER, details: Mapping[str, Any] | None = None) -> list[Pair]:
    """LNC1: the document with i = 0..len(sentences) irrelevant sentences appended, as pairs (i -> i+1).

    ``sentences`` are ``(doc_id, sentence)`` from :func:`irrelevant_sentences`; each is re-checked here.
    """
    if not sentences:
        raise ValueError("lnc1_pairs needs at least one sentence to append")
    for doc_id, sentence in sentences:
        if _shares_query_term(base.query, sentence):
            raise NotApplicable("shares_query_term",
                                f"the sentence from {doc_id} shares a query term with {base.query!r}")
    texts = [base.document]
    for _, sentence in sentences:
        texts.append(f"{texts[-1]} {sentence}")
    info = {**(details or {}), "sentence_sources": [doc_id for doc_id, _ in sentences], "levels": len(sentences)}
    return [_aligned(tokenizer, pair_id=f"LNC1/{base.query_id}/{base.doc_id}/{i}-{i + 1}", axiom="LNC1", variant="",
                     base=base, document=texts[i], perturbed=texts[i + 1], term="", inserted=sentences[i][1],
                     stratum=f"{i}->{i + 1}", levels=(i, i + 1), tfs=(None, None), filler=filler,
                     details=dict(info))
            for i in range(len(sentences))]


# --------------------------------------------------------------------------- filler control

def filler_control(pair: Pair) -> Pair:
    """The filler-only control of a padded ``pair``: its unpadded document against its padded baseline.

    Its score change is the filler's own effect; the two inputs differ in length by ``filler.count``.
    """
    if pair.filler.count == 0:
        raise NotApplicable("no_filler", f"{pair.id} has no filler padding to control for")
    return Pair(f"FILLER/{pair.id}", "FILLER", "", pair.query_id, pair.doc_id, pair.query, pair.document,
                pair.document, pair.baseline, "", pair.filler.text * pair.filler.count, "filler",
                0, pair.filler.count, None, None, pair.filler, pair.perturbed_len - pair.filler.count,
                pair.baseline_len, {"controls": pair.id})


# --------------------------------------------------------------------------- validation

def pair_problems(pair: Pair, tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Everything wrong with ``pair`` (empty when valid): texts, token lengths, the token-level diff
    between baseline and perturbed input, and exact term counts, as the pair's axiom requires."""
    problems: list[str] = []
    f = pair.filler
    if pair.axiom not in AXIOMS:
        return [f"unknown axiom {pair.axiom!r}"]
    try:
        token, token_id = filler_token(tokenizer, f.text)
    except ValueError as exc:
        return [str(exc)]
    if (token, token_id) != (f.token, f.token_id):
        problems.append(f"filler {f.text!r} is token {token!r} ({token_id}) here, recorded {f.token!r} ({f.token_id})")
    padded = pair.perturbed if pair.axiom == "FILLER" else pair.baseline
    unpadded = pair.baseline if pair.axiom == "FILLER" else pair.document
    if padded != unpadded + f.text * f.count or unpadded != pair.document:
        problems.append("the padded text is not the document followed by the recorded fillers")
    doc = _encode(tokenizer, pair.query, pair.document)
    b = _encode(tokenizer, pair.query, pair.baseline)
    p = _encode(tokenizer, pair.query, pair.perturbed)
    if (len(b.ids), len(p.ids)) != (pair.baseline_len, pair.perturbed_len):
        problems.append(f"token lengths are {len(b.ids)}/{len(p.ids)}, "
                        f"recorded {pair.baseline_len}/{pair.perturbed_len}")
    if max(len(b.ids), len(p.ids)) > tokenizer.model_max_length:
        problems.append(f"the input exceeds the tokenizer's {tokenizer.model_max_length} tokens")
    end = len(doc.ids) - 1  # index of the unpadded input's final separator
    fill_ids = (p if pair.axiom == "FILLER" else b).ids[end: end + f.count]
    if f.count and (f.position != end or fill_ids != [f.token_id] * f.count):
        problems.append(f"fillers are not the {f.count} tokens at position {end} (recorded {f.position})")
    if not f.count and f.position != -1:
        problems.append("a pair without fillers must record position -1")
    if pair.axiom == "FILLER":
        if p.ids[:end] != b.ids[:end] or p.ids[end + f.count:] != b.ids[end:]:
            problems.append("the control differs from its document by more than the fillers")
        return problems
    if len(b.ids) != len(p.ids):
        problems.append(f"baseline has {len(b.ids)} tokens, perturbed {len(p.ids)}: not aligned")
        return problems
    diff = [i for i, (x, y) in enumerate(zip(b.ids, p.ids)) if x != y]
    if not diff:
        problems.append("baseline and perturbed inputs are identical")
    elif any(p.segments[i] != 1 for i in diff):
        problems.append("the inputs differ outside the document segment")
    if pair.axiom in ("TFC1", "STMC1", "LNC1"):
        problems += _append_problems(pair, tokenizer, b, p, end, diff)
    else:
        problems += _tfc2_problems(pair, tokenizer, b, p, diff)
    return problems


def _append_problems(pair: Pair, tokenizer: PreTrainedTokenizerBase, b: _Encoding, p: _Encoding, end: int,
                     diff: list[int]) -> list[str]:
    problems = []
    if pair.perturbed != f"{pair.document} {pair.inserted}":
        problems.append("perturbed is not the document with the inserted text appended")
    if p.ids[:end] != b.ids[:end] or any(i < end or i >= end + pair.filler.count for i in diff):
        problems.append("the token diff is not confined to the appended span before the final separator")
    if p.ids[end: end + pair.filler.count] != _pieces(tokenizer, pair.inserted):
        problems.append("the appended tokens are not the inserted text's tokens")
    if pair.axiom == "LNC1":
        if _shares_query_term(pair.query, pair.inserted):
            problems.append("the appended sentence contains a query term (after light stemming)")
        if pair.level_perturbed != pair.level_baseline + 1:
            problems.append("LNC1 levels must differ by one sentence")
        return problems
    try:
        tfs = (_counts(tokenizer, pair.query, pair.document, pair.term),
               _counts(tokenizer, pair.query, pair.perturbed, pair.term))
    except NotApplicable as exc:
        return [*problems, str(exc)]
    if pair.axiom == "TFC1":
        want = (tfs[0], tfs[0] + 1)
        stratum = "0->1" if tfs[0] == 0 else "k->k+1"
        if pair.inserted != pair.term:
            problems.append("TFC1 must append the term itself")
        levels = tfs
    else:
        want = (tfs[0], tfs[0])
        stratum = "tf=0" if tfs[0] == 0 else "tf>=1"
        if is_inflection(pair.inserted, pair.term) or lexically_related(pair.inserted, pair.term):
            problems.append(f"STMC1 synonym {pair.inserted!r} is the term {pair.term!r} or shares its stem")
        levels = (term_count(pair.document, pair.inserted), term_count(pair.perturbed, pair.inserted))
    if tfs != want or tfs != (pair.tf_baseline, pair.tf_perturbed):
        problems.append(f"term counts are {tfs}, recorded {(pair.tf_baseline, pair.tf_perturbed)}, required {want}")
    if pair.stratum != stratum:
        problems.append(f"stratum is {pair.stratum!r}, the counts say {stratum!r}")
    if levels != (pair.level_baseline, pair.level_perturbed) or levels[1] != levels[0] + 1:
        problems.append(f"levels are {levels}, recorded {(pair.level_baseline, pair.level_perturbed)}")
    return problems


def _tfc2_problems(pair: Pair, tokenizer: PreTrainedTokenizerBase, b: _Encoding, p: _Encoding,
                   diff: list[int]) -> list[str]:
    problems = []
    k = pair.level_baseline
    try:
        tfs = (_counts(tokenizer, pair.query, pair.baseline, pair.term),
               _counts(tokenizer, pair.query, pair.perturbed, pair.term))
    except NotApplicable as exc:
        return [str(exc)]
    if not (tfs == (k, k + 1) == (pair.tf_baseline, pair.tf_perturbed) == (pair.level_baseline, pair.level_perturbed)):
        problems.append(f"term counts are {tfs}, recorded {(pair.tf_baseline, pair.tf_perturbed)}, "
                        f"required {(k, k + 1)}")
    if pair.stratum != f"{pair.variant}:{k}->{k + 1}":
        problems.append(f"stratum {pair.stratum!r} does not match variant {pair.variant!r} and k={k}")
    if not diff or diff != list(range(diff[0], diff[-1] + 1)):
        return [*problems, "the token diff is not one contiguous span"]
    start, stop = b.offsets[diff[0]][0], b.offsets[diff[-1]][1]
    was = pair.baseline[start:stop].lower()
    now = pair.perturbed[p.offsets[diff[0]][0]: p.offsets[diff[-1]][1]].lower()
    expected = pair.details.get("pronoun") if pair.variant == "pronoun" else pair.filler.text.strip()
    if (was, now) != (expected, pair.term):
        problems.append(f"the token diff turns {was!r} into {now!r}, not {expected!r} into {pair.term!r}")
    return problems


def validate_pair(pair: Pair, tokenizer: PreTrainedTokenizerBase) -> None:
    """Raise :class:`~circuits.errors.DatasetError` listing every problem of ``pair`` (see :func:`pair_problems`)."""
    problems = pair_problems(pair, tokenizer)
    if problems:
        raise DatasetError(f"pair {pair.id} is invalid: " + "; ".join(problems)
                           + ". Rebuild the dataset with axiomtests.diagnostics.build_datasets.")
