"""Bad checkpoints get a CheckpointError that names the path and the fix."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from circuits.errors import CheckpointError
from circuits.model import HookedCrossEncoder


def copy_checkpoint(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist.*Fix"):
        HookedCrossEncoder.from_pretrained(tmp_path / "nope")


def test_file_is_not_a_checkpoint(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a file"):
        HookedCrossEncoder.from_pretrained(f)


def test_directory_without_config(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        HookedCrossEncoder.from_pretrained(tmp_path)


def test_pickle_only_weights_need_opt_in(tiny_checkpoint, tmp_path):
    from transformers import AutoModelForSequenceClassification

    ckpt = copy_checkpoint(tiny_checkpoint("bert"), tmp_path / "pickled")
    model = AutoModelForSequenceClassification.from_pretrained(ckpt)
    (ckpt / "model.safetensors").unlink()
    torch.save(model.state_dict(), ckpt / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pytorch_model.bin.*--axiom-allow-pickle"):
        HookedCrossEncoder.from_pretrained(ckpt)
    loaded = HookedCrossEncoder.from_pretrained(ckpt, allow_pickle=True)
    reference = HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert"))
    assert loaded.weights_sha256() == reference.weights_sha256()


def test_no_weights_at_all(tiny_checkpoint, tmp_path):
    ckpt = copy_checkpoint(tiny_checkpoint("bert"), tmp_path / "empty")
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no weights"):
        HookedCrossEncoder.from_pretrained(ckpt)


def edit_config(ckpt, **changes):
    config = json.loads((ckpt / "config.json").read_text())
    config.update(changes)
    (ckpt / "config.json").write_text(json.dumps(config))


def test_remote_code_is_refused(tiny_checkpoint, tmp_path):
    ckpt = copy_checkpoint(tiny_checkpoint("bert"), tmp_path / "remote")
    edit_config(ckpt, auto_map={"AutoModelForSequenceClassification": "evil.Model"})
    with pytest.raises(CheckpointError, match="never runs remote code"):
        HookedCrossEncoder.from_pretrained(ckpt)


def test_unsupported_architecture(tmp_path):
    from transformers import GPT2Config, GPT2ForSequenceClassification

    GPT2ForSequenceClassification(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="unsupported model_type='gpt2' in .*; supported: bert, deberta-v2, .*modernbert"):
        HookedCrossEncoder.from_pretrained(tmp_path)


def test_model_without_classification_head(tiny_checkpoint, tmp_path):
    from transformers import BertModel

    from circuits.tiny import save_tiny_tokenizer, tiny_config

    BertModel(tiny_config("bert")).save_pretrained(tmp_path)
    save_tiny_tokenizer(tmp_path)
    with pytest.raises(CheckpointError, match="not a sequence-classification cross-encoder"):
        HookedCrossEncoder.from_pretrained(tmp_path)
    edit_config(tmp_path, architectures=None)  # no declared class: the missing head is caught by the weights
    with pytest.raises(CheckpointError, match="lacks weights for.*classifier"):
        HookedCrossEncoder.from_pretrained(tmp_path)


def test_missing_tokenizer(tiny_checkpoint, tmp_path):
    ckpt = copy_checkpoint(tiny_checkpoint("bert"), tmp_path / "notok")
    for f in ckpt.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            f.unlink()
    with pytest.raises(CheckpointError, match="no usable tokenizer.*--axiom-tokenizer"):
        HookedCrossEncoder.from_pretrained(ckpt)
    model = HookedCrossEncoder.from_pretrained(ckpt, tokenizer=tiny_checkpoint("bert"))
    assert model.tokenizer.vocab_size > 0


def test_three_label_head_is_refused(tiny_checkpoint, tmp_path):
    from circuits.tiny import tiny_cross_encoder

    tiny_cross_encoder(tmp_path, "bert", n_labels=3)
    with pytest.raises(CheckpointError, match="3-label head"):
        HookedCrossEncoder.from_pretrained(tmp_path)


def test_unknown_score_mode(tiny_checkpoint):
    with pytest.raises(CheckpointError, match="choose one of"):
        HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", 2), score="softmax")
    with pytest.raises(CheckpointError, match="needs a 2-logit head"):
        HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", 1), score="diff")


def test_unreachable_hub_id_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(CheckpointError, match=r"(?s)cannot read the config of 'nobody/no-such-reranker'.*hub"):
        HookedCrossEncoder.from_pretrained("nobody/no-such-reranker")
