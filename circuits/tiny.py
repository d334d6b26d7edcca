"""Tiny random cross-encoders built from configs: the fast test tier (no downloads, seconds)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
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


#: The tokenizer family of each tiny architecture: the vocabulary kind its real checkpoints use.
TOKENIZER_KIND = {"deberta-v2": "sentencepiece", "modernbert": "bpe"}


def save_tiny_tokenizer(folder: Path, kind: str = "wordpiece") -> None:
    """Write a tokenizer over ``_WORDS`` into ``folder``: BERT's WordPiece (``tiny_vocab``), a SentencePiece-style
    Unigram with ``▁`` word starts (DeBERTa-v3's kind), or a byte-level BPE with ``Ġ`` word starts (ModernBERT's
    kind). All three tokenise any ASCII text and frame pairs as ``[CLS] q [SEP] d [SEP]``."""
    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    if kind != "wordpiece":
        _fast_tokenizer(kind).save_pretrained(folder)
        return
    (folder / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)


def _fast_tokenizer(kind: str):
    """A Unigram (``"sentencepiece"``) or byte-level BPE (``"bpe"``) tokenizer whose whole words are ``_WORDS``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    if kind == "sentencepiece":
        chars = string.ascii_letters + string.digits + string.punctuation
        pieces = [(p, 0.0) for p in _SPECIAL] + [("▁" + w, -5.0) for w in _WORDS] + [("▁", -8.0)]
        pieces += [(c, -10.0) for c in chars] + [("▁" + c, -9.0) for c in chars]
        tokenizer = Tokenizer(models.Unigram(pieces, unk_id=_SPECIAL.index("[UNK]")))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    elif kind == "bpe":
        vocab = {p: i for i, p in enumerate(_SPECIAL + sorted(pre_tokenizers.ByteLevel.alphabet()))}
        merges: list[tuple[str, str]] = []
        for inside in (True, False):  # words inside a text first, so no first-word merge splits them
            for word in _WORDS:
                piece, rest = ("Ġ", word) if inside else (word[0], word[1:])
                for char in rest:
                    merges.append((piece, char))
                    piece += char
        merges = list(dict.fromkeys(merges))
        for left, right in merges:
            vocab.setdefault(left + right, len(vocab))
        tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}: choose wordpiece, sentencepiece or bpe")
    return _pair_tokenizer(tokenizer)


def trained_tokenizer(kind: str, texts: Iterable[str], vocab_size: int = 3000):
    """A SentencePiece-style Unigram (``"sentencepiece"``) or byte-level BPE (``"bpe"``) tokenizer of
    ``vocab_size`` pieces trained on ``texts``: a real vocabulary of that kind, for tiny models the claim suite
    can run on (its datasets need common words as single tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if kind == "sentencepiece":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=_SPECIAL, unk_token="[UNK]",
                                          show_progress=False)
    elif kind == "bpe":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=_SPECIAL, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}: choose sentencepiece or bpe")
    tokenizer.train_from_iterator(list(texts), trainer)
    return _pair_tokenizer(tokenizer, max_length=512)


def _pair_tokenizer(tokenizer, max_length: int = 64):
    """``tokenizer`` (a ``tokenizers.Tokenizer``) framing pairs as ``[CLS] q [SEP] d [SEP]``, as a transformers
    fast tokenizer."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    ids = {t: tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]")}
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=list(ids.items()))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=max_length, pad_token="[PAD]",
                                   unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def tiny_vocab_size(arch: str) -> int:
    """The vocabulary size of ``arch``'s tiny tokenizer."""
    return len(_fast_tokenizer(TOKENIZER_KIND[arch])) if arch in TOKENIZER_KIND else len(tiny_vocab())


