"""Generators and validator of the diagnostic pairs (axiomtests.perturb) on a tiny hand-written corpus."""

from __future__ import annotations

import dataclasses
import json

import pytest

from axiomtests import perturb as P
from circuits.errors import DatasetError
from helpers_diagnostics import DOCS, QUERIES, base_of, reference, tiny_base, tiny_corpus, tokenizer


@pytest.fixture(scope="module")
def tok():
    return tokenizer()


# --------------------------------------------------------------------------- text utilities

def test_split_sentences_keeps_abbreviations_initials_and_line_breaks():
    text = "Dr. Who met J. Smith in the U.S. Army. It rained!\nA list item\n\n  Then: more?  Yes."
    assert P.split_sentences(text) == ["Dr. Who met J. Smith in the U.S. Army.", "It rained!", "A list item",
                                       "Then: more?", "Yes."]


def test_cut_at_sentence_takes_the_shortest_prefix_that_reaches_min_words():
    sentence = "One two three four five six seven eight nine ten."
    text = " ".join([sentence] * 6)
    assert P.cut_at_sentence(text, min_words=25, max_words=100) == " ".join([sentence] * 3)
    assert P.cut_at_sentence(text, min_words=30, max_words=30) == " ".join([sentence] * 3)
    assert P.cut_at_sentence(text, min_words=31, max_words=35) is None  # no boundary in range
    assert P.cut_at_sentence("a list item without an end\n" * 20, min_words=10) is None


def test_base_set_follows_retrieval_order_and_falls_back_to_judged_passages():
    base = tiny_base()
    assert [b.doc_id for b in base] == ["d1a", "d1b", "d1c", "d2a", "d2b", "d3a", "d3b"]
    assert {b.doc_id: b.relevance for b in base}["d1a"] == 1 and base[1].relevance == 0
    assert all(40 <= len(b.document.split()) <= 100 and b.passage == DOCS[b.doc_id] for b in base)
    assert [b.doc_id for b in P.base_set(tiny_corpus(retrieved=False))] == ["d1a", "d2a", "d3a"]


def test_eligible_terms_skip_stopwords_numbers_and_record_multi_piece_words(tok):
    eligible, skipped = P.eligible_terms("what is vicarious trauma in 2024 and how do helpers cope", tok)
    assert eligible == ["trauma", "cope"]
    assert skipped == {"vicarious": "multi-piece: vicar ##ious", "helpers": "multi-piece: help ##ers",
                       "2024": "not an alphabetic word of two letters or more"}


@pytest.mark.parametrize("text, term, count", [
    ("Ari said various things to ari.", "ari", 2),      # word-bounded: "various" is not "ari"
    ("The trauma's effects; trauma-informed care", "trauma", 1),  # possessive is not the word
    ("TRAUMA, Trauma and traumas", "trauma", 2),
    ("no match here", "trauma", 0),
])
def test_term_count_is_word_bounded_and_case_insensitive(text, term, count):
    assert P.term_count(text, term) == count


# --------------------------------------------------------------------------- TFC1

@pytest.mark.parametrize("doc_id, stratum, tf", [("d1b", "0->1", 0), ("d1a", "k->k+1", 5)])
def test_tfc1_appends_the_term_and_pads_the_baseline(tok, doc_id, stratum, tf):
    base = base_of(doc_id)
    pair = P.tfc1_pair(base, "trauma", tokenizer=tok)
    assert pair.perturbed == base.document + " trauma" and pair.baseline == base.document + " a"
    assert (pair.stratum, pair.tf_baseline, pair.tf_perturbed) == (stratum, tf, tf + 1)
    assert (pair.level_baseline, pair.level_perturbed) == (tf, tf + 1)
    assert pair.baseline_len == pair.perturbed_len
    assert pair.filler == P.Filler(" a", "a", tok.convert_tokens_to_ids("a"), 1, pair.baseline_len - 2)
    assert P.pair_problems(pair, tok) == []


def test_tfc1_refuses_inflected_forms_and_non_query_terms(tok):
    with pytest.raises(P.NotApplicable) as info:
        P.tfc1_pair(base_of("d1c"), "trauma", tokenizer=tok)  # "trauma's" shares the token
    assert info.value.kind == "count_mismatch"
    with pytest.raises(P.NotApplicable) as info:
        P.tfc1_pair(base_of("d1b"), "nursing", tokenizer=tok)
    assert info.value.kind == "not_query_term"
    with pytest.raises(P.NotApplicable) as info:
        P.tfc1_pair(base_of("d3a"), "purr", tokenizer=tok)
    assert info.value.kind == "multi_piece"


def test_pair_json_round_trip(tok):
    pair = P.tfc1_pair(base_of("d1b"), "cope", tokenizer=tok, details={"rule": "test"})
    assert P.Pair.from_json(json.loads(json.dumps(pair.to_json()))) == pair


