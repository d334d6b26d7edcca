"""TFC1 / STMC1 / TFC2 / LNC1 diagnostic pairs (Lu, Chen, Eickhoff, Table 1): the generators.

Their records live in :mod:`axiomtests.records`, text and tokenizer checks in :mod:`axiomtests.text` and
:mod:`axiomtests.tokens`, STMC1's synonyms in :mod:`axiomtests.synonyms` and the validator in
:mod:`axiomtests.validation`; this module re-exports them, so ``perturb`` stays the one import of the datasets.

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
from typing import TYPE_CHECKING, Any

import numpy as np

from axiomtests.records import AXIOMS, DEFAULT_FILLER, BasePair, Filler, NotApplicable, Pair
from axiomtests.synonyms import Candidate, ReferenceEmbedding, synonym_candidates
from axiomtests.text import (SENTENCE_END, appended, cut_at_sentence, query_terms, shares_query_term, split_sentences,
                             term_count, term_pattern, word_count)
from axiomtests.tokens import (checked_count, eligible_terms, encode, filler_token, pieces, single_piece_id,
                               token_term_count)
from axiomtests.validation import pair_problems, validate_pair
from axiomtests.wordlists import WordNet, wordnet

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from axiomtests.corpus import Corpus

__all__ = [
    "GENERATOR_VERSION", "AXIOMS", "DEFAULT_FILLER", "TFC2_VARIANTS", "NotApplicable", "BasePair", "Filler", "Pair",
    "Candidate", "ReferenceEmbedding", "filler_token", "split_sentences", "cut_at_sentence", "base_set", "query_terms",
    "eligible_terms", "term_count", "token_term_count", "synonym_candidates", "tfc1_pair", "stmc1_pair",
    "tfc2_window", "tfc2_pronoun", "tfc2_pairs", "tfc2_word_chain", "irrelevant_sentences", "lnc1_pairs",
    "filler_control", "random_word_pair", "random_word_pairs",
    "pair_problems",
    "validate_pair",
]

# Bump whenever a generator's output changes: older built files become stale. 2: STMC1 takes WordNet synonyms
# only (1: hypernyms and other related lemmas too).
GENERATOR_VERSION = "2"
TFC2_VARIANTS = ("pronoun", "appended")
MAX_CANDIDATES_RECORDED = 20


# --------------------------------------------------------------------------- base set

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


# --------------------------------------------------------------------------- alignment


def _aligned(tokenizer: PreTrainedTokenizerBase, *, pair_id: str, axiom: str, variant: str, base: BasePair,
             document: str, perturbed: str, term: str, inserted: str, stratum: str, levels: tuple[int, int],
             tfs: tuple[int | None, int | None], filler: str, details: dict[str, Any]) -> Pair:
    token, token_id = filler_token(tokenizer, filler)
    len_doc = len(encode(tokenizer, base.query, document).ids)
    len_perturbed = len(encode(tokenizer, base.query, perturbed).ids)
    count = len_perturbed - len_doc
    if count < 0:
        raise NotApplicable("shorter", f"the perturbed input is {-count} tokens shorter than the baseline")
    if len_perturbed > tokenizer.model_max_length:
        raise NotApplicable("too_long", f"{len_perturbed} tokens exceed the tokenizer's {tokenizer.model_max_length}")
    baseline = document + filler * count
    len_baseline = len(encode(tokenizer, base.query, baseline).ids)
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
    single_piece_id(tokenizer, term)
    perturbed = appended(base.document, term)
    tf = checked_count(tokenizer, base.query, base.document, term)
    if checked_count(tokenizer, base.query, perturbed, term) != tf + 1:
        raise NotApplicable("count_changed", f"appending {term!r} does not add exactly one occurrence")
    return _aligned(tokenizer, pair_id=f"TFC1/{base.query_id}/{base.doc_id}", axiom="TFC1", variant="", base=base,
                    document=base.document, perturbed=perturbed, term=term, inserted=term,
                    stratum="0->1" if tf == 0 else "k->k+1", levels=(tf, tf + 1), tfs=(tf, tf + 1),
                    filler=filler, details=dict(details or {}))


def stmc1_pair(base: BasePair, term: str, candidates: Sequence[Candidate], *,
               tokenizer: PreTrainedTokenizerBase, filler: str = DEFAULT_FILLER,
               details: Mapping[str, Any] | None = None) -> Pair:
    """STMC1: append the best of ``candidates`` (from :func:`synonym_candidates`) for the query ``term``.

    The term's count must not change; the stratum says whether the document already had the term.
    """
    if not candidates:
        raise NotApplicable("no_candidate", f"no WordNet candidate for {term!r}")
    best = candidates[0]
    perturbed = appended(base.document, best.word)
    tf = checked_count(tokenizer, base.query, base.document, term)
    if checked_count(tokenizer, base.query, perturbed, term) != tf:
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
    lengths = [word_count(s) for s in sentences]
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

    return term_pattern(term).sub(substitute, text)


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
    single_piece_id(tokenizer, term)
    if len(pieces(tokenizer, pronoun)) != 1 or term_count(pronoun, term):
        raise ValueError(f"pronoun {pronoun!r} must be one token and differ from the term")
    window = tfc2_window(base.passage, term, levels=levels, max_words=max_words)
    if window is None:
        raise NotApplicable("no_window",
                            f"no run of sentences with {levels} occurrences of {term!r} in {max_words} words")
    checked_count(tokenizer, base.query, window, term)
    if variant == "pronoun":
        texts = [_keep_first(window, term, k, pronoun) for k in range(levels + 1)]
    else:
        plain = _keep_first(window, term, 0, pronoun)
        texts = [plain + f" {term}" * k + filler * (levels - k) for k in range(levels + 1)]
    info = {**(details or {}), "pronoun": pronoun, "window_words": word_count(window), "levels": levels}
    if variant == "appended":
        info["length_filler_count"] = levels
    pairs = []
    for k in range(levels):
        if [checked_count(tokenizer, base.query, texts[j], term) for j in (k, k + 1)] != [k, k + 1]:
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
            if (min_words <= word_count(sentence) <= max_words and SENTENCE_END.search(sentence)
                    and not shares_query_term(query, sentence)):
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
        if shares_query_term(base.query, sentence):
            raise NotApplicable("shares_query_term",
                                f"the sentence from {doc_id} shares a query term with {base.query!r}")
    texts = [base.document]
    for _, sentence in sentences:
        texts.append(appended(texts[-1], sentence))
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


def random_word_pair(pair: Pair, tokenizer: PreTrainedTokenizerBase, words: Sequence[str], order: Iterable[int]
                     ) -> Pair | None:
    """The control of a TFC1 or STMC1 ``pair``: its document with a word appended instead of the term, the first of
    ``words`` (taken in ``order``) that is in neither the query nor the document and has as many pieces as the
    inserted word, so that both documents have the same length and the padded baseline stays aligned; None
    when no such word comes up."""
    from dataclasses import replace

    from circuits.bm25 import words as words_of

    taken = set(words_of(pair.query)) | set(words_of(pair.document))
    for index in order:
        word = words[int(index)]
        if word not in taken and len(pieces(tokenizer, word)) == pair.filler.count:
            return replace(pair, id=f"RANDOM/{pair.id}", axiom="RANDOM", perturbed=appended(pair.document, word),
                           inserted=word, term=word)
    return None


def random_word_pairs(pairs: Sequence[Pair], tokenizer: PreTrainedTokenizerBase, words: Sequence[str], seed: int
                      ) -> list[Pair]:
    """:func:`random_word_pair` of each of ``pairs``, each trying 50 of ``words`` in a seeded order of its own; pairs
    without such a word are left out."""
    rng = np.random.default_rng(seed)
    out = [random_word_pair(pair, tokenizer, words, rng.permutation(len(words))[:50]) for pair in pairs]
    return [c for c in out if c is not None]