def tiny_config(arch: str, n_labels: int = 1, *, n_layers: int = 2, n_heads: int = 4, d_model: int = 32,
                variant: str = "", vocab_size: int = 0, positions: int = 64):
    """Config of a tiny ``arch`` ("bert", "roberta", "electra", "distilbert", "deberta-v2", "modernbert")
    classifier. DeBERTa is v3's kind (relative attention with c2p and p2c, log buckets, shared keys, no absolute
    positions), or with ``variant="v2"`` v2's (separate position projections, absolute positions, segments);
    ModernBERT alternates global and local attention with a window of 8 (so test pairs exceed it) and pools
    [CLS], or with ``variant="mean"`` the mean. ``vocab_size``: the tiny tokenizer's when 0; ``positions``: the
    longest input of those two (512 holds the claim suite's documents)."""
    from transformers import (BertConfig, DebertaV2Config, DistilBertConfig, ElectraConfig, ModernBertConfig,
                              RobertaConfig)

    common = dict(vocab_size=vocab_size or tiny_vocab_size(arch), num_labels=n_labels, pad_token_id=0)
    sizes = dict(hidden_size=d_model, num_hidden_layers=n_layers, num_attention_heads=n_heads,
                 intermediate_size=2 * d_model)
    if arch == "deberta-v2":
        v2 = variant == "v2"
        return DebertaV2Config(
            **sizes, max_position_embeddings=positions, type_vocab_size=2 if v2 else 0, relative_attention=True,
            position_buckets=-1 if v2 else 8, max_relative_positions=16 if v2 else 64, pos_att_type=["p2c", "c2p"],
            norm_rel_ebd="none" if v2 else "layer_norm", share_att_key=not v2, position_biased_input=v2,
            pooler_hidden_size=d_model, pooler_hidden_act="gelu",
            architectures=["DebertaV2ForSequenceClassification"], **common)
    if arch == "modernbert":
        return ModernBertConfig(
            **sizes, max_position_embeddings=positions, local_attention=8, global_attn_every_n_layers=2, cls_token_id=2,
            sep_token_id=3, bos_token_id=2, eos_token_id=3, classifier_pooling=variant or "cls",
            architectures=["ModernBertForSequenceClassification"], **common)
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


def tiny_cross_encoder(folder: Path, arch: str = "bert", n_labels: int = 1, seed: int = 0, tokenizer=None,
                       **sizes: int | str) -> Path:
    """Save a randomly initialised tiny cross-encoder (safetensors + tokenizer) into ``folder``; ``sizes`` are
    :func:`tiny_config`'s keywords. ``tokenizer``: saved instead of the tiny one (the vocabulary follows it)."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    if tokenizer is None and arch in TOKENIZER_KIND:
        tokenizer = _fast_tokenizer(TOKENIZER_KIND[arch])
    if tokenizer is not None:
        sizes["vocab_size"] = len(tokenizer)
    model = AutoModelForSequenceClassification.from_config(tiny_config(arch, n_labels, **sizes))
    with torch.no_grad():  # random init is near-zero for heads; widen it so scores move visibly
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.2)
    model.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    else:
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


#: Near-synonyms planted in :func:`planted_cross_encoder`: each right-hand word's embedding is its left-hand
#: word's with the identity code slightly moved, so the matching head matches them (STMC1). The right-hand words
#: are outside the words the planted tests draw queries and documents from.
PLANTED_SYNONYMS = {"search": "retrieval", "passage": "document", "question": "query", "token": "term",
                    "score": "relevance", "model": "matching"}


def planted_idf(vocab_size: int, seed: int = 0) -> np.ndarray:
    """The IDF a planted model stores: one positive value per vocabulary entry (seeded); a near-synonym of
    :data:`PLANTED_SYNONYMS` shares its word's."""
    idf = np.random.default_rng(seed).uniform(1.0, 10.0, vocab_size)
    index = {word: i for i, word in enumerate(tiny_vocab())}
    for word, synonym in PLANTED_SYNONYMS.items():
        if index[synonym] < vocab_size:
            idf[index[synonym]] = idf[index[word]]
    return idf


