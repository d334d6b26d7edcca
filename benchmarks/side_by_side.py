"""Side-by-side timing of head patching and head→logit path patching on the same aligned TFC1-like pairs.

Methods, each timed as the median of ``--repeats`` interleaved rounds in this one process (peers in a subprocess
of their own venv each round, on the same checkpoint and pairs):

- ours: ``circuits.patching.patch_heads`` (activation, ``[layer, head]``) and ``path_patch`` (head→logit);
- naive HF hook loop: ``engine="reference"``, one full hooked forward per head (pairs batched);
- naive IOI loop: ``path_patch(engine="reference")``, one full forward per sender with every other head frozen;
- MechIR ``Cat.patch(patch_type="head_all")`` and TransformerLens ``get_act_patch_attn_head_out_all_pos``
  (``benchmarks/peers.py`` in ``--peers-python``; skipped with a message when that venv is absent);
- the floor: a plain batched forward, timed, times the forward-equivalents the task minimally needs.

Usage::

    python benchmarks/side_by_side.py --pairs 32 --repeats 3 --json results.json
    python benchmarks/side_by_side.py --device cuda --per-pass 12 --no-peers     # GPU: heads stacked per pass

Prints a table per model and one JSON line per measurement (``--json`` collects them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import SHAPES, load_average, make_pairs, median_time, save_random_checkpoint, set_threads  # noqa: E402

PEERS_PYTHON = "/work/peers-venv/bin/python"


# ------------------------------------------------------------------------------------------------ the floor
def layer_macs(m: int, f: int, p: int) -> dict[str, float]:
    """Multiply-accumulates of one post-LN BERT layer over ``p`` tokens, and of its parts."""
    full = p * (4 * m * m + 2 * p * m + 2 * m * f)  # q k v o projections, attention, MLP
    post = p * (m * m + 2 * m * f)  # output projection and MLP (what follows a patched z)
    cls_last = p * 2 * m * m + m * m + 2 * p * m + (m * m + 2 * m * f)  # all keys/values, the [CLS] row only
    cls_post = m * m + 2 * m * f  # output projection and MLP of the [CLS] row
    cls_mlp = 2 * m * f
    return {"full": full, "post": post, "cls_last": cls_last, "cls_post": cls_post, "cls_mlp": cls_mlp}


def forward_equivalents(kind: str, layers: int, heads: int, m: int, f: int, p: int) -> float:
    """Forward passes of work the task minimally needs: the two cached runs (baseline, perturbed) plus, per head,

    - ``heads`` (exact activation patching at layer l): the post-attention part of layer l, full layers
      l+1 … L−2 and the [CLS] row of the last layer (of layer l itself, when l is the last);
    - ``path`` (head→logit, every other head frozen): no attention after the sender, and only [CLS] reaches the
      logit, so the [CLS] row's output projection and MLP at layer l and its MLPs after it.
    """
    cost = layer_macs(m, f, p)
    per_layer = []
    for layer in range(layers):
        if kind == "heads":
            work = (cost["cls_post"] if layer == layers - 1 else
                    cost["post"] + max(0, layers - 2 - layer) * cost["full"] + cost["cls_last"])
        else:
            work = cost["cls_post"] + (layers - 1 - layer) * cost["cls_mlp"]
        per_layer.append(heads * work)
    return 2 + sum(per_layer) / (layers * cost["full"])


# ------------------------------------------------------------------------------------------------ runs
def ours(checkpoint: Path, pairs: dict[str, Any], args: argparse.Namespace) -> tuple[dict[str, Any], dict]:
    """Our model on the pairs: its shape, its unpatched-score gap to HF, and the timed runs (thunks)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from circuits.model import HookedCrossEncoder, PairBatch
    from circuits.patching import AlignedPairs, patch_heads, path_patch

    model = HookedCrossEncoder.from_pretrained(checkpoint, device=args.device)
    types = pairs["token_type_ids"] if model.arch.uses_token_type_ids else None
    batch = lambda ids: PairBatch(ids, pairs["attention_mask"], types)  # noqa: E731
    aligned = AlignedPairs(batch(pairs["baseline"]), batch(pairs["perturbed"]), pairs["query_ids"]).to(args.device)
    hf = AutoModelForSequenceClassification.from_pretrained(checkpoint, attn_implementation="eager").eval()
    with torch.inference_mode():
        reference = hf(**batch(pairs["baseline"]).inputs()).logits[:, 0]
        match = float((model(aligned.baseline).cpu() - reference).abs().max())
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def forward() -> None:
        model.logits(aligned.baseline)
        sync()

    forward()  # warm-up (allocator, kernels)
    common = dict(n_boot=1, delta=0.0, batch_size=args.batch_size, variants_per_pass=args.per_pass)
    runs = {("forward", "plain HF forward"): forward,
            ("heads", "ours"): lambda: patch_heads(model, aligned, **common),
            ("heads", "naive HF hook loop"): lambda: patch_heads(model, aligned, engine="reference", **common),
            ("path", "ours"): lambda: path_patch(model, aligned, **common),
            ("path", "naive IOI loop"): lambda: path_patch(model, aligned, engine="reference", **common)}
    if args.skip_naive:
        runs = {key: run for key, run in runs.items() if "naive" not in key[1]}
    if args.methods:
        runs = {key: run for key, run in runs.items() if key[0] == "forward" or "/".join(key) in args.methods}
    cfg = model.cfg
    shape = dict(layers=cfg.n_layers, heads=cfg.n_heads, m=cfg.d_model, f=model.model.config.intermediate_size,
                 p=pairs["baseline"].shape[1], max_abs_diff_vs_hf=match, model_type=cfg.model_type)
    return shape, runs


