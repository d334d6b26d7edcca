"""Hypothesis strategies that draw aligned (baseline, perturbed) examples of TFC1, STMC1, TFC2 and LNC1.

Each builder takes a base set (:func:`axiomtests.perturb.base_set` of any corpus, or your own list of
:class:`~axiomtests.perturb.BasePair`) and the tokenizer of the model under test, checks its arguments
eagerly (raising :class:`hypothesis.errors.InvalidArgument`), and returns a
``SearchStrategy[Pair]`` whose examples pass :func:`axiomtests.perturb.validate_pair`. Hypothesis picks the
query, passage, term and level; a draw the axiom cannot use (e.g. a term that occurs as ``"traumas"``) is
rejected, never silently altered.

Example, in your own test module::

    from hypothesis import given, settings
    from axiomtests.corpus import load_corpus
    from axiomtests.perturb import base_set
    from axiomtests.strategies import tfc1_pairs

    BASE = base_set(load_corpus())

    @settings(derandomize=True, max_examples=50, deadline=None)
    @given(tfc1_pairs(base=BASE, tokenizer=tokenizer))
    def test_adding_a_query_term_raises_the_score(pair):
        assert score(pair.query, pair.perturbed) >= score(pair.query, pair.baseline)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy

from axiomtests import perturb as P

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["tfc1_pairs", "stmc1_pairs", "tfc2_pairs", "lnc1_pairs"]


def _check(base: Sequence[P.BasePair], tokenizer: PreTrainedTokenizerBase, filler: str) -> list[P.BasePair]:
    items = list(base)
    if not items:
        raise InvalidArgument("base is empty; pass axiomtests.perturb.base_set(corpus) or a list of BasePair")
    bad = next((b for b in items if not isinstance(b, P.BasePair)), None)
    if bad is not None:
        raise InvalidArgument(f"base must hold axiomtests.perturb.BasePair items, got {type(bad).__name__}")
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidArgument("tokenizer must be a fast Hugging Face tokenizer (token offsets are needed); "
                              "load it with transformers.AutoTokenizer.from_pretrained(dir)")
    try:
        P.filler_token(tokenizer, filler)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    return items


def _check_levels(levels: int) -> None:
    if not isinstance(levels, int) or isinstance(levels, bool) or levels < 1:
        raise InvalidArgument(f"levels must be a positive integer, got {levels!r}")


class _Options(list):
    """Drawable options shown by their count: Hypothesis builds a strategy's repr from its arguments, and a full
    base set made that repr megabytes long."""

    def __repr__(self) -> str:
        return f"<{len(self)} options>"


class _Cache(dict):
    """A strategy argument's mapping (a memo, a lookup), shown by its size (see ``_Options``)."""

    def __repr__(self) -> str:
        return f"<cache of {len(self)}>"


def _with_terms(items: list[P.BasePair], tokenizer: PreTrainedTokenizerBase) -> _Options:
    terms = {q: P.eligible_terms(q, tokenizer)[0] for q in dict.fromkeys(b.query for b in items)}
    options = _Options((b, terms[b.query]) for b in items if terms[b.query])
    if not options:
        raise InvalidArgument("no query of base has an eligible term (a non-stopword word that is a single "
                              "token of the tokenizer); use a larger or different base set")
    return options


def tfc1_pairs(*, base: Sequence[P.BasePair], tokenizer: PreTrainedTokenizerBase,
               filler: str = P.DEFAULT_FILLER) -> SearchStrategy[P.Pair]:
    """TFC1 pairs: a drawn passage with a drawn eligible query term appended (:func:`~axiomtests.perturb.tfc1_pair`).

    * ``base``: the base set to draw from.
    * ``tokenizer``: the fast tokenizer of the model under test (eligibility and alignment depend on it).
    * ``filler``: the padding text of the baseline, a space and one token.

    .. code-block:: pycon

        >>> pair = tfc1_pairs(base=BASE, tokenizer=tokenizer).example()  # doctest: +SKIP
        >>> pair.perturbed == f"{pair.document} {pair.term}"  # doctest: +SKIP
        True
    """
    options = _with_terms(_check(base, tokenizer, filler), tokenizer)
    return _tfc1(options, tokenizer, filler)


@st.composite
def _tfc1(draw: DrawFn, options: _Options, tokenizer: PreTrainedTokenizerBase,
          filler: str) -> P.Pair:
    base, terms = draw(st.sampled_from(options))
    term = draw(st.sampled_from(terms))
    try:
        return P.tfc1_pair(base, term, tokenizer=tokenizer, filler=filler)
    except P.NotApplicable:
        reject()


def stmc1_pairs(*, base: Sequence[P.BasePair], tokenizer: PreTrainedTokenizerBase,
                reference: P.ReferenceEmbedding | None = None,
                filler: str = P.DEFAULT_FILLER) -> SearchStrategy[P.Pair]:
    """STMC1 pairs: a drawn passage with the best WordNet near-synonym of a drawn query term appended.

    * ``reference``: the embedding that ranks candidates (default: word embeddings of the base
      all-MiniLM-L6-v2, loaded now); it must not be the model under test's own.
    * ``base``, ``tokenizer``, ``filler``: as for :func:`tfc1_pairs`.

    Candidates are computed on first draw of each (query, term) and cached in the strategy.
    """
    options = _with_terms(_check(base, tokenizer, filler), tokenizer)
    if reference is not None and not isinstance(reference, P.ReferenceEmbedding):
        raise InvalidArgument(f"reference must be an axiomtests.perturb.ReferenceEmbedding, "
                              f"got {type(reference).__name__}")
    return _stmc1(options, tokenizer, reference or P.ReferenceEmbedding.load(), filler, _Cache())