# --------------------------------------------------------------------------- STMC1

def test_synonym_candidates_exclude_the_term_its_stem_and_query_terms(tok):
    candidates = P.synonym_candidates("trauma", query=QUERIES["q1"], tokenizer=tok, reference=reference())
    found = {c.word: c for c in candidates}
    assert "injury" in found and {c.relation for c in candidates} == {"synonym"}  # Table 1: synonyms only
    assert not P.synonym_candidates("pew", query="pew seats", tokenizer=tok, reference=reference())  # "bench" is
    # its hypernym (generator 1 appended it), and WordNet gives it no synonym
    assert not {"trauma", "traumas", "traumatic", "traumatize", "cope"} & found.keys()
    keys = [(c.pieces > 1, -c.cosine) for c in candidates]
    assert keys == sorted(keys) and candidates[0].pieces == 1


def test_reference_embedding_cosine():
    ref = reference()
    assert ref.cosine("injury", "injury") == pytest.approx(1.0)
    assert ref.cosine("trauma", "injury") == pytest.approx(ref.cosine("injury", "trauma"))
    assert ref.cosine("trauma", "injury") > ref.cosine("trauma", "bicycle")
    assert ref.description["tensor"] == "embeddings.word_embeddings.weight" and len(ref.description["sha256"]) == 64


def test_stmc1_appends_the_best_candidate_and_keeps_the_term_count(tok):
    candidates = [P.Candidate("injury", "synonym", 0.5, 1), P.Candidate("harm", "synonym", 0.4, 1)]
    pair = P.stmc1_pair(base_of("d1a"), "trauma", candidates, tokenizer=tok)
    assert pair.perturbed.endswith(" injury") and pair.inserted == "injury"
    assert pair.tf_baseline == pair.tf_perturbed == 5 and pair.stratum == "tf>=1"
    assert pair.details["candidates"] == [["injury", "synonym", 0.5, 1], ["harm", "synonym", 0.4, 1]]
    assert P.pair_problems(pair, tok) == []
    multi = P.stmc1_pair(base_of("d1b"), "trauma", [P.Candidate("maltreatment", "synonym", 0.3, 3)], tokenizer=tok)
    assert multi.filler.count == len(tok.tokenize("maltreatment")) and P.pair_problems(multi, tok) == []
    with pytest.raises(P.NotApplicable):
        P.stmc1_pair(base_of("d1a"), "trauma", [], tokenizer=tok)


# --------------------------------------------------------------------------- TFC2

@pytest.mark.parametrize("variant", P.TFC2_VARIANTS)
def test_tfc2_documents_hold_exactly_k_occurrences(tok, variant):
    pairs = P.tfc2_pairs(base_of("d1a"), "trauma", tokenizer=tok, variant=variant)
    assert [p.stratum for p in pairs] == [f"{variant}:{k}->{k + 1}" for k in range(5)]
    docs = [pairs[0].baseline] + [p.perturbed for p in pairs]
    assert [P.term_count(d, "trauma") for d in docs] == [0, 1, 2, 3, 4, 5]
    assert len({p.baseline_len for p in pairs} | {p.perturbed_len for p in pairs}) == 1  # same length for every k
    assert all(p.filler.count == 0 and P.pair_problems(p, tok) == [] for p in pairs)
    if variant == "pronoun":
        assert docs[0].startswith("It can follow") and "vicarious it" in docs[0]
    else:
        assert docs[0].endswith(" a a a a a") and docs[5].endswith(" trauma trauma trauma trauma trauma")


def test_tfc2_word_chain_appends_the_word_where_the_term_was(tok):
    pairs = P.tfc2_pairs(base_of("d1a"), "trauma", tokenizer=tok, variant="appended")
    chain = P.tfc2_word_chain(pairs[0].document, word="violin", filler=pairs[0].filler.text, levels=5)
    term_chain = [pairs[0].document] + [p.perturbed for p in pairs]
    assert [c.replace("violin", "trauma") for c in chain] == term_chain
    assert len({len(tok(c)["input_ids"]) for c in chain}) == 1
    with pytest.raises(ValueError, match="not an appended TFC2 chain"):
        P.tfc2_word_chain("no filler at the end", word="violin", filler=" a", levels=5)


def test_tfc2_replacement_is_word_bounded_never_substring():
    base = P.BasePair("q", "d", "who is ari", "", "Ari met Ari. Various people saw ari. Ari and ari left. Bye.")
    texts = [P._keep_first(P.tfc2_window(base.passage, "ari"), "ari", k, "she") for k in (0, 2)]
    assert texts == ["She met She. Various people saw she. She and she left.",
                     "Ari met Ari. Various people saw she. She and she left."]


