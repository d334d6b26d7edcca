"""Loading checks: what a checkpoint folder, a config and a tokenizer must be before the hooked model loads them.
Each refusal says what is wrong and how to fix it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from circuits.architectures import architecture_for
from circuits.errors import CheckpointError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_local_checkpoint(path: Path, allow_pickle: bool) -> None:
    if not path.exists():
        raise CheckpointError(f"checkpoint directory {str(path)!r} does not exist. Fix: give the directory that "
                              "holds config.json and model.safetensors, or a Hugging Face hub id.")
    if not path.is_dir():
        raise CheckpointError(f"{str(path)!r} is a file; a checkpoint is a directory with config.json, "
                              "model.safetensors and the tokenizer files (as written by save_pretrained).")
    if not (path / "config.json").exists():
        raise CheckpointError(f"no config.json in {str(path)!r}: not a Hugging Face checkpoint. "
                              "Fix: save the model with save_pretrained(dir).")
    files = [f.name for f in path.iterdir()]
    if not any(f.endswith(".safetensors") or f == "model.safetensors.index.json" for f in files):
        pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
        if not pickles:
            raise CheckpointError(f"no weights (model.safetensors) in {str(path)!r}. "
                                  "Fix: save the model with save_pretrained(dir).")
        if not allow_pickle:
            raise CheckpointError(
                f"{str(path)!r} has only pickle weights ({', '.join(sorted(pickles))}); loading pickle can run "
                "arbitrary code, so axiomtests refuses it. Fix: convert them to safetensors "
                "(model.save_pretrained(dir, safe_serialization=True)), or opt in with allow_pickle=True "
                "(--axiom-allow-pickle) if you trust the file.")


def check_config(config: Any, spec: str) -> None:
    if getattr(config, "auto_map", None):
        raise CheckpointError(
            f"{spec!r} declares custom code (auto_map={config.auto_map}); axiomtests never runs remote code. "
            "Fix: use a checkpoint of a built-in transformers architecture.")
    arch = architecture_for(config.model_type, spec)
    if arch.check is not None:
        arch.check(config, spec)
    archs = getattr(config, "architectures", None) or []
    if archs and not any(a.endswith("ForSequenceClassification") for a in archs):
        raise CheckpointError(
            f"{spec!r} is a {', '.join(archs)}, not a sequence-classification cross-encoder. "
            "Fix: use a reranker checkpoint (…ForSequenceClassification with 1 or 2 labels).")


def load_tokenizer(source: str, revision: str | None, spec: str, vocab_size: int) -> Any:
    from transformers import AutoTokenizer

    fix = ("Fix: save the tokenizer beside the weights (tokenizer.save_pretrained(dir)), "
           "or pass tokenizer=<dir or hub id> (--axiom-tokenizer).")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=False)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"no usable tokenizer for {spec!r} at {source!r}: {exc}. {fix}") from None
    # transformers 5 builds an empty tokenizer (special tokens only) from a folder without tokenizer files
    if len(tokenizer) < vocab_size // 2:
        raise CheckpointError(
            f"no usable tokenizer for {spec!r} at {source!r}: it has {len(tokenizer)} tokens but the model "
            f"embeds {vocab_size}, so the tokenizer files are missing or belong to another model. {fix}")
    return tokenizer


def _digest_tensor(digest: Any, prefix: str, tensor: torch.Tensor) -> None:
    t = tensor.detach().to("cpu").contiguous()
    digest.update(f"{prefix}{t.dtype}|{tuple(t.shape)}|".encode())
    digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def tensor_sha256(tensor: torch.Tensor) -> str:
    """sha256 of one tensor's dtype, shape and bytes."""
    digest = hashlib.sha256()
    _digest_tensor(digest, "", tensor)
    return digest.hexdigest()


def state_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 over every tensor of a state dict (sorted name, dtype, shape, bytes): the same weights give the same
    hash whatever file format or tensor order holds them."""
    digest = hashlib.sha256()
    for key, tensor in sorted(state.items()):
        _digest_tensor(digest, f"{key}|", tensor)
    return digest.hexdigest()
