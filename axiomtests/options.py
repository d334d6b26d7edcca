"""Option parsing shared by the pytest plugin and the CLI (pytest-benchmark style: prefixed groups)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

AddOption = Callable[..., Any]


def _number(value: str, cast: type, ok: Callable[[Any], bool], rule: str) -> Any:
    """``value`` cast to ``cast`` and checked by ``ok``; an ArgumentTypeError that states ``rule`` otherwise."""
    try:
        number = cast(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {'an integer' if cast is int else 'a number'}") from None
    if not ok(number):
        raise argparse.ArgumentTypeError(f"must {rule}, got {number}")
    return number


def parse_positive_int(value: str) -> int:
    return _number(value, int, lambda n: n >= 1, "be at least 1")


def parse_fraction(value: str) -> float:
    return _number(value, float, lambda n: 0 < n < 1, "lie strictly between 0 and 1")


def parse_non_negative(value: str) -> float:
    return _number(value, float, lambda n: n >= 0, "be at least 0")


def parse_device(value: str) -> str:
    """A device name this machine can use: refused at parse time, before a checkpoint is built or loaded."""
    if value == "cpu":
        return value
    from circuits.device import usable_device
    from circuits.errors import DeviceError

    try:
        usable_device(value)
    except DeviceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def parse_claim_selection(value: str) -> tuple[str, ...]:
    """``'axiom.*, idf.u0'`` → the patterns (checked against the registry, user claims included, at configure)."""
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    if not parts:
        raise argparse.ArgumentTypeError("no claim pattern given: pass e.g. 'axiom.*,idf.u0'")
    return parts


def unmatched_claim_patterns(parts: tuple[str, ...]) -> str | None:
    """Why a selection names no claim of the registry, or None."""
    from fnmatch import fnmatch

    from axiomtests.claims import CLAIMS

    for part in parts:
        if not any(fnmatch(claim_id, part) for claim_id in CLAIMS):
            return f"--axiom-claims: {part!r} matches no claim; claims: {', '.join(sorted(CLAIMS))}"
    return None


def add_model_options(addoption: AddOption, prefix: str = "axiom-") -> None:
    """Options that choose and load the checkpoint."""
    addoption("--checkpoint", metavar="DIR_OR_HUB_ID", default=None,
              help="Cross-encoder to test: a directory or a Hugging Face hub id. "
                   "Default: the embedded default checkpoint (built on first use).")
    addoption(f"--{prefix}tokenizer", metavar="DIR_OR_HUB_ID", default=None,
              help="Tokenizer, when it is not saved beside the weights. Default: %(default)r")
    addoption(f"--{prefix}revision", metavar="REV", default=None,
              help="Hub revision (branch, tag or commit) of --checkpoint. Default: %(default)r")
    addoption(f"--{prefix}allow-pickle", action="store_true", default=False,
              help="Allow pickle-only weights (pytorch_model.bin); pickle can run code. Default: %(default)r")
    addoption(f"--{prefix}device", metavar="DEVICE", default="cpu", type=parse_device,
              help="Torch device. Default: %(default)r")
    addoption(f"--{prefix}score", metavar="MODE", default="auto",
              help="Score of a 2-logit head: diff (logit1-logit0), logit1, logprob1. Default: %(default)r")


def add_run_options(addoption: AddOption, prefix: str = "axiom-") -> None:
    """Options that size and record a run."""
    addoption(f"--{prefix}seed", metavar="N", default=0, type=int,
              help="Seed of every sample, the diagnostic datasets included. Default: %(default)r")
    addoption(f"--{prefix}pairs", metavar="N", default=64, type=parse_positive_int,
              help="Sample size of every check: N TFC1/STMC1 pairs per stratum, N·50/64 TFC2/LNC1 queries, N "
                   "patching pairs (what each claim needs: docs/findings/sample-size.md). Default: %(default)r")
    addoption(f"--{prefix}corpus", metavar="SOURCE", default=None, action="append",
              help="Base corpus: a BEIR folder or an ir_datasets id. Default: the embedded TREC RAG 2024 sample. "
                   "Repeat it to add corpora to SemanticBM's generalisation (App. G): their passages join the "
                   "query-length groups, and each corpus gets a row of the per-dataset table")
