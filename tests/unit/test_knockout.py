"""Knocked-out checkpoints: models that each lack one mechanism, saved and loadable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axiomtests.cli import main
from circuits.errors import InputError
from circuits.idf import u0, word_embeddings
from circuits.knockout import knock_out, parse_heads
from circuits.model import HookedCrossEncoder
from circuits.ablation import ablate_heads


def test_silenced_heads_write_nothing_and_the_rest_is_untouched(tiny_checkpoint, tmp_path):
    original = HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert"))
    out = knock_out(tiny_checkpoint("bert"), tmp_path / "ko", heads=[(1, 2)])
    model = HookedCrossEncoder.from_pretrained(out)
    batch = model.tokenize(["what is bm25", "search model"], ["bm25 is a ranking function", "the model scores"])
    zeroed = ablate_heads(original, batch, [(1, 2)], mode="zero")
    torch.testing.assert_close(model(batch), zeroed, atol=1e-5, rtol=0)
    assert not torch.allclose(model(batch), original(batch))


def test_removing_u0_takes_the_top_direction_out_of_the_embeddings(tiny_checkpoint, tmp_path):
    original = HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert"))
    v0 = u0(original).v0
    assert main(["knockout", "--checkpoint", str(tiny_checkpoint("bert")), "--without-u0",
                 "--out", str(tmp_path / "no-u0")]) == 0
    model = HookedCrossEncoder.from_pretrained(tmp_path / "no-u0")
    weight = word_embeddings(model).weight.detach().double().numpy()
    assert np.abs(weight @ v0).max() < 1e-5
    assert abs(float(np.dot(u0(model).v0, v0))) < 1e-3  # the new top direction is another one


def test_a_knockout_needs_something_to_remove_and_real_heads(tiny_checkpoint, tmp_path):
    with pytest.raises(InputError, match="nothing to knock out"):
        knock_out(tiny_checkpoint("bert"), tmp_path / "a")
    with pytest.raises(InputError, match="does not exist"):
        knock_out(tiny_checkpoint("bert"), tmp_path / "b", heads=[(9, 0)])
    with pytest.raises(InputError, match="not of the form"):
        parse_heads("0-8")
