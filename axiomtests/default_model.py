"""The embedded default checkpoint: all-MiniLM-L6-v2 fine-tuned as a cross-encoder on the base corpus.

Its trained weights ship in the package (:mod:`axiomtests.shipped`): runs and CI never train.
``python -m axiomtests.default_model --out DIR`` rebuilds it from :data:`RECIPE` (about an hour on two CPU
cores) and logs its model card (``model_card.json`` and ``MODEL_CARD.md`` beside the weights): nDCG@10 on
held-out queries against lexical BM25 and the bi-encoder, under human citations and under the retrieved order,
the quality targets with paired intervals, the learning curve, and the score change when a query term is
appended to a held-out passage (TFC1). ``--ship`` then makes the build the shipped weights (a release).
``$AXIOMTESTS_DEFAULT_CHECKPOINT`` points at another folder instead. This module holds the recipe, the
training and the build; the data is :mod:`axiomtests.training_data`, the evaluation (and the bi-encoder teacher)
:mod:`axiomtests.evaluation`, the card :mod:`axiomtests.model_card`.

The build is deterministic on a given machine (fixed seeds and data order, a fixed thread count,
``torch.use_deterministic_algorithms(True)``), not across processors: that is why the weights ship.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from axiomtests.evaluation import (LABELS, BiEncoder, evaluate_baselines, evaluate_cross_encoder, heldout_ndcg,
                                   heldout_pairs, heldout_scores, paired_ci, random_ndcg)
from axiomtests.model_card import card_markdown
from axiomtests.shipped import SHIPPED_DIR, ship, shipped_checkpoint_dir
from axiomtests.sources import BASE_NAME, IR_AXIOMS, MINILM, base_model_dir, sha256_file
from axiomtests.training_data import Group, Split, encode_pairs, prepare_split, training_groups
from circuits.errors import CheckpointError

log = logging.getLogger(__name__)

ENV_VAR = "AXIOMTESTS_DEFAULT_CHECKPOINT"
LOG_EVERY = 5  # fine-tuning steps between progress log lines

RECIPE: dict[str, Any] = {
    "name": "minilm-l6-rag24-ce",
    "version": 2,  # bump when the training code changes what a recipe produces
    "seed": 0,
    "split_seed": 0,
    "holdout": 0.2,
    "passage_words": [40, 100],
    "max_length": 128,
    "steps": 400,
    "queries_per_step": 4,
    "sampled": 5,
    "random_negatives": 3,
    "rank_prior": 2.0,
    "grade_temperature": 0.5,
    "logit_scale": 4.0,
    "distill_weight": 1.0,
    "distill_scale": 20.0,
    "lr": 1e-4,
    "head_lr": 1e-3,
    "warmup_steps": 40,
    "weight_decay": 0.01,
    "dropout": 0.0,
    "threads": 1,
    "eval_every": 100,
    "bm25": {"k1": 0.9, "b": 0.4},
    "tfc1_docs_per_query": 4,
}
"""Every choice of the build (see :data:`RATIONALE`). Each step trains on ``queries_per_step`` groups of
``sampled`` retrieved + ``random_negatives`` random passages. The loss sees ``logit / logit_scale``, so
the logits span ``logit_scale`` times the range they otherwise would; ``distill_scale`` turns bi-encoder
cosine margins into targets for those scaled logits (the bi-encoder's embeddings of the training queries and
passages are computed once, before the first step). The word embeddings stay frozen (they carry the IDF
direction that the suite's ``idf.*`` claims read). Every ``eval_every`` steps the held-out nDCG@10 is
recorded (the model card's learning curve); it selects nothing."""

RATIONALE = """\
Chosen by sweeps on held-out nDCG@10 and TFC1 size (H200, 60 held-out queries, means over training
seeds 0-2 on the seed-0 split; BM25 0.674 / bi-encoder 0.695 on 70-word passages):
- Logit range: a plain listwise loss gave logit std 1.3 and TFC1 median |delta| 0.08 (2 % of pairs > 1
  logit); a pos-weighted BCE (the earlier calibration recipe) std 0.8, median 0.04. Training on
  logit / 4 gave std 4.7, median 0.23; a head learning rate equal to the body's collapsed it (0.009).
- Distilling the bi-encoder's cosine margins (it ranks appended query terms above control words)
  doubled the sensitivity: std 8-10, median 0.3-0.5, 30-40 % of pairs > 1 logit, the query term
  beating a control word in 85-95 % of pairs. Without it: median 0.13-0.25, 57-73 % positive.
- Groups drawn from the retrieved list with graded targets (citation + rank prior from the source
  order of the training queries) beat one-cited-vs-uncited groups: 0.659 (cited-first), 0.666 (prior 0),
  0.667 (prior 1), 0.672 (prior 2); 100-word passages instead of 70: 0.677 -> 0.679 (BM25 0.676).
- No gain from: freezing 2-3 lower layers for more steps (0.665), 7 retrieved + 1 random (0.674), grade
  temperature 1 (0.675), lr 2e-4 (0.676), half the distillation weight (0.679), logit / 6 (0.672),
  linear probes on the untrained [CLS] features (0.63-0.65). More steps helped (1000 steps: median
  |delta| 0.73).
Version 2 (2026-12-02) trains once, for the shipped weights, instead of on every machine: 400 steps instead
of 140 (about 6.6 epochs of the 241 training queries; what a 2-core CPU trains for the release and two
retrains in one working session: no GPU was lent), warm-up 40, one thread, the teacher's embeddings computed
once. Nothing else changed, and no claim of the suite was looked at to choose it. The learning curve (model
card) shows where held-out quality stopped moving.
"""


# --------------------------------------------------------------------------- paths and API

def _checkpoint_hash(recipe: dict[str, Any]) -> str:
    key = json.dumps({"recipe": recipe, "sources": [MINILM.sha256, IR_AXIOMS.sha256]}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def default_checkpoint_dir() -> Path:
    """The default checkpoint's folder: ``$AXIOMTESTS_DEFAULT_CHECKPOINT`` if set, else the shipped weights
    (assembled into the cache on first use, in seconds; never trained)."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not (path / "config.json").exists():
            raise CheckpointError(f"{ENV_VAR}={override} is not a Hugging Face checkpoint folder "
                                  f"(no config.json); point it at one or unset it")
        return path
    return shipped_checkpoint_dir()


def build_default_checkpoint(out: Path, force: bool = False, seed: int | None = None,
                             save_steps: Sequence[int] = (), recipe: dict[str, Any] | None = None) -> Path:
    """Fine-tune, evaluate and save the default checkpoint (with its model card) under ``out``.

    The folder appears atomically (built aside, then renamed) under a file lock, so concurrent callers
    build it once. An existing build is returned as is unless ``force``. ``seed`` retrains the same recipe
    with another training seed (same data and split): a no-op retrain, the gate's specificity check.
    ``save_steps`` also saves the weights after those numbers of updates (0: the untrained classifier head)
    into ``out/steps/step-NNNN``, each with its held-out nDCG@10: the build's training run, for a sweep. The
    training is the same, so the final weights are too. ``recipe`` replaces :data:`RECIPE` (a test's tiny
    budget).
    """
    recipe = dict(RECIPE if recipe is None else recipe)
    if seed is not None:
        recipe["seed"] = seed
    bad = [s for s in save_steps if not 0 <= s <= recipe["steps"]]
    if bad:
        raise CheckpointError(f"save steps {bad} lie outside the recipe's 0..{recipe['steps']} updates")
    from filelock import FileLock

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out.parent / f".{out.name}.lock")):
        if (out / "config.json").exists() and not force:
            return out
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _build(tmp, recipe, save_steps)
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("default checkpoint ready at %s", out)
    return out


# --------------------------------------------------------------------------- training


def _load_cross_encoder(base: Path, recipe: dict[str, Any]) -> Any:
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=1, hidden_dropout_prob=recipe["dropout"],
        attention_probs_dropout_prob=recipe["dropout"])
    return model.float()


def _loss(logits: torch.Tensor, groups: Sequence[Group], teacher: torch.Tensor,
          recipe: dict[str, Any]) -> torch.Tensor:
    """Listwise cross-entropy against the groups' targets plus MSE between the centred logits and the
    bi-encoder's centred cosines times ``distill_scale``; ``logits`` and ``teacher``: [groups, group size]."""
    scaled = logits / recipe["logit_scale"]
    target = torch.tensor([g.target for g in groups], device=logits.device)
    listwise = -(target * torch.log_softmax(scaled, dim=1)).sum(dim=1).mean()
    centred = scaled - scaled.mean(dim=1, keepdim=True)
    margins = recipe["distill_scale"] * (teacher - teacher.mean(dim=1, keepdim=True))
    return listwise + recipe["distill_weight"] * torch.nn.functional.mse_loss(centred, margins)


def _teacher(split: Split, base: Path, device: str) -> Callable[[Sequence[str], Sequence[str]], torch.Tensor]:
    """The bi-encoder's cosine of (training query id, doc id) pairs, from embeddings of every training query and
    every passage retrieved for one, computed once (sorted by id, so the table is the same whatever the order of
    the steps)."""
    encoder = BiEncoder(base, device)
    qids = sorted(split.train)
    docs = sorted({d for q in split.train for d in split.corpus.retrieved[q]})
    log.info("teacher: embedding %d training queries and %d passages", len(qids), len(docs))
    q_emb = encoder.embed([split.corpus.queries[q] for q in qids])
    p_emb = encoder.embed([split.passages[d] for d in docs])
    q_row, p_row = {q: i for i, q in enumerate(qids)}, {d: i for i, d in enumerate(docs)}

    def cosines(queries: Sequence[str], passages: Sequence[str]) -> torch.Tensor:
        return (q_emb[[q_row[q] for q in queries]] * p_emb[[p_row[d] for d in passages]]).sum(-1)

    return cosines


def _train(split: Split, base: Path, tokenizer: Any, recipe: dict[str, Any], device: str = "cpu",
           after_step: Callable[[int, Any], None] | None = None) -> Any:
    """Fine-tune a fresh 1-logit head on all-MiniLM-L6-v2 (inputs from ``tokenizer``, the base model's); returns
    the model in eval mode.
    ``after_step(n, model)`` is called before the first update (n = 0) and after each update n."""
    torch.manual_seed(recipe["seed"])
    model = _load_cross_encoder(base, recipe)
    model.to(device)
    model.bert.embeddings.word_embeddings.requires_grad_(False)
    head = [p for n, p in model.named_parameters() if n.startswith(("classifier", "bert.pooler"))]
    body = [p for n, p in model.named_parameters()
            if p.requires_grad and not n.startswith(("classifier", "bert.pooler"))]
    optimizer = torch.optim.AdamW([{"params": body, "lr": recipe["lr"]},
                                   {"params": head, "lr": recipe["head_lr"]}],
                                  weight_decay=recipe["weight_decay"])
    steps, warmup = recipe["steps"], recipe["warmup_steps"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    teacher = _teacher(split, base, device)
    corpus, groups = split.corpus, training_groups(split, recipe, random.Random(recipe["seed"]))
    model.train()
    if after_step is not None:
        after_step(0, model)
    start = time.perf_counter()
    bar = tqdm(range(steps), desc="fine-tuning", unit="step", disable=None)  # disabled where stderr is no terminal
    for step in bar:
        batch = [next(groups) for _ in range(recipe["queries_per_step"])]
        queries = [corpus.queries[g.qid] for g in batch for _ in g.docs]
        passages = [split.passages[d] for g in batch for d in g.docs]
        logits = model(**encode_pairs(tokenizer, queries, passages, recipe["max_length"], device)).logits
        logits = logits.view(len(batch), -1)
        cosines = teacher([g.qid for g in batch for _ in g.docs], [d for g in batch for d in g.docs])
        cosines = cosines.view(len(batch), -1)
        loss = _loss(logits, batch, cosines, recipe)
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if bar.disable and (step + 1) % LOG_EVERY == 0:  # CI logs: a line every LOG_EVERY steps instead
            log.info("fine-tuning: step %d of %d, loss %.3f, %.0f s", step + 1, steps, loss.item(),
                     time.perf_counter() - start)
        if after_step is not None:
            after_step(step + 1, model)
    model.eval()
    return model


# --------------------------------------------------------------------------- build

@contextmanager
def _deterministic_torch(threads: int) -> Iterator[None]:
    """Fixed thread count, deterministic kernels and a private RNG state for the duration of a build."""
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])


def _build(folder: Path, recipe: dict[str, Any], save_steps: Sequence[int] = ()) -> None:
    from transformers import AutoTokenizer

    start = time.perf_counter()
    saved: list[tuple[int, Path]] = []
    curve: list[dict[str, Any]] = []

    def after_step(step: int, model: Any) -> None:
        if step in save_steps:  # the weights as they are after ``step`` updates
            saved.append((step, folder / "steps" / f"step-{step:04d}"))
            model.save_pretrained(saved[-1][1])
        if step % recipe["eval_every"] == 0 or step == recipe["steps"]:
            model.eval()
            pairs, scores = heldout_scores(split, tokenizer, model, recipe["max_length"])
            model.train()
            curve.append({"step": step, **{name: heldout_ndcg(split, pairs, scores, name) for name in LABELS}})
            log.info("learning curve: step %d, held-out nDCG@10 %s", step, curve[-1])

    with _deterministic_torch(recipe["threads"]):
        log.info("building the default checkpoint (minutes on a CPU): %s, %d fine-tuning steps",
                 recipe["name"], recipe["steps"])
        split = prepare_split(recipe)
        base = base_model_dir()
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = _train(split, base, tokenizer, recipe, after_step=after_step)
        train_seconds = time.perf_counter() - start
        log.info("fine-tuned in %.0f s; evaluating on %d held-out queries", train_seconds, len(split.test))
        metrics = evaluate_cross_encoder(split, tokenizer, model, recipe)
        baselines = evaluate_baselines(split, base, recipe)
        for step, path in saved:
            _step_card(path, step, split, tokenizer, recipe)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ndcg = {name: {"cross_encoder": metrics["ndcg@10"][name],
                   **{k: round(float(np.mean(list(v.values()))), 4) for k, v in baselines[name].items()}}
            for name in LABELS}
    card = {
        "name": recipe["name"],
        "base_model": f"sentence-transformers/{BASE_NAME} from {MINILM}",
        "architecture": "BertForSequenceClassification, 6 layers, 12 heads, hidden 384, 1 logit",
        "recipe": recipe,
        "recipe_hash": _checkpoint_hash(recipe),
        "rationale": RATIONALE,
        "sources": {str(MINILM): MINILM.sha256, str(IR_AXIOMS): IR_AXIOMS.sha256},
        "corpus": split.corpus.provenance,
        "train_queries": len(split.train),
        "ndcg@10": ndcg,
        "ndcg@10_random_order": {name: random_ndcg(split, recipe["split_seed"], label_set=name) for name in LABELS},
        "targets": _targets(metrics, baselines, recipe["split_seed"]),
        "learning_curve": curve,
        "heldout_queries": len(split.test),
        "heldout_pairs": len(heldout_pairs(split)),
        "logits": metrics["logits"],
        "tfc1": metrics["tfc1"],
        "model_file_sha256": sha256_file(folder / "model.safetensors"),  # the report hashes tensors instead
        "build_seconds": round(time.perf_counter() - start, 1),
        "train_seconds": round(train_seconds, 1),
        "environment": {"torch": torch.__version__, "threads": recipe["threads"], "device": "cpu"},
    }
    (folder / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(card_markdown(card))
    log.info("built in %.0f s: nDCG@10 %s; TFC1 %s", card["build_seconds"], card["ndcg@10"], card["tfc1"])


TARGET_SCORERS = ("bm25_full_passages", "bi_encoder")
"""The scorers the default must beat on held-out nDCG@10, under each label set (issue 23's quality targets)."""
TFC1_TARGET = 0.9  # share of the card's TFC1 pairs where an appended query term beats an appended control word


def _targets(metrics: dict[str, Any], baselines: dict[str, dict[str, dict[str, float]]], seed: int
             ) -> list[dict[str, Any]]:
    """The quality targets, each with its measured value: the cross-encoder's held-out nDCG@10 minus each of
    :data:`TARGET_SCORERS`' (95 % paired bootstrap interval over queries; met when it excludes 0), and TFC1."""
    rows = []
    for name in LABELS:
        ours = metrics["per_query"][name]
        for scorer in TARGET_SCORERS:
            theirs = baselines[name][scorer]
            diff = float(np.mean([ours[q] - theirs[q] for q in ours]))
            ci = paired_ci(ours, theirs, seed)
            rows.append({"target": f"nDCG@10 ({name}) above {scorer}", "difference": round(diff, 4),
                         "ci95": ci, "met": ci[0] > 0})
    share = metrics["tfc1"]["share_term_above_control"]
    rows.append({"target": f"TFC1: query term above control word in >= {TFC1_TARGET:.0%} of pairs",
                 "difference": round(share - TFC1_TARGET, 4), "ci95": None, "met": share >= TFC1_TARGET})
    return rows


def _step_card(path: Path, step: int, split: Split, tokenizer: Any, recipe: dict[str, Any]) -> None:
    """Tokenizer and a model card (step, held-out nDCG@10) beside an intermediate checkpoint of the build."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    pairs, scores = heldout_scores(split, tokenizer, model, recipe["max_length"])
    tokenizer.save_pretrained(path)
    card = {"name": f"{recipe['name']} after {step} of {recipe['steps']} fine-tuning steps", "step": step,
            "steps": recipe["steps"], "recipe_hash": _checkpoint_hash(recipe), "ndcg@10": {
                name: {"cross_encoder": heldout_ndcg(split, pairs, scores, name)} for name in LABELS}}
    (path / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    log.info("step %d: held-out nDCG@10 %s", step, card["ndcg@10"])


def _steps(value: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of step numbers") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build (or rebuild with ``--force``) the default recipe into a folder and log its card."""
    parser = argparse.ArgumentParser(prog="python -m axiomtests.default_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even if OUT holds a build")
    parser.add_argument("--out", type=Path, required=True, help="build into this folder")
    parser.add_argument("--ship", action="store_true",
                        help=f"then make the build the shipped default weights ({SHIPPED_DIR}): a release; "
                             "regenerate the baseline reports with it")
    parser.add_argument("--training-seed", type=int, default=None,
                        help="retrain the same recipe with this training seed. Default: the recipe's")
    parser.add_argument("--save-steps", type=_steps, default=(), metavar="N,N,...",
                        help="also save the weights after these numbers of updates into OUT/steps/step-N, each "
                             "with its held-out nDCG@10, e.g. 0,100,200,400")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = build_default_checkpoint(args.out, force=args.force, seed=args.training_seed, save_steps=args.save_steps)
    log.info("%s\n%s", path, (path / "MODEL_CARD.md").read_text())
    if args.ship:
        ship(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
