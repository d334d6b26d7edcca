"""The model card an axiomtests build writes beside its checkpoint: ``model_card.json`` and ``MODEL_CARD.md``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from axiomtests.sources import BASE_NAME
from circuits.errors import CheckpointError


def model_card(path: str | os.PathLike) -> dict[str, Any]:
    """The ``model_card.json`` saved beside a built checkpoint."""
    card = Path(path) / "model_card.json"
    try:
        return json.loads(card.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{card} does not exist: {path} was not built by axiomtests.default_model") from exc
    except ValueError as exc:
        raise CheckpointError(f"{card} is corrupt ({exc}); rebuild with "
                              f"`python -m axiomtests.default_model --force`") from exc


SCORERS = {"cross_encoder": "cross-encoder (this checkpoint)", "bm25": "lexical BM25 ({bm25})",
           "bi_encoder": f"bi-encoder ({BASE_NAME}, mean-pooled cosine)",
           "bm25_full_passages": "lexical BM25 on the full, uncut passages",
           "source_order": "reference: the source order of the retrieved list"}


def card_markdown(card: dict[str, Any]) -> str:
    from tabulate import tabulate

    recipe, ndcg, chance = card["recipe"], card["ndcg@10"], card["ndcg@10_random_order"]
    bm25 = f"k1={recipe['bm25']['k1']}, b={recipe['bm25']['b']}, stopped and Porter-stemmed words"
    label_sets = list(ndcg)
    rows = [[SCORERS[s].format(bm25=bm25), *(ndcg[name][s] for name in label_sets)] for s in SCORERS]
    rows.append(["reference: random order (mean over 500 draws)", *(chance[name]["mean"] for name in label_sets)])
    targets = [[t["target"], t["difference"], t["ci95"] or "", "met" if t["met"] else "**not met**"]
               for t in card["targets"]]
    curve = [[c["step"], *(c[name] for name in label_sets)] for c in card["learning_curve"]]
    return "\n".join([
        f"# {card['name']}",
        "",
        f"{card['architecture']}, fine-tuned from {card['base_model']} on the TREC RAG 2024 crowd corpus "
        f"({card['train_queries']} training queries). Recipe and rationale: `axiomtests/default_model.py`.",
        "",
        f"## nDCG@10 on {card['heldout_queries']} held-out queries",
        "",
        f"Candidates: each query's 20 retrieved passages, cut to {recipe['passage_words']} words as the model "
        "sees them. Labels: human citations, and grades from the retrieved order (ranks 1-5: 3, 6-10: 2, 11-15: 1, "
        "later: 0), the output of the strong ranker that built the corpus. Human citations follow that order, so "
        "citation nDCG alone cannot tell a good content-based ranker from a weak one.",
        "",
        tabulate(rows, headers=["scorer", *label_sets], tablefmt="github"),
        "",
        "## Quality targets",
        "",
        "Differences: the cross-encoder minus the scorer, mean over held-out queries, with a 95 % paired bootstrap "
        "interval over queries; a target is met when the interval excludes 0.",
        "",
        tabulate(targets, headers=["target", "difference", "95% CI", "verdict"], tablefmt="github"),
        "",
        "## Learning curve (held-out nDCG@10; it selects nothing)",
        "",
        tabulate(curve, headers=["step", *label_sets], tablefmt="github"),
        "",
        "## TFC1: one non-stopword query word appended to a held-out passage",
        "",
        "Control: a word of another held-out query appended instead.",
        "",
        tabulate([[k, v] for k, v in card["tfc1"].items()], headers=["measure", "value"], tablefmt="github"),
        "",
        f"Held-out logits: {card['logits']}.",
        "",
        "## Recipe",
        "",
        card["rationale"],
        "```json",
        json.dumps(recipe, indent=2),
        "```",
        "",
        f"Built in {card['build_seconds']} s ({card['train_seconds']} s fine-tuning) on "
        f"{card['environment']['threads']} CPU threads, torch {card['environment']['torch']}. "
        f"Model file sha256 `{card['model_file_sha256']}`.",
        "",
        "Sources: " + ", ".join(f"{k} (sha256 `{v}`)" for k, v in card["sources"].items()) + ".",
        "",
    ])
