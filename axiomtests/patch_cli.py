"""``axiomtests patch``: activation or path patching on a diagnostic dataset; writes effects JSON and a heatmap.

Examples::

    axiomtests patch --checkpoint DIR --dataset tfc1 --kind path-to-logit --out effects.json
    axiomtests patch --checkpoint DIR --dataset tfc1 --kind path-to-heads --receivers 10.1,10.4 \\
        --receiver-input k --out to_rsh.json
    axiomtests patch --checkpoint DIR --pairs-file pairs.jsonl --kind activation-heads

A pairs file holds one JSON object per line: ``{"query_id", "query", "baseline", "perturbed"}``, the two
documents padded to the same token length (see ``circuits.patching.align_pairs``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from axiomtests.options import (add_model_options, add_run_options, parse_fraction, parse_non_negative,
                                parse_positive_int)
from circuits.errors import DatasetError, InputError

KINDS: dict[str, dict[str, Any]] = {
    "activation-heads": dict(sites=("z",)),
    "activation-heads-by-pos": dict(sites=("z_pos",)),
    "activation-pattern": dict(sites=("pattern_row",)),
    "activation-block": dict(sites=("resid_pre", "attn_out", "mlp_out")),
    "path-to-logit": dict(sites=("z",), path=True),
    "path-to-heads": dict(sites=("z",), path=True),
    "path-resid-to-heads": dict(sites=("resid_pre", "attn_out", "mlp_out"), path=True),
}
DATASETS = ("tfc1", "stmc1", "tfc2", "lnc1", "filler")
RECORD_KEYS = ("query_id", "query", "baseline", "perturbed")


def parse_heads(value: str) -> tuple[tuple[int, int], ...]:
    """``"10.1,10.4"`` -> ``((10, 1), (10, 4))``."""
    heads = []
    for item in filter(None, (v.strip() for v in value.split(","))):
        layer, dot, head = item.partition(".")
        if not dot or not layer.isdigit() or not head.isdigit():
            raise argparse.ArgumentTypeError(f"{item!r} is not a head: write LAYER.HEAD, e.g. 10.1")
        heads.append((int(layer), int(head)))
    if not heads:
        raise argparse.ArgumentTypeError("no heads given: write LAYER.HEAD[,LAYER.HEAD…], e.g. 10.1,10.4")
    return tuple(heads)


def add_patch_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``patch`` subcommand to an ``add_subparsers()`` object; its ``func`` is :func:`patch_command`."""
    parser = subparsers.add_parser(
        "patch", help="activation / path patching on a diagnostic dataset: effects JSON and heatmap PNG",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(parser.add_argument, prefix="")
    add_run_options(parser.add_argument, prefix="")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--dataset", metavar="NAME", choices=DATASETS, default="tfc1",
                        help=f"diagnostic dataset ({', '.join(DATASETS)}), built and cached on first use. "
                             "Default: %(default)r")
    source.add_argument("--pairs-file", metavar="FILE.jsonl", type=Path, default=None,
                        help="aligned pairs to patch instead: JSON lines with " + ", ".join(RECORD_KEYS) +
                             ". Default: %(default)r")
    parser.add_argument("--kind", choices=sorted(KINDS), default="path-to-logit",
                        help="what to patch. Default: %(default)r")
    parser.add_argument("--receivers", metavar="L.H[,L.H…]", type=parse_heads, default=(),
                        help="receiver heads of path-to-heads / path-resid-to-heads. Default: none")
    parser.add_argument("--receiver-input", choices=("q", "k", "v"), default="q",
                        help="which input of the receivers receives. Default: %(default)r")
    parser.add_argument("--freeze-mlps", action="store_true", default=False,
                        help="path patching: freeze MLP outputs too. Default: %(default)r")
    parser.add_argument("--batch-size", metavar="N", type=parse_positive_int, default=32,
                        help="pairs per streamed batch. Default: %(default)r")
    parser.add_argument("--delta", metavar="D", type=parse_non_negative, default=0.01,
                        help="drop pairs with |perturbed - baseline| < D. Default: %(default)r")
    parser.add_argument("--n-boot", metavar="N", type=parse_positive_int, default=1000,
                        help="bootstrap replicates (resampling queries). Default: %(default)r")
    parser.add_argument("--ci-level", metavar="P", type=parse_fraction, default=0.95,
                        help="confidence level. Default: %(default)r")
    parser.add_argument("--out", metavar="FILE.json", type=Path, default=Path("effects.json"),
                        help="effects JSON to write. Default: %(default)r")
    parser.add_argument("--png", metavar="FILE.png", type=Path, default=None,
                        help="heatmap to write. Default: --out with the suffix .png")
    parser.set_defaults(func=patch_command)
    return parser


