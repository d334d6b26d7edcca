"""Where the diagnostic datasets live in the cache: one folder per seed, source, tokenizer and sizes, built on
first use (:func:`ensure_datasets`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from axiomtests import perturb as P
from axiomtests.dataset_files import load_manifest, sha256_text, tokenizer_files_sha256
from axiomtests.diagnostics import BuildConfig, build_datasets
from axiomtests.sources import cache_dir
from circuits.errors import DatasetError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def default_dataset_dir(*, seed: int = 0, source: str | None = None, tokenizer: PreTrainedTokenizerBase | None = None,
                        config: BuildConfig | None = None) -> Path:
    """``<cache>/datasets/diagnostics-v<generator>-seed<seed>-<hash of source and tokenizer>``, plus a hash of
    the sizes when they are not the defaults (so several sizes stay cached side by side). A given tokenizer
    counts by the content of its saved files (:func:`~axiomtests.dataset_files.tokenizer_files_sha256`); none
    means the base all-MiniLM-L6-v2."""
    files = None if tokenizer is None else tokenizer_files_sha256(tokenizer)
    key = sha256_text(json.dumps([source, files]))[:10]
    if config is not None and config != BuildConfig():
        key += "-" + sha256_text(json.dumps(asdict(config), sort_keys=True))[:8]
    return cache_dir() / "datasets" / f"diagnostics-v{P.GENERATOR_VERSION}-seed{seed}-{key}"


def ensure_datasets(*, seed: int = 0, source: str | None = None, tokenizer: PreTrainedTokenizerBase | None = None,
                    config: BuildConfig | None = None) -> Path:
    """The folder of the datasets for these arguments, built first if it has no current manifest."""
    folder = default_dataset_dir(seed=seed, source=source, tokenizer=tokenizer, config=config)
    cfg = asdict(config or BuildConfig())
    try:
        manifest = load_manifest(folder)
        if manifest["seed"] == seed and manifest["config"] == cfg:
            return folder
    except DatasetError:
        pass
    build_datasets(folder, source, seed, tokenizer, config=config)
    return folder
