"""IDF edits as measures (circuits.editing) on a tiny random model: the examples never share an edited token, a
zero edit is the model itself, and every edit is undone."""

from __future__ import annotations

import numpy as np
import torch

from circuits.editing import demoted, edit_curves, edit_examples, idf_dependence, monotonicity
from circuits.idf import u0, word_embeddings


def test_examples_never_edit_a_token_another_example_reads(tiny_cross_encoder):
    tok = tiny_cross_encoder.tokenizer
    rows = [("bank river money", ["bank", "river"]), ("river water city", ["river", "water"]),
            ("music science", ["music", "science"]), ("bank music", ["bank", "music"]), ("answer", ["answer"])]
    examples = edit_examples(rows, tok, limit=10)
    assert [q for q, _, _ in examples] == ["bank river money", "music science"]
    edited = {t1 for _, t1, _ in examples}
    for query, t1, _ in examples:
        others = edited - {t1}
        assert not others & set(tok(query, add_special_tokens=False)["input_ids"])
    assert len(edit_examples(rows, tok, limit=1)) == 1


def test_a_zero_edit_is_the_model_and_every_edit_is_undone(tiny_cross_encoder):
    model, tok = tiny_cross_encoder, tiny_cross_encoder.tokenizer
    spectrum = u0(model)
    before = word_embeddings(model).weight.detach().clone()
    examples = edit_examples([("bank river money", ["bank", "river"])], tok, limit=1)
    doc1, doc2 = edit_curves(model, spectrum, examples, [-2.0, 0.0, 2.0])
    plain = model.score_pairs(["bank river money"], ["bank bank bank"]).double().numpy()
    assert doc1.shape == doc2.shape == (1, 3) and np.allclose(doc1[:, 1], plain, atol=1e-6)
    assert not np.allclose(doc1[:, 0], doc1[:, 2])  # the edit moves the score
    assert torch.equal(word_embeddings(model).weight, before)
    direction = np.eye(len(spectrum.v0))[1]
    control1, _ = edit_curves(model, spectrum, examples, [0.0], direction=direction)
    assert np.allclose(control1[:, 0], plain, atol=1e-6) and torch.equal(word_embeddings(model).weight, before)


def test_demoted_compares_injected_and_clean_under_the_edit(tiny_cross_encoder):
    model = tiny_cross_encoder
    spectrum = u0(model)
    ids = model.tokenizer.convert_tokens_to_ids(["music"])
    queries, injected, clean = ["bank river"] * 2, ["bank river water music", "city music"], ["bank river water",
                                                                                             "city"]
    own = model.score_pairs(queries, injected).double().numpy() < model.score_pairs(queries, clean).double().numpy()
    assert demoted(model, spectrum, ids, 0.0, queries, injected, clean).tolist() == own.astype(float).tolist()


def test_monotonicity_and_idf_dependence():
    steps = [-1.0, 0.0, 1.0, 2.0]
    assert monotonicity(steps, np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 4.0, 5.0]])) == 1.0  # of the mean row
    assert monotonicity(steps, -np.arange(4.0)[None]) == -1.0
    assert idf_dependence(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.5])) > 0.99
    assert np.isnan(idf_dependence(np.ones(3), np.arange(3.0)))
