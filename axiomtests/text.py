"""Text utilities of the diagnostic generators and the default build: sentences, passage cuts, query terms and
word-bounded counts.

Nothing here needs a tokenizer; :mod:`axiomtests.tokens` holds what does.
"""

from __future__ import annotations

import re

from axiomtests.wordlists import STOPWORDS, light_stem
from circuits.bm25 import words

_ABBREVIATIONS = frozenset("mr mrs ms dr prof st jr sr vs etc inc ltd co corp no fig e.g i.e u.s u.k a.m p.m "
                           "approx dept est jan feb mar apr jun jul aug sep sept oct nov dec".split())
_CLOSERS = "\"'”’)\\]"  # closing quotes and brackets that may follow a sentence's final mark
_BOUNDARY = re.compile(rf"([.!?]+[{_CLOSERS}]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def _sentence_end(closers: str = _CLOSERS) -> re.Pattern[str]:
    """A sentence end at the end of a string: ``.``, ``!`` or ``?``, then any of ``closers`` (a character class
    body)."""
    return re.compile(rf"[.!?][{closers}]*$")


SENTENCE_END = _sentence_end()
# The default build cut its passages with straight closers only; the curly ones would move 89 of its 6011 cuts,
# and so the default checkpoint's training data.
_PASSAGE_END = _sentence_end("\"')\\]")


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


def word_count(text: str) -> int:
    return len(text.split())


def cut_at_sentence(text: str, *, min_words: int = 40, max_words: int = 100) -> str | None:
    """The shortest run of leading sentences with at least ``min_words`` words that ends a sentence
    (``.``, ``!`` or ``?``), or ``None`` if there is none within ``max_words`` words.

    The defaults give MS MARCO v1 passage lengths (40 to 100 words; most cuts land near 50).
    """
    sentences = split_sentences(text)
    total = 0
    for i, sentence in enumerate(sentences):
        total += word_count(sentence)
        if total > max_words:
            return None
        if total >= min_words and SENTENCE_END.search(sentence):
            return " ".join(sentences[: i + 1])
    return None


def cut_passage(text: str, min_words: int = 40, max_words: int = 100) -> str:
    """The first ``max_words`` words of ``text``, shortened to the last sentence end at or after
    ``min_words`` words (MS MARCO v1 passage length); hard-cut at ``max_words`` if there is none."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    for end in range(max_words, min_words - 1, -1):
        if _PASSAGE_END.search(words[end - 1]):
            return " ".join(words[:end])
    return " ".join(words[:max_words])


def appended(text: str, addition: str) -> str:
    """``text`` with ``addition`` after one space: the append perturbation of TFC1, STMC1 and LNC1 (and of the
    model card's TFC1 check and the random-word control)."""
    return f"{text} {addition}"


def query_terms(query: str) -> list[str]:
    """The query's words (lower-cased ``\\w+``) that are not stopwords, unique, in order of appearance."""
    return [w for w in dict.fromkeys(words(query)) if w not in STOPWORDS]


def term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'’]){re.escape(term)}(?![\w'’])", re.IGNORECASE)


def term_count(text: str, term: str) -> int:
    """Word-bounded, case-insensitive occurrences of ``term`` (letters, digits, ``_`` and apostrophes
    bound a word, so ``"trauma's"`` does not count as ``"trauma"``)."""
    return len(term_pattern(term).findall(text))


def _query_stems(query: str) -> set[str]:
    return {light_stem(t) for t in query_terms(query)}


def shares_query_term(query: str, text: str) -> bool:
    stems = _query_stems(query)
    return any(light_stem(w) in stems for w in words(text))
