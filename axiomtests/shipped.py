"""The default checkpoint as shipped: its trained weights live in the package, and a run assembles them.

``axiomtests/default_checkpoint/`` holds everything but the frozen word embeddings (``weights.safetensors``,
config, tokenizer files and model card) and ``MANIFEST.json``: the sha256 of each of those files, of the word
embedding tensor that the pinned base package supplies, and the per-tensor hash of the assembled model (the
``weights_sha256`` every report records). :func:`shipped_checkpoint_dir` checks all three and writes the
assembled Hugging Face folder once into the cache; nothing is trained. :func:`ship` writes the package folder
from a build of the recipe (a release: the baselines are regenerated with it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from axiomtests.sources import MINILM, base_model_dir, cache_dir, sha256_file
from circuits.errors import CheckpointError
from circuits.loading import state_sha256, tensor_sha256

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).with_name("default_checkpoint")
MANIFEST = "MANIFEST.json"
PARTS = "weights.safetensors"
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"  # name in the cross-encoder
BASE_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"  # name in the base model's file
FIX = ("restore the package folder (`git checkout -- axiomtests/default_checkpoint` in a clone, or reinstall "
       "axiomtests), or rebuild the weights with `python -m axiomtests.default_model --out DIR --ship`")


def manifest(folder: Path = SHIPPED_DIR) -> dict[str, Any]:
    """The shipped folder's manifest, refused with the fix when it is missing or unreadable."""
    path = folder / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"the shipped default checkpoint is missing ({path} does not exist); {FIX}") from None
    except ValueError as exc:
        raise CheckpointError(f"{path} is corrupt ({exc}); {FIX}") from None


def _verify_files(folder: Path, files: dict[str, str]) -> None:
    for name, expected in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"the shipped default checkpoint lacks {path}; {FIX}")
        got = sha256_file(path)
        if got != expected:
            raise CheckpointError(f"{path} has sha256 {got}, not the {expected} its manifest records: the file is "
                                  f"corrupt or was changed by hand; {FIX}")


def _base_word_embeddings(expected: str, base: Path | None) -> torch.Tensor:
    base = base or base_model_dir() / "model.safetensors"
    tensor = load_file(base)[BASE_WORD_EMBEDDINGS]
    got = tensor_sha256(tensor)
    if got != expected:
        raise CheckpointError(f"the word embeddings of {base} hash to {got}, not {expected}: that is not the "
                              f"pinned {MINILM}. Delete {base.parent} and run again")
    return tensor


def shipped_checkpoint_dir(folder: Path = SHIPPED_DIR, base: Path | None = None) -> Path:
    """The shipped default checkpoint as a Hugging Face folder in the cache, assembled (and verified) on first
    use from the package's parts and the word embeddings of ``base`` (default: the pinned base model's
    ``model.safetensors``). The folder's name carries the weights' hash, so a changed release assembles anew."""
    meta = manifest(folder)
    out = cache_dir() / "models" / f"{meta['name']}-{meta['weights_sha256'][:12]}"
    if (out / "config.json").exists():
        return out
    from filelock import FileLock

    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out.parent / f".{out.name}.lock")):
        if (out / "config.json").exists():
            return out
        _verify_files(folder, meta["files"])
        state = load_file(folder / PARTS)
        state[WORD_EMBEDDINGS] = _base_word_embeddings(meta["word_embeddings_sha256"], base)
        got = state_sha256(state)
        if got != meta["weights_sha256"]:
            raise CheckpointError(f"the assembled default checkpoint hashes to {got}, not the manifest's "
                                  f"{meta['weights_sha256']}; {FIX}")
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            for name in meta["files"]:
                if name != PARTS:
                    shutil.copyfile(folder / name, tmp / name)
            save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})  # safetensors orders tensors
            tmp.rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("default checkpoint assembled from the shipped weights at %s", out)
    return out


def ship(built: Path, folder: Path = SHIPPED_DIR, base: Path | None = None) -> dict[str, Any]:
    """Write the package folder from a built checkpoint: every tensor but the frozen word embeddings (which must
    equal those of ``base``, as in :func:`shipped_checkpoint_dir`), config, tokenizer files and model card, and the
    manifest."""
    state = load_file(built / "model.safetensors")
    embeddings = state.pop(WORD_EMBEDDINGS)
    expected = tensor_sha256(embeddings)
    _base_word_embeddings(expected, base)  # refuses a build whose word embeddings moved
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    save_file(state, str(folder / PARTS), metadata={"format": "pt"})
    names = [PARTS] + sorted(p.name for p in built.iterdir()
                             if p.is_file() and p.name != "model.safetensors" and not p.name.startswith("."))
    for name in names[1:]:
        shutil.copyfile(built / name, folder / name)
    card = json.loads((built / "model_card.json").read_text())
    meta = {"name": card["name"], "recipe_hash": card["recipe_hash"],
            "weights_sha256": state_sha256({**state, WORD_EMBEDDINGS: embeddings}),
            "model_file_sha256": sha256_file(built / "model.safetensors"),
            "word_embeddings": f"{BASE_WORD_EMBEDDINGS} of {MINILM}", "word_embeddings_sha256": expected,
            "files": {name: sha256_file(folder / name) for name in names}}
    (folder / MANIFEST).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("shipped %s (weights %s) into %s", built, meta["weights_sha256"][:12], folder)
    return meta
