"""Shared pieces of the benchmark scripts: model shapes, random checkpoints, TFC1-like aligned pairs, timing.

Importable from both venvs (ours and the peers'): torch and transformers only, imported lazily.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, int]] = {
    # cross-encoder/ms-marco-MiniLM-L-6-v2 / all-MiniLM-L6 shape and the paper's ms-marco-MiniLM-L-12-v2 shape
    "minilm-l6": dict(num_hidden_layers=6, num_attention_heads=12, hidden_size=384, intermediate_size=1536),
    "minilm-l12": dict(num_hidden_layers=12, num_attention_heads=12, hidden_size=384, intermediate_size=1536),
    "minilm-l2": dict(num_hidden_layers=2, num_attention_heads=12, hidden_size=384, intermediate_size=1536),
    "tiny": dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64),  # smoke tests
    # DeBERTa-v3-xsmall's shape (its relative attention: 256 log buckets, c2p and p2c, shared keys)
    "deberta-v3-xsmall": dict(num_hidden_layers=12, num_attention_heads=6, hidden_size=384, intermediate_size=1536),
    # a 6-layer ModernBERT at MiniLM's width (local windows of 128, a global layer every third, [CLS] pooling)
    "modernbert-l6": dict(num_hidden_layers=6, num_attention_heads=12, hidden_size=384, intermediate_size=576),
}
#: shapes of other architectures than BERT, and their configs' own settings
ARCHITECTURE = {
    "deberta-v3-xsmall": ("deberta-v2", dict(
        relative_attention=True, position_buckets=256, max_relative_positions=-1, pos_att_type=["p2c", "c2p"],
        norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False, type_vocab_size=0,
        pooler_hidden_size=384, pooler_hidden_act="gelu")),
    "modernbert-l6": ("modernbert", dict(local_attention=128, global_attn_every_n_layers=3, cls_token_id=101,
                                         sep_token_id=102, bos_token_id=101, eos_token_id=102)),
}
VOCAB = 30522
CLS, SEP, FILLER = 101, 102, 1037  # BERT uncased ids of [CLS], [SEP] and "a"


def save_random_checkpoint(shape: str, folder: Path, seed: int = 0) -> Path:
    """A randomly initialised sequence classifier (1 logit) of ``shape`` (BERT unless :data:`ARCHITECTURE` says
    otherwise), saved as safetensors."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if (folder / "config.json").exists():
        return folder
    torch.manual_seed(seed)
    model_type, own = ARCHITECTURE.get(shape, ("bert", dict(type_vocab_size=2)))
    config = AutoConfig.for_model(model_type, vocab_size=VOCAB, num_labels=1, max_position_embeddings=512,
                                  pad_token_id=0, **own, **SHAPES[shape])
    AutoModelForSequenceClassification.from_config(config).eval().save_pretrained(folder)
    save_placeholder_tokenizer(folder)
    return folder


def save_placeholder_tokenizer(folder: Path) -> None:
    """A BERT WordPiece tokenizer with BERT's special-token ids and placeholder words (peers insist on one)."""
    from transformers import BertTokenizer

    special = {0: "[PAD]", 100: "[UNK]", CLS: "[CLS]", SEP: "[SEP]", 103: "[MASK]", FILLER: "a"}
    vocab = folder / "vocab.txt"
    vocab.write_text("".join(special.get(i, f"w{i}") + "\n" for i in range(VOCAB)))
    BertTokenizer(str(vocab)).save_pretrained(folder)


def make_pairs(n_pairs: int, length: int = 107, query_len: int = 8, seed: int = 0) -> dict[str, Any]:
    """TFC1-like aligned pairs as id tensors: the baseline document ends in the filler "a", the perturbed one
    in a term of its query (appended), both ``length`` tokens. Query ids repeat every 4 pairs."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    doc_len = length - query_len - 3
    query = torch.randint(2000, VOCAB, (n_pairs, query_len), generator=gen)
    doc = torch.randint(2000, VOCAB, (n_pairs, doc_len), generator=gen)
    col = lambda v: torch.full((n_pairs, 1), v)  # noqa: E731
    term = query[torch.arange(n_pairs), torch.randint(0, query_len, (n_pairs,), generator=gen)][:, None]
    base = torch.cat([col(CLS), query, col(SEP), doc[:, :-1], col(FILLER), col(SEP)], dim=1)
    pert = torch.cat([col(CLS), query, col(SEP), doc[:, :-1], term, col(SEP)], dim=1)
    types = torch.cat([torch.zeros(n_pairs, query_len + 2), torch.ones(n_pairs, doc_len + 1)], dim=1).long()
    return {"baseline": base, "perturbed": pert, "token_type_ids": types,
            "attention_mask": torch.ones_like(base), "query_ids": [f"q{i // 4}" for i in range(n_pairs)]}


def clock() -> Callable[[], float]:
    """``time.perf_counter`` (wall), or with ``AXIOM_BENCH_CLOCK=cpu`` the process's CPU time: on a shared
    machine, single-threaded CPU time barely moves with other load while wall time does."""
    return time.process_time if os.environ.get("AXIOM_BENCH_CLOCK") == "cpu" else time.perf_counter


def set_threads() -> None:
    """``torch.set_num_threads($AXIOM_BENCH_THREADS)`` when that is set."""
    if os.environ.get("AXIOM_BENCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["AXIOM_BENCH_THREADS"]))


def median_time(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Median time (see ``clock``) of ``repeats`` calls, and the last call's result."""
    now = clock()
    times, out = [], None
    for _ in range(repeats):
        start = now()
        out = fn()
        times.append(now() - start)
    return statistics.median(times), out


def load_average() -> float:
    """1-minute load average (the machine is shared: report it beside timings)."""
    return os.getloadavg()[0]


def emit(record: dict[str, Any]) -> None:
    """One JSON line on stdout (the driver parses them)."""
    print(json.dumps(record), flush=True)