def measure(checkpoint: Path, pairs: dict[str, Any], pairs_file: Path, args: argparse.Namespace, label: str
            ) -> list[dict[str, Any]]:
    """Every method once per round, rounds interleaved (the CPU is shared: contention hits all alike);
    median of the rounds. Peers run in their own venv once per round."""
    shape, runs = ours(checkpoint, pairs, args)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    last: dict[tuple[str, str], Any] = {}
    peer_records: list[dict[str, Any]] = []
    loads = []
    for _ in range(args.repeats):
        loads.append(load_average())
        for key, run in runs.items():
            seconds, last[key] = median_time(run, 3 if key[0] == "forward" else 1)
            times[key].append(seconds)
            print(f"{label} {key}: {seconds:.2f} s (load {load_average():.1f})", file=sys.stderr, flush=True)
        if shape["model_type"] == "bert":  # MechIR and TransformerLens load BERT only
            peer_records += peers(checkpoint, pairs_file, args, label)
    records = [{"label": label, "task": task, "method": method, "seconds": statistics.median(ts), "runs": ts,
                "max_abs_diff_vs_hf": shape["max_abs_diff_vs_hf"], "load_1min": loads}
               for (task, method), ts in times.items()]
    by_peer: dict[str, list[dict[str, Any]]] = {}
    for record in peer_records:
        by_peer.setdefault(record["method"], []).append(record)
    for method, found in by_peer.items():
        runs_s = [r["seconds"] for r in found]
        records.append({**found[0], "seconds": statistics.median(runs_s), "runs": runs_s})
    forward = statistics.median(times[("forward", "plain HF forward")])
    for task, naive in (("heads", "naive HF hook loop"), ("path", "naive IOI loop")):
        fe = forward_equivalents(task, shape["layers"], shape["heads"], shape["m"], shape["f"], shape["p"])
        records.append({"label": label, "task": task, "method": "floor", "seconds": fe * forward,
                        "forward_equivalents": fe})
        if (task, naive) in last:
            diff = abs(last[(task, "ours")].patched - last[(task, naive)].patched).max()
            records.append({"label": label, "task": task, "method": "ours vs naive: max |Δ patched score|",
                            "value": float(diff)})
    return records


def peers(checkpoint: Path, pairs_file: Path, args: argparse.Namespace, label: str) -> list[dict[str, Any]]:
    if args.no_peers or args.device != "cpu":
        return []
    if not Path(args.peers_python).exists():
        print(f"skipping MechIR and TransformerLens: no peers venv at {args.peers_python} "
              "(python3 -m venv /work/peers-venv && /work/peers-venv/bin/pip install torch==2.13.0 mechir)")
        return []
    command = [args.peers_python, str(Path(__file__).parent / "peers.py"), "--checkpoint", str(checkpoint),
               "--pairs", str(pairs_file), "--repeats", "1", "--label", label]
    if args.peers:
        command += ["--only", args.peers]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"peers failed ({done.returncode}): {done.stderr[-2000:]}")
        return []
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [{**r, "task": "heads", "method": {"mechir": "MechIR head_all",
                                               "transformer_lens": "TransformerLens"}[r["peer"]]} for r in records]


