"""Operating characteristics of every harness claim (issue 25): false alarms on random initialisations, power along
a dial of planted mechanism strength.

    python benchmarks/operating_characteristics.py --out out/oc              # 20 seeds x 4 configs, 10 x 7 strengths
    python benchmarks/operating_characteristics.py --out out/oc --seeds 5    # a quicker look

Each model is checked by :func:`axiomtests.harness.check_model`: the claims' measures on the harness's synthetic
tasks (40-60 queries, about the suite's default sample), judged by the registry.

- **False alarms**: the share of random initialisations (HF's init widened as in
  :func:`circuits.tiny.tiny_cross_encoder`) on which a claim passes, per config and over all (BERT 2x4 d32, BERT
  4x8 d64, DeBERTa-v3 3x4 d32, ModernBERT 3x4 d32). A model without the mechanism should pass a mechanism claim at
  most 5 % of the time.
- **Power**: the share of planted models (:func:`circuits.tiny.planted_cross_encoder`, one per seed) that pass, at
  each matching strength (the matching head's query/key gain on the identity code; 0: it attends uniformly, 3: the
  planted default; ``mh.length`` and ``edit.adversarial`` on the planted variants that have their mechanism:
  length-normalised matching, signed IDF). The strength whose mean ``mh.similarity`` gap first reaches the
  paper's 0.368 (0.500 vs 0.132) is marked as the paper's effect; the minimum detectable effect is the smallest
  strength with >= 80 % power, with its similarity gap. The dial moves matching only: claims of other components
  (U0, the scoring head) are planted at full strength throughout, so their power column says how often the harness
  sees them at all.

Writes ``oc.json`` (every model's statuses and values), ``OC.md`` (the table) and ``power.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

CONFIGS = {  # name: (architecture, sizes)
    "bert-2x4-d32": ("bert", dict(n_layers=2, n_heads=4, d_model=32)),
    "bert-4x8-d64": ("bert", dict(n_layers=4, n_heads=8, d_model=64)),
    "deberta-v3-3x4-d32": ("deberta-v2", dict(n_layers=3, n_heads=4, d_model=32)),
    "modernbert-3x4-d32": ("modernbert", dict(n_layers=3, n_heads=4, d_model=32)),
}
STRENGTHS = (0.0, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0, 3.0)
#: Claims whose mechanism is a variant of the planted model (its known positive in tests/unit/test_planted.py):
#: matching that falls with document length, and IDF that can turn a match into a loss.
VARIANTS = {"mh.length": {"length_normalised": True}, "edit.adversarial": {"signed_idf": True}}
PAPER_SIMILARITY_GAP = 0.500 - 0.132  # mh.similarity's paper effect (§4.3)
POWER = 0.8
FALSE_ALARMS = 0.05

log = logging.getLogger("operating_characteristics")


def statuses(folder: Path, claims: list[str] | None = None, planted_seed: int | None = None) -> dict[str, dict]:
    """Each claim's status and value on the model in ``folder``; a planted model is probed with the IDF it stores
    (``planted_seed``'s)."""
    from axiomtests.harness import check_model
    from circuits.model import HookedCrossEncoder
    from circuits.tiny import planted_idf

    model = HookedCrossEncoder.from_pretrained(folder)
    idf = None if planted_seed is None else planted_idf(len(model.tokenizer), planted_seed)
    results = check_model(model, claims, idf=idf)
    return {k: {"status": r.status, "value": r.value} for k, r in results.items()}


def measure(seeds: int, power_seeds: int, work: Path, nulls: dict | None = None) -> dict:
    """Every model's statuses; ``nulls``: the random initialisations' from an earlier run, kept."""
    from circuits.tiny import planted_cross_encoder, tiny_cross_encoder

    planted: dict[str, list] = {}
    if nulls is None:
        nulls = {name: [] for name in CONFIGS}
        for name, (arch, sizes) in CONFIGS.items():
            for seed in range(seeds):
                nulls[name].append(statuses(tiny_cross_encoder(work / f"{name}-{seed}", arch, 1, seed, **sizes)))
                log.info("random %s seed %d done", name, seed)
    for strength in STRENGTHS:
        planted[str(strength)] = []
        for seed in range(power_seeds):
            folder = planted_cross_encoder(work / f"planted-{strength}-{seed}", seed=seed, strength=strength)
            run = statuses(folder, planted_seed=seed)
            for claim, variant in VARIANTS.items():
                folder = planted_cross_encoder(work / f"planted-{strength}-{seed}-{claim}", seed=seed,
                                               strength=strength, **variant)
                run.update(statuses(folder, [claim], planted_seed=seed))
            planted[str(strength)].append(run)
            log.info("planted strength %s seed %d done", strength, seed)
    return {"configs": {k: [a, s] for k, (a, s) in CONFIGS.items()}, "strengths": list(STRENGTHS),
            "random": nulls, "planted": planted}


def rate(runs: list[dict], claim: str) -> float:
    return float(np.mean([r[claim]["status"] == "pass" for r in runs]))


def median_value(runs: list[dict], claim: str) -> float | None:
    """The median of a claim's values over runs (4 significant digits), None when none has a value."""
    values = [r[claim]["value"] for r in runs if r[claim]["value"] is not None and np.isfinite(r[claim]["value"])]
    return float(f"{np.median(values):.4g}") if values else None


def summary(data: dict) -> list[dict]:
    top = str(STRENGTHS[-1])  # the planted maximum
    claims = list(next(iter(data["random"].values()))[0])
    gaps = {s: float(np.nanmean([r["mh.similarity"]["value"] if r["mh.similarity"]["value"] is not None else np.nan
                                 for r in runs])) for s, runs in data["planted"].items()}
    paper = next((s for s in data["planted"] if gaps[s] >= PAPER_SIMILARITY_GAP), None)
    rows = []
    for claim in claims:
        every = [r for runs in data["random"].values() for r in runs]
        power = {s: rate(runs, claim) for s, runs in data["planted"].items()}
        detectable = next((s for s in data["planted"] if power[s] >= POWER), None)
        rows.append({
            "claim": claim, "false_alarms": rate(every, claim),
            "false_alarms_per_config": {name: rate(runs, claim) for name, runs in data["random"].items()},
            "power": power, "power_at_paper_effect": power[paper] if paper is not None else None,
            "power_at_max": power[top],
            "planted_value": median_value(data["planted"][top], claim),
            "null_value": median_value(every, claim),
            "paper_effect_strength": paper, "minimum_detectable_strength": detectable,
            "minimum_detectable_similarity_gap": gaps[detectable] if detectable is not None else None,
            "models": len(every)})
    return rows


def markdown(rows: list[dict], data: dict) -> str:
    from tabulate import tabulate

    def pct(x) -> str:
        return "-" if x is None else f"{100 * x:.0f} %"

    seeds = len(next(iter(data["random"].values())))
    power_seeds = len(next(iter(data["planted"].values())))
    table = [[r["claim"], pct(r["false_alarms"]) + (" **over 5 %**" if r["false_alarms"] > FALSE_ALARMS else ""),
              " / ".join(pct(v) for v in r["false_alarms_per_config"].values()),
              pct(r["power_at_paper_effect"]), pct(r["power_at_max"]), r["planted_value"], r["null_value"],
              "-" if r["minimum_detectable_strength"] is None else
              f"{r['minimum_detectable_strength']} (gap {r['minimum_detectable_similarity_gap']:.3f})"]
             for r in rows]
    head = (f"{seeds} random initialisations of each of {len(data['random'])} configs "
            f"({', '.join(data['random'])}); {power_seeds} planted models at each matching strength "
            f"{', '.join(data['planted'])}; paper's effect at strength {rows[0]['paper_effect_strength']} "
            f"(the first whose mean mh.similarity gap reaches {PAPER_SIMILARITY_GAP:.3f}).\n\n")
    return head + tabulate(table, headers=["claim", "false alarms", "per config", "power at paper's effect",
                                           "power, planted max", "median value: planted max", "median value: random",
                                           "min. detectable strength (80 %)"],
                           tablefmt="github") + "\n"


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        ax.plot([float(s) for s in r["power"]], list(r["power"].values()), marker="o", label=r["claim"])
    ax.axhline(POWER, color="grey", linestyle=":")
    if rows and rows[0]["paper_effect_strength"] is not None:
        ax.axvline(float(rows[0]["paper_effect_strength"]), color="black", linestyle="--", label="paper's effect")
    ax.set_xlabel("planted matching strength")
    ax.set_ylabel("share of planted models passing")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--from", dest="source", type=Path, help="summarise the models of an earlier oc.json again")
    parser.add_argument("--random-from", type=Path, help="keep the random initialisations of an earlier oc.json and "
                        "measure the planted models only")
    parser.add_argument("--docs", type=Path, help="also write the summary here (docs/operating-characteristics.json, "
                        "which the claims reference reads)")
    parser.add_argument("--seeds", type=int, default=20, help="random initialisations per config")
    parser.add_argument("--power-seeds", type=int, default=10, help="planted models per strength")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.source:
        data = json.loads(args.source.read_text())["data"]
    else:
        with tempfile.TemporaryDirectory() as work:
            kept = json.loads(args.random_from.read_text())["data"]["random"] if args.random_from else None
            data = measure(args.seeds, args.power_seeds, Path(work), kept)
    rows = summary(data)
    (args.out / "oc.json").write_text(json.dumps({"data": data, "summary": rows}, indent=1) + "\n")
    if args.docs:
        args.docs.write_text(json.dumps({"measured_by": "benchmarks/operating_characteristics.py",
                                         "seeds": len(next(iter(data["random"].values()))),
                                         "power_seeds": len(next(iter(data["planted"].values()))),
                                         "summary": rows}, indent=1) + "\n")
    (args.out / "OC.md").write_text(markdown(rows, data))
    figure(rows, args.out / "power.png")
    print(markdown(rows, data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
