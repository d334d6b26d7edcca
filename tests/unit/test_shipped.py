"""The shipped default weights: parts in the package, assembled with the base model's word embeddings, every
file and the result checked by sha256, each refusal with its fix."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file, save_file

from axiomtests import shipped
from circuits.errors import CheckpointError
from circuits.loading import state_sha256
from circuits.model import HookedCrossEncoder
from circuits.tiny import tiny_cross_encoder


@pytest.fixture
def built(tmp_path):
    """A tiny 'build' with a model card, and a base model file holding its word embeddings."""
    folder = tiny_cross_encoder(tmp_path / "built")
    (folder / "model_card.json").write_text(json.dumps({"name": "tiny-default", "recipe_hash": "abc"}))
    state = load_file(folder / "model.safetensors")
    base = tmp_path / "base.safetensors"
    save_file({shipped.BASE_WORD_EMBEDDINGS: state[shipped.WORD_EMBEDDINGS]}, str(base))
    return folder, base


def test_ship_then_assemble_gives_the_built_weights(built, tmp_path, monkeypatch):
    folder, base = built
    monkeypatch.setenv("AXIOMTESTS_CACHE", str(tmp_path / "cache"))
    meta = shipped.ship(folder, tmp_path / "pkg", base)
    parts = load_file(tmp_path / "pkg" / shipped.PARTS)
    assert shipped.WORD_EMBEDDINGS not in parts
    assert set(meta["files"]) >= {shipped.PARTS, "config.json", "model_card.json"}
    out = shipped.shipped_checkpoint_dir(tmp_path / "pkg", base)
    assert out.parent == tmp_path / "cache" / "models" and meta["weights_sha256"][:12] in out.name
    original = HookedCrossEncoder.from_pretrained(folder)
    assembled = HookedCrossEncoder.from_pretrained(out)
    assert assembled.weights_sha256() == original.weights_sha256() == meta["weights_sha256"]
    assert shipped.sha256_file(out / "model.safetensors") == meta["model_file_sha256"]
    assert shipped.shipped_checkpoint_dir(tmp_path / "pkg", base) == out  # assembled once, then reused


def test_corrupt_or_missing_shipped_files_are_refused(built, tmp_path, monkeypatch):
    folder, base = built
    monkeypatch.setenv("AXIOMTESTS_CACHE", str(tmp_path / "cache"))
    pkg = tmp_path / "pkg"
    shipped.ship(folder, pkg, base)
    data = bytearray((pkg / shipped.PARTS).read_bytes())
    data[-1] ^= 0xFF
    (pkg / shipped.PARTS).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"weights\.safetensors has sha256 .*`git checkout"):
        shipped.shipped_checkpoint_dir(pkg, base)
    assert not any((tmp_path / "cache" / "models").glob("tiny-default-*"))
    (pkg / "config.json").unlink()
    with pytest.raises(CheckpointError, match="lacks .*config.json"):
        shipped.shipped_checkpoint_dir(pkg, base)
    (pkg / shipped.MANIFEST).write_text("{not json")
    with pytest.raises(CheckpointError, match="MANIFEST.json is corrupt"):
        shipped.shipped_checkpoint_dir(pkg, base)
    (pkg / shipped.MANIFEST).unlink()
    with pytest.raises(CheckpointError, match="shipped default checkpoint is missing"):
        shipped.shipped_checkpoint_dir(pkg, base)


def test_other_base_word_embeddings_are_refused(built, tmp_path, monkeypatch):
    folder, base = built
    monkeypatch.setenv("AXIOMTESTS_CACHE", str(tmp_path / "cache"))
    shipped.ship(folder, tmp_path / "pkg", base)
    tensor = load_file(base)[shipped.BASE_WORD_EMBEDDINGS]
    save_file({shipped.BASE_WORD_EMBEDDINGS: tensor + 1}, str(base))
    with pytest.raises(CheckpointError, match="not the pinned"):
        shipped.shipped_checkpoint_dir(tmp_path / "pkg", base)
    with pytest.raises(CheckpointError, match="not the pinned"):
        shipped.ship(folder, tmp_path / "pkg2", base)


def test_the_shipped_default_matches_its_manifest():
    """The committed parts hash to what the manifest records, and the manifest to the committed model card."""
    meta = shipped.manifest()
    for name, expected in meta["files"].items():
        assert shipped.sha256_file(shipped.SHIPPED_DIR / name) == expected, name
    card = json.loads((shipped.SHIPPED_DIR / "model_card.json").read_text())
    assert card["model_file_sha256"] == meta["model_file_sha256"]
    assert state_sha256(load_file(shipped.SHIPPED_DIR / shipped.PARTS)) != meta["weights_sha256"]  # embeddings apart
