"""Tokenizer-level checks of the diagnostic generators: single-piece terms, token counts that must agree with
word counts, the cached (query, document) encoding, the filler token, and their default tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from axiomtests.records import DEFAULT_FILLER, NotApplicable
from axiomtests.text import query_terms, term_count

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def base_tokenizer() -> PreTrainedTokenizerBase:
    """The base all-MiniLM-L6-v2 tokenizer (bert-base-uncased vocabulary, the paper's): the datasets' default."""
    from transformers import AutoTokenizer

    from axiomtests.sources import base_model_dir

    return AutoTokenizer.from_pretrained(str(base_model_dir()))


@lru_cache(maxsize=1 << 16)
def _piece_ids(tokenizer: PreTrainedTokenizerBase, word: str) -> tuple[int, ...]:
    from circuits.vocabulary import word_pieces

    return tuple(word_pieces(tokenizer, [word])[0])


def pieces(tokenizer: PreTrainedTokenizerBase, word: str) -> list[int]:
    """Token ids of ``word`` as it appears inside a text (after a space: :func:`circuits.vocabulary.word_pieces`),
    cached per word."""
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
        ids = pieces(tokenizer, term)
        if len(ids) != 1:
            skipped[term] = "multi-piece: " + " ".join(tokenizer.convert_ids_to_tokens(ids))
            continue
        eligible.append(term)
    return eligible, skipped


@dataclass(frozen=True)
class Encoding:
    ids: list[int]
    offsets: list[tuple[int, int]]
    segments: list[int | None]

    def doc_positions(self) -> list[int]:
        return [i for i, s in enumerate(self.segments) if s == 1]


@lru_cache(maxsize=1 << 13)
def encode(tokenizer: PreTrainedTokenizerBase, query: str, document: str) -> Encoding:
    """The (query, document) input; cached, so callers must not modify the lists."""
    enc = tokenizer(query, document, return_offsets_mapping=True, truncation=False, verbose=False)
    return Encoding(list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]], enc.sequence_ids())


def single_piece_id(tokenizer: PreTrainedTokenizerBase, term: str) -> int:
    ids = pieces(tokenizer, term)
    if len(ids) != 1:
        raise NotApplicable("multi_piece", f"term {term!r} is not a single token of this tokenizer")
    return ids[0]


def token_term_count(tokenizer: PreTrainedTokenizerBase, query: str, document: str, term: str) -> int:
    """Positions of the document segment of the (query, document) input whose token is ``term``'s single piece."""
    enc = encode(tokenizer, query, document)
    term_id = single_piece_id(tokenizer, term)
    return sum(enc.ids[i] == term_id for i in enc.doc_positions())


def checked_count(tokenizer: PreTrainedTokenizerBase, query: str, text: str, term: str) -> int:
    """The term's count in ``text``; :class:`NotApplicable` if word and token counts disagree."""
    by_words = term_count(text, term)
    by_tokens = token_term_count(tokenizer, query, text, term)
    if by_words != by_tokens:
        raise NotApplicable("count_mismatch", f"{term!r} occurs {by_words}x as a word but {by_tokens}x as a token "
                            f"(an inflected or possessive form shares its token)")
    return by_words


def filler_token(tokenizer: PreTrainedTokenizerBase, text: str) -> tuple[str, int]:
    """The token and id of ``text`` (e.g. ``" a"``); ``ValueError`` unless it is a space and one token."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1 or not text.startswith(" ") or not text.strip():
        raise ValueError(f"filler {text!r} must be a space followed by text that is exactly one token "
                         f"(it gives {len(ids)}); use e.g. {DEFAULT_FILLER!r}")
    return tokenizer.convert_ids_to_tokens(ids)[0], ids[0]
