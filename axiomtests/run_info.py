"""The checkpoint and environment sections every report starts with."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

from circuits.model import HookedCrossEncoder
from circuits.report import Report


def checkpoint_info(model: HookedCrossEncoder) -> dict[str, Any]:
    """Name, architecture, shape and weight hash of the checkpoint under test."""
    cfg = model.cfg
    return {"name": model.name, "architecture": model.arch.name, "model_type": cfg.model_type,
            "layers": cfg.n_layers, "heads": cfg.n_heads, "d_model": cfg.d_model, "labels": cfg.n_labels,
            "score": model.score_mode, "max_length": cfg.max_length, "weights_sha256": model.weights_sha256()}


def environment_info(device: str, seed: int, pairs: int, corpus: Sequence[str] | str | None = None
                     ) -> dict[str, Any]:
    """Versions and settings that a result depends on (nothing time-dependent)."""
    import numpy
    import torch
    import transformers

    from axiomtests import __version__
    from axiomtests.claims import REGISTRY_VERSION
    from axiomtests.gate import corpus_label

    return {"axiomtests": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": numpy.__version__, "device": device, "seed": seed,
            "pairs": pairs, "corpus": corpus_label(corpus), "claims_registry": REGISTRY_VERSION}


def new_report(session: Any, model: HookedCrossEncoder) -> Report:
    """A Report for ``model`` run under ``session`` (an AxiomSession)."""
    return Report(checkpoint=checkpoint_info(model), environment=environment_info(session.device, session.seed,
                                                                                     session.pairs, session.corpora))