# ------------------------------------------------------------------------------------------------ report
def table(records: list[dict[str, Any]], label: str) -> str:
    """Markdown table of one model: seconds, × ours, measured/floor."""
    rows = [r for r in records if r.get("label") == label and "seconds" in r]
    forward = next(r["seconds"] for r in rows if r["task"] == "forward")
    lines = [f"plain batched forward: {forward:.3f} s", "",
             "| task | method | seconds | × ours | / floor | unpatched scores = HF |", "|---|---|---|---|---|---|"]
    for task in ("heads", "path"):
        mine = next((r["seconds"] for r in rows if r["task"] == task and r["method"] == "ours"), None)
        floor = next((r["seconds"] for r in rows if r["task"] == task and r["method"] == "floor"), None)
        for r in (r for r in rows if r["task"] == task):
            ratio = f"{r['seconds'] / mine:.2f}" if mine else ""
            to_floor = f"{r['seconds'] / floor:.2f}" if floor and r["method"] != "floor" else ""
            diff = r.get("max_abs_diff_vs_hf")
            same = "" if diff is None else f"{'yes' if diff < 1e-4 else 'NO'} ({diff:.1e})"
            name = r["method"] + (f" ({r['forward_equivalents']:.1f} fwd-eq)" if "forward_equivalents" in r else "")
            lines.append(f"| {task} | {name} | {r['seconds']:.2f} | {ratio} | {to_floor} | {same} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=["minilm-l6", "minilm-l12"], choices=sorted(SHAPES))
    parser.add_argument("--methods", nargs="+", default=None,
                        help="only these of ours' runs, e.g. 'heads/ours' 'path/naive IOI loop' (peers: --no-peers)")
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--length", type=int, default=107)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--per-pass", type=int, default=None, help="variants stacked per forward (None: auto)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "axiomtests-bench")
    parser.add_argument("--peers-python", default=PEERS_PYTHON)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--peers", choices=("mechir", "transformer_lens"), default=None, help="only this peer")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--default-checkpoint", action="store_true",
                        help="use the embedded default checkpoint for minilm-l6 when it is built")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    set_threads()

    import torch

    clock_name = "CPU time" if os.environ.get("AXIOM_BENCH_CLOCK") == "cpu" else "wall time"
    records: list[dict[str, Any]] = [{"clock": clock_name, "machine": platform.processor() or platform.machine(),
                                      "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                      "device": args.device, "pairs": args.pairs, "length": args.length,
                                      "cuda": torch.cuda.get_device_name() if args.device.startswith("cuda") else None}]
    pairs = make_pairs(args.pairs, args.length)
    args.workdir.mkdir(parents=True, exist_ok=True)
    pairs_file = args.workdir / f"pairs-{args.pairs}-{args.length}.pt"
    torch.save(pairs, pairs_file)
    for shape in args.shapes:
        checkpoint = default_or_random(shape, args)
        label = f"{shape} ({'default checkpoint' if checkpoint.name != shape else 'random weights'})"
        found = measure(checkpoint, pairs, pairs_file, args, label)
        records += found
        for record in found:
            print(json.dumps(record), flush=True)
        print(f"\n### {label}: {args.pairs} pairs × {args.length} tokens, {args.device}, "
              f"{torch.get_num_threads()} threads, {clock_name}, median of {args.repeats}\n")
        print(table(records, label), flush=True)
    if args.json:
        args.json.write_text(json.dumps(records, indent=1) + "\n")


def default_or_random(shape: str, args: argparse.Namespace) -> Path:
    if shape == "minilm-l6" and args.default_checkpoint:
        from axiomtests.default_model import default_checkpoint_dir
        from circuits.errors import CheckpointError

        try:
            return default_checkpoint_dir()
        except CheckpointError as exc:
            print(f"default checkpoint unavailable ({exc}); using random weights")
    return save_random_checkpoint(shape, args.workdir / shape)


if __name__ == "__main__":
    main()
