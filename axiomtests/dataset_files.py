"""A built diagnostics folder: its layout (one JSON-lines file per axiom and ``manifest.json``), the fingerprints
its manifest records, and loading it back with every check.

:mod:`axiomtests.diagnostics` builds such a folder; :mod:`axiomtests.dataset_cache` keeps one per source,
tokenizer and sizes in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axiomtests import perturb as P
from axiomtests.sources import sha256_file
from circuits.errors import DatasetError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from axiomtests.corpus import Corpus

MANIFEST = "manifest.json"
FORMAT = 1
FILES = {axiom: f"{axiom.lower()}.jsonl" for axiom in P.AXIOMS}
SAVED_AS = "tokenizer"  # the folder a given tokenizer is saved to for its hash; the manifest's tokenizer dir_name


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def corpus_fingerprint(corpus: Corpus) -> str:
    """sha256 of the corpus content (docs, queries, qrels, retrieved lists) in canonical JSON."""
    content = {"docs": corpus.docs, "queries": corpus.queries, "qrels": corpus.qrels, "retrieved": corpus.retrieved}
    return sha256_text(json.dumps(content, sort_keys=True, ensure_ascii=False))


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """Tokenizer class, vocabulary size and the sha256 of its sorted vocabulary."""
    vocab = sorted(tokenizer.get_vocab().items())
    return {"class": type(tokenizer).__name__, "vocab_size": len(vocab),
            "vocab_sha256": sha256_text(json.dumps(vocab, ensure_ascii=False))}


def tokenizer_files_sha256(tokenizer: PreTrainedTokenizerBase) -> str:
    """sha256 over the files ``tokenizer.save_pretrained`` writes (sorted; name, NUL, bytes): the tokenizer by its
    content, wherever it was loaded from."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / SAVED_AS
        tokenizer.save_pretrained(folder)
        files = sorted(f for f in folder.iterdir() if f.is_file())
        return hashlib.sha256(b"".join(f.name.encode() + b"\0" + f.read_bytes() for f in files)).hexdigest()


# --------------------------------------------------------------------------- load

def load_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a built folder; :class:`DatasetError` if missing, unreadable or from another generator."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise DatasetError(f"no {MANIFEST} in {directory}: build the datasets first with "
                           f"axiomtests.diagnostics.build_datasets({str(directory)!r})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        version, fmt = manifest["generator"]["version"], manifest["format"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path} is corrupt ({exc!r}); delete {directory} and build again") from exc
    if fmt != FORMAT or version != P.GENERATOR_VERSION:
        raise DatasetError(f"{directory} is stale: built by generator version {version} (format {fmt}), this "
                           f"is version {P.GENERATOR_VERSION} (format {FORMAT}); build it again with build_datasets")
    return manifest


def load_pairs(directory: str | os.PathLike, axiom: str, *, tokenizer: PreTrainedTokenizerBase | None = None,
               validate: bool = True) -> list[P.Pair]:
    """The pairs of one ``axiom`` from a built folder, after checking them against the manifest.

    The file's sha256 and record count must match the manifest (else it is corrupt or edited), and a
    given ``tokenizer`` must have the vocabulary the folder was built with (else it is stale). With a
    tokenizer and ``validate=True`` every pair is re-validated. Any failure raises :class:`DatasetError`.
    """
    if axiom not in FILES:
        raise DatasetError(f"unknown axiom {axiom!r}; choose one of {sorted(FILES)}")
    manifest = load_manifest(directory)
    path = Path(directory) / FILES[axiom]
    entry = manifest["files"].get(FILES[axiom])
    if entry is None or not path.exists():
        raise DatasetError(f"{path} is missing or not in the manifest; build {directory} again")
    if sha256_file(path) != entry["sha256"]:
        raise DatasetError(f"{path} does not match its manifest sha256 (corrupt or edited); "
                           f"delete {directory} and build it again")
    if tokenizer is not None:
        built = {k: manifest["tokenizer"][k] for k in ("class", "vocab_size", "vocab_sha256")}
        if tokenizer_fingerprint(tokenizer) != built:
            raise DatasetError(f"{directory} was built for another tokenizer ({manifest['tokenizer']['dir_name']}, "
                               f"{built['vocab_size']} tokens): build it again with this model's tokenizer")
    try:
        pairs = [P.Pair.from_json(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path} has a malformed record ({exc!r}); delete {directory} and build it again") from exc
    if len(pairs) != entry["records"] or any(p.axiom != axiom for p in pairs):
        raise DatasetError(f"{path} holds {len(pairs)} records, not the manifest's {entry['records']} {axiom} "
                           f"records; delete {directory} and build it again")
    if tokenizer is not None and validate:
        for pair in pairs:
            P.validate_pair(pair, tokenizer)
    return pairs


def load_datasets(directory: str | os.PathLike, *, tokenizer: PreTrainedTokenizerBase | None = None,
                  validate: bool = True) -> dict[str, list[P.Pair]]:
    """Every axiom's pairs from a built folder (see :func:`load_pairs`)."""
    return {axiom: load_pairs(directory, axiom, tokenizer=tokenizer, validate=validate) for axiom in FILES}
