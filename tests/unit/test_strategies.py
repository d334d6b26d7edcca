"""Hypothesis strategies of axiomtests.strategies: every drawn example passes the validator.

Run derandomized with a bounded example count, so CI is reproducible and fast.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import InvalidArgument

from axiomtests import perturb as P
from axiomtests import strategies
from helpers_diagnostics import base_of, reference, tiny_base, tokenizer

CI = settings(derandomize=True, max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOK = tokenizer()
BASE = tiny_base()


def test_public_names():
    assert strategies.__all__ == ["tfc1_pairs", "stmc1_pairs", "tfc2_pairs", "lnc1_pairs"]


@CI
@given(strategies.tfc1_pairs(base=BASE, tokenizer=TOK))
def test_tfc1_examples_are_valid(pair):
    P.validate_pair(pair, TOK)
    assert pair.axiom == "TFC1" and pair.perturbed == f"{pair.document} {pair.term}"
    assert pair.tf_perturbed == pair.tf_baseline + 1 and pair.baseline_len == pair.perturbed_len


@CI
@given(strategies.stmc1_pairs(base=BASE, tokenizer=TOK, reference=reference()))
def test_stmc1_examples_are_valid(pair):
    P.validate_pair(pair, TOK)
    assert pair.inserted == pair.details["synonym"] != pair.term and pair.tf_baseline == pair.tf_perturbed


@CI
@given(strategies.tfc2_pairs(base=BASE, tokenizer=TOK, variant="pronoun"),
       strategies.tfc2_pairs(base=BASE, tokenizer=TOK, variant="appended", levels=3))
def test_tfc2_examples_are_valid(pronoun, appended):
    for pair in (pronoun, appended):
        P.validate_pair(pair, TOK)
        assert pair.tf_perturbed == pair.tf_baseline + 1 and pair.filler.count == 0
    assert appended.level_perturbed <= 3


@CI
@given(strategies.lnc1_pairs(base=BASE, tokenizer=TOK, levels=3))
def test_lnc1_examples_are_valid(pair):
    P.validate_pair(pair, TOK)
    assert pair.perturbed == f"{pair.document} {pair.inserted}" and pair.level_perturbed <= 3


@pytest.mark.parametrize("builder, kwargs, message", [
    (strategies.tfc1_pairs, {"base": []}, "base is empty"),
    (strategies.tfc1_pairs, {"base": [("q", "d")]}, "BasePair"),
    (strategies.tfc1_pairs, {"tokenizer": object()}, "fast"),
    (strategies.tfc1_pairs, {"filler": "a"}, "filler"),
    (strategies.tfc1_pairs, {"base": [P.BasePair("q", "d", "the of and", "x", "x")]}, "eligible term"),
    (strategies.stmc1_pairs, {"reference": "minilm"}, "ReferenceEmbedding"),
    (strategies.tfc2_pairs, {"variant": "other"}, "variant"),
    (strategies.tfc2_pairs, {"levels": 0}, "levels"),
    (strategies.tfc2_pairs, {"levels": 50}, "no passage"),
    (strategies.lnc1_pairs, {"levels": True}, "levels"),
    (strategies.lnc1_pairs, {"sentence_min_words": 9, "sentence_max_words": 3}, "sentence_min_words"),
    (strategies.lnc1_pairs, {"base": [base_of("d1a"), base_of("d1b")]}, "two queries"),
])
def test_bad_arguments_are_refused_eagerly(builder, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        builder(**{"base": BASE, "tokenizer": TOK, **kwargs})
