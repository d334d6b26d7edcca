"""Which vocabulary tokens are whole words, for WordPiece, SentencePiece and byte-level BPE vocabularies alike.

A word inside a text starts with the tokenizer's word-start marker: none for WordPiece (whose continuations
start with ``##``), ``▁`` for SentencePiece (DeBERTa-v3), ``Ġ`` for byte-level BPE (ModernBERT, RoBERTa). The
marker is read off the tokenizer itself (how it tokenises `` the``), so no table of tokenizer classes is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def word_start(tokenizer: PreTrainedTokenizerBase) -> str:
    """The marker a word's token carries inside a text: ``""``, ``"▁"`` or ``"Ġ"``."""
    (token,) = tokenizer.convert_ids_to_tokens(tokenizer(" the", add_special_tokens=False)["input_ids"])[-1:]
    if not token.lower().endswith("the"):
        raise ValueError(f"cannot read the word-start marker of this tokenizer: ' the' gives {token!r}")
    return token[: -len("the")]


def word_of(token: str, marker: str) -> str | None:
    """The alphabetic word ``token`` stands for at a word start (``marker`` from :func:`word_start`), else None:
    a continuation piece or not a word."""
    if not token.startswith(marker):
        return None
    word = token[len(marker):]
    return word if word.isalpha() else None


def whole_words(tokenizer: PreTrainedTokenizerBase) -> list[str | None]:
    """Per vocabulary id, the whole word its token stands for (None for pieces and special tokens)."""
    marker, special = word_start(tokenizer), set(tokenizer.all_special_tokens)
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return [None if t in special else word_of(t, marker) for t in tokens]


def word_pieces(tokenizer: PreTrainedTokenizerBase, words: list[str]) -> list[list[int]]:
    """The token ids of each word as it occurs inside a text, after a space (``▁word``/``Ġword``/``word``)."""
    if not words:
        return []
    return [list(ids) for ids in tokenizer([" " + w for w in words], add_special_tokens=False)["input_ids"]]


def word_ids(tokenizer: PreTrainedTokenizerBase, words: list[str]) -> list[int]:
    """The token id of each word inside a text (:func:`word_pieces`), or the unknown token's id where the word is
    not one token (``convert_tokens_to_ids`` on a bare word would miss the marker of SentencePiece and byte-level
    BPE vocabularies)."""
    return [ids[0] if len(ids) == 1 else tokenizer.unk_token_id for ids in word_pieces(tokenizer, words)]
