"""Whole words and IDF on every vocabulary kind: WordPiece (BERT), SentencePiece (DeBERTa-v3), byte-level BPE
(ModernBERT); U0 of each tiny architecture's embedding matrix against its own IDF table."""

from __future__ import annotations

import numpy as np
import pytest

from circuits.idf import u0
from circuits.idf_tables import wordpiece_idf_table
from circuits.model import HookedCrossEncoder
from circuits.vocabulary import whole_words, word_of, word_start

DOCS = {"d1": "ranking relevance with bm25", "d2": "the river bank and the money", "d3": "music history of the city",
        "d4": "attention heads and ranking"}
KINDS = {"bert": "", "deberta-v2": "▁", "modernbert": "Ġ"}


@pytest.mark.parametrize("arch", KINDS)
def test_each_vocabulary_marks_its_word_starts(tiny_checkpoint, arch):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint(arch))
    tokenizer = model.tokenizer
    assert word_start(tokenizer) == KINDS[arch]
    words = whole_words(tokenizer)
    (ranking,) = tokenizer(" ranking", add_special_tokens=False)["input_ids"]
    assert words[ranking] == "ranking"
    assert all(words[i] is None for i in tokenizer.all_special_ids)
    continuation = {"": "##s", "▁": "s", "Ġ": "s"}[KINDS[arch]]  # a piece inside a word is no whole word
    assert words[tokenizer.convert_tokens_to_ids(continuation)] is None


@pytest.mark.parametrize("marker, token, word", [("", "bank", "bank"), ("", "##s", None), ("▁", "▁bank", "bank"),
                                                 ("▁", "bank", None), ("Ġ", "Ġbank", "bank"), ("Ġ", "Ġ25", None)])
def test_word_of(marker, token, word):
    assert word_of(token, marker) == word


@pytest.mark.parametrize("arch", KINDS)
def test_idf_tables_and_u0_work_on_each_vocabulary(tiny_checkpoint, arch):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint(arch))
    tokenizer = model.tokenizer
    table = wordpiece_idf_table(DOCS, tokenizer, corpus="tiny")
    (river,) = tokenizer.convert_ids_to_tokens(tokenizer(" river", add_special_tokens=False)["input_ids"])
    assert table.lookup(river).source == "corpus" and table.lookup(river).df == 1
    (science,) = tokenizer.convert_ids_to_tokens(tokenizer(" science", add_special_tokens=False)["input_ids"])
    assert table.lookup(science).source == "wordfreq"  # a whole word the corpus lacks: estimated from wordfreq
    idf, sources = table.vector(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))
    mask = np.array([w is not None and s == "corpus" for w, s in zip(whole_words(tokenizer), sources)])
    assert mask.sum() >= 10
    spectrum = u0(model, reference=idf, mask=mask)
    assert spectrum.u0.shape == (len(tokenizer),)
    assert np.corrcoef(spectrum.u0[mask], idf[mask])[0, 1] <= 0  # the canonical sign
