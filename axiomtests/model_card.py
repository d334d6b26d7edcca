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


def card_markdown(card: dict[str, Any]) -> str:
    from tabulate import tabulate

    recipe, ndcg = card["recipe"], card["ndcg@10"]
    bm25 = f"k1={recipe['bm25']['k1']}, b={recipe['bm25']['b']}, stopped and Porter-stemmed words"
    rows = [["cross-encoder (this checkpoint)", ndcg["cross_encoder"]],
            [f"lexical BM25 ({bm25})", ndcg["bm25"]],
            [f"bi-encoder ({BASE_NAME}, mean-pooled cosine)", ndcg["bi_encoder"]],
            ["reference: lexical BM25 on the full, uncut passages", ndcg["bm25_full_passages"]],
            ["reference: the source order of the retrieved list", ndcg["source_order"]],
            ["reference: random order (mean over 500 draws)", card["ndcg@10_random_order"]["mean"]]]
    lo, hi = card["ndcg@10_cross_encoder_minus_bm25_ci95"]
    chance = card["ndcg@10_random_order"]
    return "\n".join([
        f"# {card['name']}",
        "",
        f"{card['architecture']}, fine-tuned from {card['base_model']} on the TREC RAG 2024 crowd corpus "
        f"({card['train_queries']} training queries). Recipe and rationale: `axiomtests/default_model.py`.",
        "",
        f"## nDCG@10 on {card['heldout_queries']} held-out queries",
        "",
        f"Candidates: each query's 20 retrieved passages, cut to {recipe['passage_words']} words as the model "
        "sees them; labels: human citations.",
        "",
        tabulate(rows, headers=["scorer", "nDCG@10"], tablefmt="github"),
        "",
        f"Cross-encoder minus BM25, 95% bootstrap interval over queries: [{lo}, {hi}]. Random orderings score "
        f"{chance['mean']} (sd {chance['sd']}): human citations follow the source order, so text-only scorers sit "
        "close to chance on this corpus.",
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