@st.composite
def _stmc1(draw: DrawFn, options: _Options, tokenizer: PreTrainedTokenizerBase,
           reference: P.ReferenceEmbedding, filler: str,
           cache: dict[tuple[str, str], list[P.Candidate]]) -> P.Pair:
    base, terms = draw(st.sampled_from(options))
    term = draw(st.sampled_from(terms))
    key = (base.query, term)
    if key not in cache:
        cache[key] = P.synonym_candidates(term, query=base.query, tokenizer=tokenizer, reference=reference)
    try:
        return P.stmc1_pair(base, term, cache[key], tokenizer=tokenizer, filler=filler)
    except P.NotApplicable:
        reject()


def tfc2_pairs(*, base: Sequence[P.BasePair], tokenizer: PreTrainedTokenizerBase, variant: str = "pronoun",
               levels: int = 5, max_words: int = 150, filler: str = P.DEFAULT_FILLER) -> SearchStrategy[P.Pair]:
    """TFC2 pairs (k -> k+1 occurrences of a query term, k drawn from ``0..levels-1``).

    * ``variant``: ``"pronoun"`` (the paper's: later occurrences replaced by a pronoun) or ``"appended"``
      (length-controlled: k terms and ``levels - k`` fillers appended); see :func:`~axiomtests.perturb.tfc2_pairs`.
    * ``levels``: occurrences of the fullest document; only (passage, term) with that many occurrences
      in ``max_words`` words of consecutive sentences are drawn (found eagerly, with regexes).
    * ``base``, ``tokenizer``, ``filler``: as for :func:`tfc1_pairs`.
    """
    if variant not in P.TFC2_VARIANTS:
        raise InvalidArgument(f"variant must be one of {P.TFC2_VARIANTS}, got {variant!r}")
    _check_levels(levels)
    options = _Options((b, t) for b, terms in _with_terms(_check(base, tokenizer, filler), tokenizer) for t in terms
                       if P.tfc2_window(b.passage, t, levels=levels, max_words=max_words) is not None)
    if not options:
        raise InvalidArgument(f"no passage of base has {levels} occurrences of a query term within {max_words} "
                              f"words; lower levels or raise max_words")
    return _tfc2(options, tokenizer, variant, levels, max_words, filler)


@st.composite
def _tfc2(draw: DrawFn, options: _Options, tokenizer: PreTrainedTokenizerBase, variant: str,
          levels: int, max_words: int, filler: str) -> P.Pair:
    base, term = draw(st.sampled_from(options))
    k = draw(st.integers(0, levels - 1))
    try:
        ladder = P.tfc2_pairs(base, term, tokenizer=tokenizer, variant=variant, pronoun=P.tfc2_pronoun(term),
                              levels=levels, max_words=max_words, filler=filler)
    except P.NotApplicable:
        reject()
    return ladder[k]


def lnc1_pairs(*, base: Sequence[P.BasePair], tokenizer: PreTrainedTokenizerBase, levels: int = 5,
               sentence_min_words: int = 6, sentence_max_words: int = 30,
               filler: str = P.DEFAULT_FILLER) -> SearchStrategy[P.Pair]:
    """LNC1 pairs (i -> i+1 appended sentences, i drawn from ``0..levels-1``).

    The sentences come from passages of other queries in ``base`` that are not among this query's
    passages, starting at a drawn passage and contain no query term (after light stemming); see
    :func:`~axiomtests.perturb.irrelevant_sentences`. ``base``, ``tokenizer``, ``filler`` as for
    :func:`tfc1_pairs`.
    """
    _check_levels(levels)
    if not 1 <= sentence_min_words <= sentence_max_words:
        raise InvalidArgument(f"need 1 <= sentence_min_words <= sentence_max_words, got "
                              f"{sentence_min_words}, {sentence_max_words}")
    items = _check(base, tokenizer, filler)
    docs_of: dict[str, set[str]] = defaultdict(set)
    for b in items:
        docs_of[b.query_id].add(b.doc_id)
    if len(docs_of) < 2:
        raise InvalidArgument("LNC1 needs a base set with at least two queries (sentences come from other queries)")
    return _lnc1(_Options(items), _Cache(docs_of), tokenizer, levels, sentence_min_words, sentence_max_words, filler)


@st.composite
def _lnc1(draw: DrawFn, items: list[P.BasePair], docs_of: dict[str, set[str]], tokenizer: PreTrainedTokenizerBase,
          levels: int, min_words: int, max_words: int, filler: str) -> P.Pair:
    base = draw(st.sampled_from(items))
    start = draw(st.integers(0, len(items) - 1))
    pool = ((b.doc_id, b.passage) for b in items[start:] + items[:start]
            if b.query_id != base.query_id and b.doc_id not in docs_of[base.query_id])
    sentences = P.irrelevant_sentences(base.query, pool, n=levels, min_words=min_words, max_words=max_words)
    if len(sentences) < levels:
        reject()
    i = draw(st.integers(0, levels - 1))
    try:
        return P.lnc1_pairs(base, sentences, tokenizer=tokenizer, filler=filler)[i]
    except P.NotApplicable:
        reject()
