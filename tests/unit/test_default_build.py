"""The default recipe's build path on a tiny budget (4 training and 3 held-out queries, 2 steps): training with
the precomputed teacher, the learning curve, the model card with its targets, the saved steps, and shipping the
result. The full build is a release step (`python -m axiomtests.default_model --out DIR`), never run in CI."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from axiomtests import shipped
from axiomtests.default_model import RECIPE, TARGET_SCORERS, build_default_checkpoint
from axiomtests.evaluation import LABELS
from circuits.model import HookedCrossEncoder

TINY = {**RECIPE, "steps": 2, "eval_every": 1, "warmup_steps": 1, "train_queries": 4, "heldout_queries": 3,
        "tfc1_docs_per_query": 1}


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    return build_default_checkpoint(tmp_path_factory.mktemp("build") / "tiny", recipe=TINY, save_steps=(0, 2))


def test_tiny_build_writes_weights_card_and_steps(tiny_build):
    card = json.loads((tiny_build / "model_card.json").read_text())
    assert card["recipe"] == TINY and card["train_queries"] == 4 and card["heldout_queries"] == 3
    assert [c["step"] for c in card["learning_curve"]] == [0, 1, 2]
    assert set(card["ndcg@10"]) == set(LABELS)
    assert card["ndcg@10"]["source_order"]["source_order"] == 1.0  # the retrieved order grades itself perfectly
    targets = {t["target"] for t in card["targets"]}
    assert {f"nDCG@10 ({name}) above {s}" for name in LABELS for s in TARGET_SCORERS} < targets
    for t in card["targets"]:
        assert t["met"] == (t["ci95"][0] > 0 if t["ci95"] else t["difference"] >= 0)
    markdown = (tiny_build / "MODEL_CARD.md").read_text()
    assert "## Quality targets" in markdown and "## Learning curve" in markdown
    assert card["model_file_sha256"] == shipped.sha256_file(tiny_build / "model.safetensors")
    for step in (0, 2):
        step_card = json.loads((tiny_build / "steps" / f"step-{step:04d}" / "model_card.json").read_text())
        assert step_card["step"] == step and set(step_card["ndcg@10"]) == set(LABELS)
    HookedCrossEncoder.from_pretrained(tiny_build)  # a loadable checkpoint


def test_tiny_build_keeps_the_word_embeddings_and_ships(tiny_build, tmp_path, monkeypatch):
    from axiomtests.sources import base_model_dir

    base = base_model_dir() / "model.safetensors"
    trained = load_file(tiny_build / "model.safetensors")[shipped.WORD_EMBEDDINGS]
    assert (trained == load_file(base)[shipped.BASE_WORD_EMBEDDINGS]).all(), \
        "the recipe freezes the word embeddings; the build moved them"
    meta = shipped.ship(tiny_build, tmp_path / "pkg", base)
    monkeypatch.setenv("AXIOMTESTS_CACHE", str(tmp_path / "cache"))
    out = shipped.shipped_checkpoint_dir(tmp_path / "pkg", base)
    assert HookedCrossEncoder.from_pretrained(out).weights_sha256() == meta["weights_sha256"]
