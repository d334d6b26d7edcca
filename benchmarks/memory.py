"""Peak memory of patching as the number of pairs grows (pairs stream in batches, so it should stay flat).

Each configuration runs in a fresh child process, which reports its peak resident set size (``ru_maxrss``)
after loading the model and pairs, and after patching::

    python benchmarks/memory.py --shape minilm-l6 --pairs 32 1024 --kinds path heads
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import SHAPES, load_average, make_pairs, save_random_checkpoint  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(args: argparse.Namespace) -> None:
    import torch

    from circuits.model import HookedCrossEncoder, PairBatch
    from circuits.patching import AlignedPairs, patch_heads, path_patch

    model = HookedCrossEncoder.from_pretrained(save_random_checkpoint(args.shape, args.workdir / args.shape))
    pairs = make_pairs(args.pairs[0])
    batch = lambda ids: PairBatch(ids, pairs["attention_mask"], pairs["token_type_ids"])  # noqa: E731
    aligned = AlignedPairs(batch(pairs["baseline"]), batch(pairs["perturbed"]), pairs["query_ids"])
    with torch.inference_mode():
        model.logits(aligned.select(slice(0, args.batch_size)).baseline)  # allocator warm-up, one batch
    loaded = peak_rss_mib()
    run = patch_heads if args.kinds[0] == "heads" else path_patch
    start = time.perf_counter()
    result = run(model, aligned, batch_size=args.batch_size, n_boot=200, delta=0.0)
    print(json.dumps({"kind": args.kinds[0], "pairs": args.pairs[0], "shape": args.shape,
                      "batch_size": args.batch_size, "peak_rss_after_load_mib": round(loaded, 1),
                      "peak_rss_mib": round(peak_rss_mib(), 1), "seconds": round(time.perf_counter() - start, 1),
                      "result_shape": list(result.patched.shape), "load_1min": load_average()}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="minilm-l6", choices=sorted(SHAPES))
    parser.add_argument("--pairs", type=int, nargs="+", default=[32, 1024])
    parser.add_argument("--kinds", nargs="+", default=["path", "heads"], choices=["path", "heads"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "axiomtests-bench")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for kind in args.kinds:
        for n in args.pairs:
            command = [sys.executable, __file__, "--child", "--shape", args.shape, "--pairs", str(n), "--kinds",
                       kind, "--batch-size", str(args.batch_size), "--workdir", str(args.workdir)]
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            print(lines[-1] if lines else f"{kind} {n}: failed: {done.stderr[-1500:]}", flush=True)


if __name__ == "__main__":
    main()
