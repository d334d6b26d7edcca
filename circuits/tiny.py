"""Tiny random cross-encoders built from configs: the fast test tier (no downloads, seconds)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import torch

_WORDS = ("the a an of and to in is for on what how why who bm25 ranking relevance query document term "
          "search retrieval model score head attention token idf frequency length saturation matching "
          "semantic passage answer question river bank money water city music science history").split()
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_vocab() -> list[str]:
    """A small WordPiece vocabulary: specials, some words, letters and ``##`` letters (so any ASCII word tokenises)."""
    pieces = _SPECIAL + list(_WORDS) + list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces += ["##" + c for c in string.ascii_lowercase + string.digits]
    return list(dict.fromkeys(pieces))


def save_tiny_tokenizer(folder: Path) -> None:
    """Write a BERT WordPiece tokenizer over ``tiny_vocab`` into ``folder``."""
    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)


def tiny_config(arch: str, n_labels: int = 1, *, n_layers: int = 2, n_heads: int = 4, d_model: int = 32):
    """Config of a tiny ``arch`` ("bert", "roberta", "electra", "distilbert") classifier."""
    from transformers import BertConfig, DistilBertConfig, ElectraConfig, RobertaConfig

    vocab = len(tiny_vocab())
    common = dict(vocab_size=vocab, num_labels=n_labels, pad_token_id=0)
    if arch == "distilbert":
        return DistilBertConfig(dim=d_model, n_layers=n_layers, n_heads=n_heads, hidden_dim=2 * d_model,
                                max_position_embeddings=64, architectures=["DistilBertForSequenceClassification"],
                                **common)
    classes = {"bert": BertConfig, "roberta": RobertaConfig, "electra": ElectraConfig}
    extra = {"embedding_size": d_model} if arch == "electra" else {}
    return classes[arch](
        hidden_size=d_model, num_hidden_layers=n_layers, num_attention_heads=n_heads,
        intermediate_size=2 * d_model, max_position_embeddings=64 + 2, type_vocab_size=2,
        architectures=[f"{classes[arch].__name__.removesuffix('Config')}ForSequenceClassification"],
        **extra, **common)


def tiny_cross_encoder(folder: Path, arch: str = "bert", n_labels: int = 1, seed: int = 0, **sizes: int) -> Path:
    """Save a randomly initialised tiny cross-encoder (safetensors + tokenizer) into ``folder``."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(tiny_config(arch, n_labels, **sizes))
    with torch.no_grad():  # random init is near-zero for heads; widen it so scores move visibly
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.2)
    model.save_pretrained(folder)
    save_tiny_tokenizer(folder)
    return folder


def random_init_like(checkpoint: Path, folder: Path, seed: int = 0, **sizes: int) -> Path:
    """A randomly initialised model of ``checkpoint``'s architecture (its config, or a smaller one: ``n_layers``,
    ``n_heads``, ``d_model``) with its tokenizer, saved into ``folder``: the null model every claim must fail.

    HF's own initialisation is used (what a model is before training), so only the mechanism is missing.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(checkpoint)
    names = {"n_layers": "num_hidden_layers", "n_heads": "num_attention_heads", "d_model": "hidden_size"}
    for key, value in sizes.items():
        setattr(config, names[key], value)
    if "d_model" in sizes and hasattr(config, "intermediate_size"):
        config.intermediate_size = 4 * sizes["d_model"]
    torch.manual_seed(seed)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(folder)
    return folder


def planted_idf(vocab_size: int, seed: int = 0) -> np.ndarray:
    """The IDF a planted model stores: one positive value per vocabulary entry (seeded)."""
    return np.random.default_rng(seed).uniform(1.0, 10.0, vocab_size)


def planted_cross_encoder(folder: Path, seed: int = 0, strength: float = 3.0) -> Path:
    """A tiny BERT (2 layers × 4 heads, d_model 32) with two of the paper's mechanisms planted by hand, saved
    into ``folder``; everything else is random, as in :func:`tiny_cross_encoder`.

    - Head 0.0 is a matching head: its queries and keys read the same 8 dimensions of a token identity code,
      so every token attends to copies of itself (query tokens to the same token in the document).
    - W_E's top singular direction stores :func:`planted_idf`: one embedding dimension carries it, scaled to
      dominate W_E's spectrum. Position and segment embeddings are zero, so identity alone drives head 0.0.
    """
    from transformers import AutoModelForSequenceClassification

    tiny_cross_encoder(folder, "bert", 1, seed, n_layers=2, n_heads=4, d_model=32)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    config = model.config
    d_head = config.hidden_size // config.num_attention_heads
    generator = torch.Generator().manual_seed(seed)
    idf = torch.as_tensor(planted_idf(config.vocab_size, seed), dtype=torch.float32)
    with torch.no_grad():
        embeddings = model.bert.embeddings
        words = 0.3 * torch.randn(config.vocab_size, config.hidden_size, generator=generator)
        words[:, :d_head] = torch.randn(config.vocab_size, d_head, generator=generator)  # identity code
        words[:, d_head] = 2.0 * (idf - idf.mean()) / idf.std()  # the IDF store: twice any other column's scale
        embeddings.word_embeddings.weight.copy_(words)
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        attention = model.bert.encoder.layer[0].attention.self
        read = torch.zeros(d_head, config.hidden_size)
        read[:, :d_head] = strength * torch.eye(d_head)
        for projection in (attention.query, attention.key):
            projection.weight[:d_head] = read
            projection.bias[:d_head] = 0.0
    model.save_pretrained(folder)
    return folder
