"""The sweep's speed-up over the same tasks one after the other, measured in one run on this machine.

    python benchmarks/sweep_speedup.py --workdir /tmp/sweep-bench [--checkpoints 3] [--seeds 0 1] [--workers 2]

Builds ``--checkpoints`` tiny random cross-encoders (2 layers, 4 heads; a stand-in for a training run's steps),
then runs ``axiomtests sweep`` over them × ``--seeds`` twice into separate folders: ``--engine serial`` and
``--engine ray --workers N``. Prints wall times, the ratio, and whether both sweeps reached the same verdicts.
The suite is limited to the claims a tiny model can compute on a three-passage corpus, so the tasks are short:
process start-up and imports weigh more than they would on a real checkpoint.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CLAIMS = "idf.u0"  # with the faithfulness checks, which always run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--checkpoints", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from axiomtests.corpus import Corpus, write_beir
    from circuits.tiny import tiny_cross_encoder

    work = args.workdir.resolve()
    for i in range(args.checkpoints):
        if not (work / "run" / f"step-{i}" / "config.json").exists():
            tiny_cross_encoder(work / "run" / f"step-{i}", "bert", 1, i)
    corpus = Corpus(name="tiny", docs={"d1": "bm25 is a ranking function for search",
                                       "d2": "attention heads score relevance", "d3": "the river bank and the money bank"},
                    queries={"q1": "what is bm25", "q2": "attention ranking"}, qrels={"q1": {"d1": 1}, "q2": {"d2": 1}},
                    retrieved={"q1": ["d1", "d3"], "q2": ["d2", "d3"]}, provenance={})
    beir = write_beir(corpus, work / "beir")
    timings = {}
    for engine in ("serial", "ray"):
        out = work / engine
        subprocess.run(["rm", "-rf", str(out)], check=True)
        argv = [sys.executable, "-m", "axiomtests.cli", "sweep", str(work / "run"), "--seeds", *map(str, args.seeds),
                "--pairs", "8", "--out", str(out), "--engine", engine, "--workers", str(args.workers), "--",
                f"--axiom-claims={CLAIMS}", f"--axiom-corpus={beir}"]
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        timings[engine] = time.perf_counter() - start
    verdicts = {e: [[c["cells"][k]["verdicts"] for k in sorted(c["cells"])]
                    for c in json.loads((work / e / "merged.json").read_text())["claims"]] for e in timings}
    tasks = args.checkpoints * len(args.seeds)
    print(f"{tasks} tasks ({args.checkpoints} tiny checkpoints x seeds {args.seeds}), claims {CLAIMS}")
    print(f"serial: {timings['serial']:.1f} s; ray, {args.workers} workers: {timings['ray']:.1f} s; "
          f"speed-up x{timings['serial'] / timings['ray']:.2f}; same verdicts: {verdicts['serial'] == verdicts['ray']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
