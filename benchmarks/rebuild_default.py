"""A rebuild of the default recipe against the shipped weights: held-out figures within their CIs, not bytes.

    python benchmarks/rebuild_default.py --out out/rebuild            # rebuild (about an hour on 2 cores), compare
    python benchmarks/rebuild_default.py --rebuilt DIR [DIR ...]      # compare builds that exist

Each build is scored on the held-out queries next to the shipped checkpoint: per label set, the paired
difference of nDCG@10 (build minus shipped) with a 95 % bootstrap interval over queries, and the TFC1 share from
both model cards. A rebuild agrees when every interval contains 0. Results: ``--json`` and a Markdown table on
stdout (recorded in ``benchmarks/REBUILD.md``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from axiomtests.default_model import RECIPE, build_default_checkpoint
from axiomtests.evaluation import LABELS, heldout_scores, paired_ci, per_query_ndcg
from axiomtests.model_card import model_card
from axiomtests.shipped import manifest, shipped_checkpoint_dir
from axiomtests.sources import sha256_file
from axiomtests.training_data import prepare_split


def per_query(folder: Path, split) -> dict[str, dict[str, float]]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    pairs, scores = heldout_scores(split, tokenizer, model, RECIPE["max_length"])
    return {name: per_query_ndcg(split, pairs, scores, name) for name in LABELS}


def compare(shipped: Path, built: Path, split) -> dict:
    ours, theirs = per_query(built, split), per_query(shipped, split)
    row = {"build": str(built), "recipe_seed": model_card(built)["recipe"]["seed"],
           "same_bytes": sha256_file(built / "model.safetensors") == manifest()["model_file_sha256"]}
    for name in LABELS:
        diff = float(np.mean([ours[name][q] - theirs[name][q] for q in ours[name]]))
        ci = paired_ci(ours[name], theirs[name], RECIPE["split_seed"])
        row[name] = {"difference": round(diff, 4), "ci95": ci, "within": ci[0] <= 0 <= ci[1]}
    shares = [model_card(f)["tfc1"]["share_term_above_control"] for f in (built, shipped)]
    row["tfc1_term_above_control"] = {"build": shares[0], "shipped": shares[1]}
    return row


def markdown(rows: list[dict]) -> str:
    from tabulate import tabulate

    table = [[Path(r["build"]).name, r["recipe_seed"], "yes" if r["same_bytes"] else "no",
              *(f"{r[n]['difference']:+.4f} {r[n]['ci95']} {'within' if r[n]['within'] else 'OUTSIDE'}"
                for n in LABELS),
              f"{r['tfc1_term_above_control']['build']} vs {r['tfc1_term_above_control']['shipped']}"] for r in rows]
    return tabulate(table, headers=["build", "training seed", "same bytes", *(f"nDCG@10 {n}: build - shipped"
                                                                             for n in LABELS), "TFC1 share"],
                    tablefmt="github")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="rebuild the recipe into this folder first")
    parser.add_argument("--training-seed", type=int, help="with --out: rebuild with this training seed")
    parser.add_argument("--rebuilt", type=Path, nargs="*", default=[], help="existing builds to compare")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    builds = list(args.rebuilt)
    if args.out:
        builds.append(build_default_checkpoint(args.out, seed=args.training_seed))
    if not builds:
        parser.error("give --out (rebuild) or --rebuilt DIR")
    split = prepare_split(RECIPE)
    rows = [compare(shipped_checkpoint_dir(), b, split) for b in builds]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