def load_pair_records(path: Path) -> list[dict[str, str]]:
    """Records of a pairs file; :class:`DatasetError` naming the line of a malformed one."""
    if not path.exists():
        raise DatasetError(f"pairs file {str(path)!r} does not exist")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            records.append({key: str(record[key]) for key in RECORD_KEYS})
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: not a pair record ({exc!r}); each line must be a JSON object "
                               f"with {', '.join(RECORD_KEYS)}") from None
    if not records:
        raise DatasetError(f"{path} holds no pair records")
    return records


def _dataset_records(args: argparse.Namespace, model: Any) -> tuple[list[dict[str, str]], dict]:
    from axiomtests.dataset_cache import ensure_datasets
    from axiomtests.dataset_files import load_manifest, load_pairs

    source = args.corpus[0] if args.corpus else None  # the base corpus (extra ones only feed SemanticBM)
    folder = ensure_datasets(seed=args.seed, source=source, tokenizer=model.tokenizer)
    axiom = args.dataset.upper()
    pairs = load_pairs(folder, axiom, tokenizer=model.tokenizer, validate=False)
    files = load_manifest(folder)["files"]
    info = {"name": axiom, "folder": str(folder), "file": files.get(f"{args.dataset}.jsonl")}
    return [{key: getattr(p, key) for key in RECORD_KEYS} for p in pairs], info


def _sample(records: list[dict[str, str]], n: int, seed: int) -> list[dict[str, str]]:
    """At most ``n`` records, a seeded sample kept in file order."""
    if len(records) <= n:
        return records
    keep = sorted(random.Random(f"{seed}/patch").sample(range(len(records)), n))
    return [records[i] for i in keep]


def patch_command(args: argparse.Namespace) -> int:
    """Run the patching ``args.kind`` asks for and write ``args.out`` (JSON) and the heatmap PNG."""
    from circuits.model import HookedCrossEncoder
    from circuits.patching import align_pairs, generic_patch
    from circuits.plots import plot_effects

    options = KINDS[args.kind]
    if args.kind.endswith("to-heads") and not args.receivers:
        raise InputError(f"--kind {args.kind} needs --receivers L.H[,L.H…], e.g. --receivers 10.1,10.4")
    if args.receivers and not args.kind.endswith("to-heads"):
        raise InputError(f"--receivers belongs to path-to-heads / path-resid-to-heads, not --kind {args.kind}")
    if args.checkpoint is None:
        from axiomtests.default_model import default_checkpoint_dir

        args.checkpoint = str(default_checkpoint_dir())
    model = HookedCrossEncoder.from_pretrained(
        args.checkpoint, revision=args.revision, allow_pickle=args.allow_pickle, device=args.device,
        score=args.score, tokenizer=args.tokenizer)
    if args.pairs_file is not None:
        records, dataset = load_pair_records(args.pairs_file), {"name": "pairs-file", "file": str(args.pairs_file)}
    else:
        records, dataset = _dataset_records(args, model)
    records = _sample(records, args.pairs, args.seed)
    pairs = align_pairs(model, [r["query"] for r in records], [r["baseline"] for r in records],
                        [r["perturbed"] for r in records], [r["query_id"] for r in records])
    path_options = dict(receivers=args.receivers, receiver_input=args.receiver_input,
                        freeze_mlps=args.freeze_mlps) if options.get("path") else {}
    result = generic_patch(model, pairs, **options, **path_options, batch_size=args.batch_size, delta=args.delta,
                           n_boot=args.n_boot, level=args.ci_level, seed=args.seed)
    out = result.to_dict(per_pair=True)
    out["checkpoint"] = {"name": args.checkpoint, "weights_sha256": model.weights_sha256(),
                         "layers": model.cfg.n_layers, "heads": model.cfg.n_heads}
    out["dataset"] = dataset
    out["command"] = {"kind": args.kind, "pairs": len(pairs), "seed": args.seed, "device": args.device}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    png = plot_effects(result, args.png or args.out.with_suffix(".png"),
                       title=f"{args.kind} on {dataset['name']}: {result.n_pairs} pairs ({result.n_dropped} "
                             f"dropped, |Δ| < {args.delta})")
    top = ", ".join(f"{label} {value:+.3f}" for label, value in result.top(5))
    sys.stdout.write(f"{args.kind}: {result.n_pairs} pairs kept, {result.n_dropped} dropped; top: {top}\n"
                     f"wrote {args.out} and {png}\n")
    return 0