def test_tfc2_needs_a_short_window_with_enough_occurrences(tok):
    with pytest.raises(P.NotApplicable) as info:
        P.tfc2_pairs(base_of("d2a"), "solar", tokenizer=tok)
    assert info.value.kind == "no_window"
    with pytest.raises(ValueError, match="variant"):
        P.tfc2_pairs(base_of("d1a"), "trauma", tokenizer=tok, variant="other")


def test_tfc2_pronoun_is_they_for_plural_nouns():
    assert (P.tfc2_pronoun("trauma"), P.tfc2_pronoun("cats"), P.tfc2_pronoun("teachers")) == ("it", "they", "they")


# --------------------------------------------------------------------------- LNC1

def test_irrelevant_sentences_skip_query_terms_after_stemming():
    pool = [("x", "Counsellors were coping well with the load. The weather stayed warm and dry all week long. "
                  "Short one."),
            ("y", "A trauma ward opened in the town centre. Buses ran late on every route that morning.")]
    got = P.irrelevant_sentences(QUERIES["q1"], pool, n=5)
    assert got == [("x", "The weather stayed warm and dry all week long."),
                   ("y", "Buses ran late on every route that morning.")]


def test_lnc1_appends_one_sentence_per_level(tok):
    base = base_of("d1a")
    sentences = P.irrelevant_sentences(base.query, [(b.doc_id, b.passage) for b in tiny_base()[3:]], n=5)
    pairs = P.lnc1_pairs(base, sentences, tokenizer=tok)
    assert [p.stratum for p in pairs] == ["0->1", "1->2", "2->3", "3->4", "4->5"]
    assert pairs[0].document == base.document
    assert pairs[4].perturbed == " ".join([base.document] + [s for _, s in sentences])
    assert all(p.filler.count == len(tok.tokenize(p.inserted)) and P.pair_problems(p, tok) == [] for p in pairs)
    with pytest.raises(P.NotApplicable) as info:
        P.lnc1_pairs(base, [("x", "Nurses cope with long shifts.")], tokenizer=tok)
    assert info.value.kind == "shares_query_term"


# --------------------------------------------------------------------------- filler control and validator

def test_filler_control_differs_only_by_the_filler(tok):
    pair = P.tfc1_pair(base_of("d1b"), "trauma", tokenizer=tok)
    control = P.filler_control(pair)
    assert (control.baseline, control.perturbed) == (pair.document, pair.baseline)
    assert control.perturbed_len - control.baseline_len == 1 and P.pair_problems(control, tok) == []
    with pytest.raises(P.NotApplicable):
        P.filler_control(P.tfc2_pairs(base_of("d1a"), "trauma", tokenizer=tok)[0])


def _tfc2_pair(tok):
    return P.tfc2_pairs(base_of("d1a"), "trauma", tokenizer=tok)[2]


def _tfc1(tok, term="trauma"):
    return P.tfc1_pair(base_of("d1b"), term, tokenizer=tok)


def _tfc2(tok):
    return P.tfc2_pairs(base_of("d1a"), "trauma", tokenizer=tok)[2]


@pytest.mark.parametrize("make, change, message", [
    (_tfc1, lambda p: {"perturbed": "x"}, "lengths"),
    (_tfc1, lambda p: {"stratum": "k->k+1"}, "stratum"),
    (_tfc1, lambda p: {"tf_baseline": 1}, "term counts"),
    (_tfc1, lambda p: {"baseline_len": 3}, "token lengths"),
    (_tfc1, lambda p: {"term": "cope"}, "TFC1 must append"),
    (_tfc1, lambda p: {"axiom": "TFX"}, "unknown axiom"),
    (_tfc2, lambda p: {"level_baseline": 1}, "term counts"),
    (_tfc2, lambda p: {"details": {"pronoun": "she"}}, "token diff"),
    (_tfc2, lambda p: {"perturbed": p.baseline}, "identical"),
])
def test_validator_names_every_corruption(tok, make, change, message):
    pair = make(tok)
    assert P.pair_problems(pair, tok) == []
    broken = dataclasses.replace(pair, **change(pair))
    problems = P.pair_problems(broken, tok)
    assert any(message in p for p in problems), problems
    with pytest.raises(DatasetError, match=pair.id.split("/")[0]):
        P.validate_pair(broken, tok)


def test_validator_checks_the_filler_padding(tok):
    pair = _tfc1(tok)
    moved = dataclasses.replace(pair, filler=dataclasses.replace(pair.filler, position=3))
    assert any("fillers" in p for p in P.pair_problems(moved, tok))
    unpadded = dataclasses.replace(pair, baseline=pair.document + " the")
    assert any("padded text" in p for p in P.pair_problems(unpadded, tok))


def test_bad_filler_is_refused(tok):
    with pytest.raises(ValueError, match="one token"):
        P.tfc1_pair(base_of("d1b"), "trauma", tokenizer=tok, filler=" aardvarkish")
    with pytest.raises(ValueError, match="space"):
        P.filler_token(tok, "a")
