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
    """A tiny BERT (2 layers × 4 heads, d_model 32) with the paper's mechanisms planted by hand, saved into
    ``folder``; every other weight is random, as in :func:`tiny_cross_encoder`. Residual dimensions:
    0-7 a token identity code, 8 the IDF store, 9 the segment (−1.5 query side, +1.5 document), 10 the Matching
    Score, 11 the relevance signal; no random weight writes to 9-11.

    - Head 0.0 is a matching head: its queries and keys read the identity code, so every token attends to copies
      of itself, and its value reads the segment, so a query token writes to dim 10 the attention it pays to its
      copies in the document (k/(k+1) for k copies: it saturates).
    - Head 1.0 is a relevance scoring head: from [CLS] it attends to the query segment, more to tokens of high IDF
      (its keys read the IDF store), and carries their Matching Scores into dim 11, which the pooler and
      classifier read: the score rises with matches, the more so the rarer the matched term.
    - W_E's top singular direction stores :func:`planted_idf` (dim 8, twice any other column's scale). Position
      embeddings are zero, so identity alone drives head 0.0.
    """
    from transformers import AutoModelForSequenceClassification

    tiny_cross_encoder(folder, "bert", 1, seed, n_layers=2, n_heads=4, d_model=32)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    config = model.config
    d_head = config.hidden_size // config.num_attention_heads
    idf_dim, segment, matched, relevance = d_head, d_head + 1, d_head + 2, d_head + 3
    planted = [segment, matched, relevance]
    generator = torch.Generator().manual_seed(seed)
    idf = torch.as_tensor(planted_idf(config.vocab_size, seed), dtype=torch.float32)
    layer0, layer1 = model.bert.encoder.layer
    with torch.no_grad():
        embeddings = model.bert.embeddings
        words = 0.3 * torch.randn(config.vocab_size, config.hidden_size, generator=generator)
        words[:, :d_head] = torch.randn(config.vocab_size, d_head, generator=generator)  # identity code
        words[:, idf_dim] = 2.0 * (idf - idf.mean()) / idf.std()  # the IDF store: twice any other column's scale
        words[:, planted] = 0.0
        embeddings.word_embeddings.weight.copy_(words)
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight[:, segment] = torch.tensor([-1.5, 1.5])  # same norm: same LN scale
        for layer in (layer0, layer1):  # nothing random writes to the planted dimensions
            layer.attention.output.dense.weight[planted] = 0.0
            layer.attention.output.dense.bias[planted] = 0.0
            layer.output.dense.weight[planted] = 0.0
            layer.output.dense.bias[planted] = 0.0
        matching = layer0.attention.self
        for projection in (matching.query, matching.key):
            projection.weight[:d_head] = 0.0
            projection.weight[:d_head, :d_head] = strength * torch.eye(d_head)
            projection.bias[:d_head] = 0.0
        matching.value.weight[:d_head] = 0.0
        matching.value.bias[:d_head] = 0.0
        matching.value.weight[0, segment] = 1.0
        layer0.attention.output.dense.weight[matched, 0] = 4.0
        scoring = layer1.attention.self
        for projection in (scoring.query, scoring.key, scoring.value):
            projection.weight[:d_head] = 0.0
            projection.bias[:d_head] = 0.0
        scoring.query.bias[0] = 1.0
        scoring.key.weight[0, segment] = -10.0  # document tokens out of [CLS]'s view
        scoring.key.weight[0, idf_dim] = 1.5  # high-IDF query tokens in view (IDF-weighted matching)
        scoring.value.weight[0, matched] = 1.0
        layer1.attention.output.dense.weight[relevance, 0] = 4.0
        model.bert.pooler.dense.weight.zero_()
        model.bert.pooler.dense.bias.zero_()
        model.bert.pooler.dense.weight[0, relevance] = 0.3  # tanh near its linear range
        model.classifier.weight.zero_()
        model.classifier.weight[0, 0] = 5.0
        model.classifier.bias.zero_()
    model.save_pretrained(folder)
    return folder