def planted_cross_encoder(folder: Path, seed: int = 0, strength: float = 3.0, length_normalised: bool = False,
                          signed_idf: bool = False) -> Path:
    """A tiny BERT (3 layers × 4 heads, d_model 32) with the paper's mechanisms planted by hand, saved into
    ``folder``; every other weight is random, as in :func:`tiny_cross_encoder`. Residual dimensions:
    0-7 a token identity code, 8 the IDF store, 9 the segment (−1.5 query side, +1.5 document), 10 the Matching
    Score, 11 the relevance signal, 12 the contextualised Matching Score; no random weight writes to 8-12 (nor to
    0-7 and 13-20 when ``length_normalised``).

    - Head 0.0 is a matching head: its queries and keys read the identity code, so every token attends to copies
      of itself (and to its :data:`PLANTED_SYNONYMS`, whose codes are near its own), and its value reads the
      segment, so a query token writes to dim 10 the attention it pays to its matches in the document (k/(k+1)
      for k copies: it saturates).
    - Heads 1.0 and 1.1 are query-contextualisation heads: each query token attends to the query's tokens of high
      IDF (keys read the IDF store; the document is out of view) and gathers their Matching Scores into dim 12.
    - Head 2.0 is a relevance scoring head: from [CLS] it attends to the query segment, more to tokens of high IDF
      (its keys read the IDF store), and carries their Matching Scores (dim 10, and dim 12 at a third of the
      weight) into dim 11, which the pooler and classifier read: the score rises with matches, the more so the
      rarer the matched term.
    - W_E's top singular direction stores :func:`planted_idf` (dim 8: −4 plus the standardised IDF). Position
      embeddings are zero, so identity alone drives head 0.0.

    ``signed_idf``: matches of low-IDF terms lower the score, as BM25's IDF turns negative for terms in most
    documents (and as the paper's head 10.10 prefers low-IDF tokens): head 2.1 mirrors 2.0 on the query's low-IDF
    tokens and subtracts their Matching Scores (twice 2.0's weight). Lowering a term's IDF through U0 then turns
    its match from a gain into a loss (§6.3's defence). With IDF that only weights matches, a lower IDF shrinks a
    match's gain but never below nothing.

    ``length_normalised``: matching saturates with copies *and* falls with document length, as BM25's
    tf/(tf + k1·length) (§4.3, App. E). Head 0.0 then attends from each query token to the document only (and to
    the last [SEP], where attention rests when nothing matches), and writes the identity code of what it attends
    to (dims 13-19). Head 1.2 compares that echo with the token's own identity code: the share of 0.0's attention
    that found copies of the token, against the [CLS]/[SEP] sinks (flag dim 20), into dim 10. A single head cannot
    carry length alone: its output moves the same way for every added document token, a copy or not, so only a
    second step that compares what came back with the token itself tells a match from filler. The
    contextualisation heads 1.0 and 1.1 see no Matching Score then (it arrives in their layer).
    """
    from transformers import AutoModelForSequenceClassification

    tiny_cross_encoder(folder, "bert", 1, seed, n_layers=3, n_heads=4, d_model=32)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    config = model.config
    d_head = config.hidden_size // config.num_attention_heads
    idf_dim, segment, matched, relevance, context = range(d_head, d_head + 5)
    echo, flag = list(range(context + 1, context + d_head)), context + d_head  # 13-19, 20
    planted = [segment, matched, relevance, context] + ([*echo, flag] if length_normalised else [])
    generator = torch.Generator().manual_seed(seed)
    idf = torch.as_tensor(planted_idf(config.vocab_size, seed), dtype=torch.float32)
    layer0, layer1, layer2 = model.bert.encoder.layer
    vocab = {word: i for i, word in enumerate(tiny_vocab())}

    def head(layer, h: int) -> tuple[slice, object]:
        """(its rows in the Q/K/V projections, the layer's self-attention), those rows zeroed."""
        rows = slice(h * d_head, (h + 1) * d_head)
        attention = layer.attention.self
        for projection in (attention.query, attention.key, attention.value):
            projection.weight[rows] = 0.0
            projection.bias[rows] = 0.0
        return rows, attention

    with torch.no_grad():
        embeddings = model.bert.embeddings
        words = 0.3 * torch.randn(config.vocab_size, config.hidden_size, generator=generator)
        words[:, :d_head] = torch.randn(config.vocab_size, d_head, generator=generator)  # identity code
        for word, synonym in PLANTED_SYNONYMS.items():  # its word's row, the identity code slightly moved
            words[vocab[synonym]] = words[vocab[word]]
            words[vocab[synonym], :d_head] += 0.3 * torch.randn(d_head, generator=generator)
        # the IDF store: an offset makes it W_E's top singular direction, and an IDF edit (±3 std) shrinks or
        # grows the row's norm, not both: LayerNorm then scales the token's other features monotonically too
        words[:, idf_dim] = -4.0 + (idf - idf.mean()) / idf.std()
        words[:, planted] = 0.0
        if length_normalised:  # [CLS] and [SEP] are sinks: a flag, and [SEP] matches nothing
            words[[vocab["[CLS]"], vocab["[SEP]"]], flag] = 2.0
            words[vocab["[SEP]"], :d_head] = 0.0
        embeddings.word_embeddings.weight.copy_(words)
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight[:, segment] = torch.tensor([-1.5, 1.5])  # same norm: same LN scale
        protected = [idf_dim, *planted, *(range(d_head) if length_normalised else [])]
        for layer in (layer0, layer1, layer2):  # nothing random writes to the planted dimensions or the IDF store
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight[protected] = 0.0
                dense.bias[protected] = 0.0
        rows, matching = head(layer0, 0)
        if length_normalised:  # 0.0 echoes the identity of what it matched; 1.2 reads how much of its own
            seven = slice(rows.start, rows.start + len(echo))
            matching.query.weight[seven, :len(echo)] = strength * torch.eye(len(echo))
            matching.key.weight[seven, :len(echo)] = strength * torch.eye(len(echo))
            matching.query.bias[rows.stop - 1] = 1.0
            matching.key.weight[rows.stop - 1, segment] = 10.0  # the query out of view: only document tokens,
            matching.key.weight[rows.stop - 1, flag] = 8.0  # and the last [SEP], where unmatched attention rests
            matching.value.weight[seven, :len(echo)] = torch.eye(len(echo))
            layer0.attention.output.dense.weight[echo, seven] = torch.eye(len(echo))
            rows, reader = head(layer1, 2)
            seven = slice(rows.start, rows.start + len(echo))
            reader.query.weight[seven, :len(echo)] = 8.0 * torch.eye(len(echo))  # own identity · echo: the share
            reader.key.weight[seven, echo] = torch.eye(len(echo))  # of its attention that found copies of itself
            reader.query.bias[rows.stop - 1] = 1.0
            reader.key.weight[rows.stop - 1, segment] = -10.0  # the document out of view
            reader.key.weight[rows.stop - 1, flag] = 12.0  # [CLS] and [SEP] compete with that share
            reader.value.weight[rows.start, flag] = -1.0  # after LayerNorm the sinks' flag is about 1.3, a
            reader.value.bias[rows.start] = 1.3  # query token's about 0.4: a token attending to itself writes
            layer1.attention.output.dense.weight[matched, rows.start] = 3.0
            layer1.attention.output.dense.bias[matched] = -1.2  # ~0 when half the attention rests on sinks
        else:
            matching.query.weight[rows, :d_head] = strength * torch.eye(d_head)
            matching.key.weight[rows, :d_head] = strength * torch.eye(d_head)
            matching.value.weight[rows.start, segment] = 1.0
            layer0.attention.output.dense.weight[matched, rows.start] = 1.0  # small: LN scales stay the random dims'
        for h, sharpness in ((0, 3.0), (1, 2.0)):
            rows, contextualising = head(layer1, h)
            contextualising.query.bias[rows.start] = 1.0
            contextualising.key.weight[rows.start, segment] = -10.0  # the document out of view
            contextualising.key.weight[rows.start, idf_dim] = sharpness  # high-IDF query tokens in view
            contextualising.value.weight[rows.start, matched] = 1.0
            layer1.attention.output.dense.weight[context, rows.start] = 1.0
        rows, scoring = head(layer2, 0)
        scoring.query.bias[rows.start] = 1.0
        scoring.key.weight[rows.start, segment] = -10.0  # document tokens out of [CLS]'s view
        scoring.key.weight[rows.start, idf_dim] = 2.0  # high-IDF query tokens in view (IDF-weighted matching)
        scoring.value.weight[rows.start, matched] = 4.0
        scoring.value.weight[rows.start, context] = 4.0 / 3.0
        layer2.attention.output.dense.weight[relevance, rows.start] = 4.0
        if signed_idf:  # 2.1: 2.0's mirror, on low-IDF query tokens, subtracting
            rows, penalty = head(layer2, 1)
            penalty.query.bias[rows.start] = 1.0
            penalty.key.weight[rows.start, segment] = -10.0
            penalty.key.weight[rows.start, idf_dim] = -2.0
            penalty.value.weight[rows.start, matched] = 4.0
            layer2.attention.output.dense.weight[relevance, rows.start] = -8.0
        model.bert.pooler.dense.weight.zero_()
        model.bert.pooler.dense.bias.zero_()
        model.bert.pooler.dense.weight[0, relevance] = 0.3  # tanh near its linear range
        model.classifier.weight.zero_()
        model.classifier.weight[0, 0] = 5.0
        model.classifier.bias.zero_()
    model.save_pretrained(folder)
    return folder
