"""Peers for ``side_by_side.py``: MechIR's ``Cat`` head_all patching and TransformerLens' head patching.

Runs in the peers' own venv, since MechIR pins older transformers and numpy::

    python3 -m venv peers-venv && peers-venv/bin/pip install torch==2.13.0 mechir
    python benchmarks/side_by_side.py --peers-python peers-venv/bin/python      # the driver runs this script
    peers-venv/bin/python benchmarks/peers.py --checkpoint DIR --pairs pairs.pt --repeats 3   # or by hand

``pairs.pt`` is what ``common.make_pairs`` returns (saved by the driver). Prints one JSON line per peer:
median seconds over ``--repeats`` and the largest |unpatched score − Hugging Face score|.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from common import emit, load_average, median_time, set_threads  # noqa: E402


def hf_scores(checkpoint: str, inputs: dict) -> "torch.Tensor":
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, attn_implementation="eager").eval()
    with torch.no_grad():
        return model(**inputs).logits[:, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--pairs", required=True, type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--only", choices=("mechir", "transformer_lens"), default=None)
    args = parser.parse_args()
    set_threads()

    import torch
    import transformer_lens.patching as tl_patching
    from mechir import Cat

    pairs = torch.load(args.pairs)
    base = {"input_ids": pairs["baseline"], "attention_mask": pairs["attention_mask"],
            "token_type_ids": pairs["token_type_ids"]}
    pert = {**base, "input_ids": pairs["perturbed"]}
    reference = hf_scores(args.checkpoint, base)
    from importlib.metadata import version

    versions = {name: version(name) for name in ("mechir", "transformer-lens", "transformers", "torch", "numpy")}

    cat = Cat(args.checkpoint, num_labels=1, tokenizer=SimpleNamespace())
    if args.only in (None, "mechir"):
        mechir_scores, _ = cat.score(base)
        seconds, _ = median_time(lambda: cat.patch(base, pert, patch_type="head_all"), args.repeats)
        emit({"peer": "mechir", "label": args.label, "seconds": seconds, "repeats": args.repeats,
              "max_abs_diff_vs_hf": float((mechir_scores - reference).abs().max()), "load": load_average(),
              "versions": versions})
    if args.only == "mechir":
        return

    # TransformerLens' own patching, as shipped: run_with_hooks(tokens) cannot pass token_type_ids or a mask
    encoder = cat._model

    def logits(hidden: torch.Tensor) -> torch.Tensor:
        return encoder.classifier(encoder.pooler(hidden))[:, 0]

    with torch.no_grad():
        tl_scores = logits(encoder(base["input_ids"]))
        base_tl, pert_tl = tl_scores, logits(encoder(pert["input_ids"]))
        _, cached = encoder.run_with_cache(pert["input_ids"])
        cache = {name.removeprefix("_model."): value for name, value in cached.items()}  # Cat renamed its hooks

        def metric(hidden: torch.Tensor) -> torch.Tensor:
            return ((logits(hidden) - base_tl) / (pert_tl - base_tl)).mean()

        seconds, _ = median_time(lambda: tl_patching.get_act_patch_attn_head_out_all_pos(
            encoder, base["input_ids"], cache, metric), args.repeats)
    emit({"peer": "transformer_lens", "label": args.label, "seconds": seconds, "repeats": args.repeats,
          "max_abs_diff_vs_hf": float((tl_scores - reference).abs().max()), "load": load_average(),
          "versions": versions})


if __name__ == "__main__":
    main()
