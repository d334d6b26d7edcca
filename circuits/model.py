"""HookedCrossEncoder: a Hugging Face cross-encoder with named hook points.

The model is the Hugging Face model itself. For the BERT family, hook points are torch forward hooks on its
modules plus a registered attention function (identical arithmetic to HF's eager attention) that exposes the
attention pattern and per-head context. For architectures whose attention is not HF's attention interface
(DeBERTa-v2/v3, ModernBERT) the forward runs the HF embeddings and head around ``circuits.block``'s blocks,
which fire every block hook point. Either way, with no hooks active the scores equal the plain HF model's
(tested within 1e-5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from circuits.architectures import Architecture, architecture_for, resolve
from circuits.batch import PairBatch
from circuits.block import Edit, block
from circuits.device import usable_device
from circuits.errors import CheckpointError, InputError
from circuits.hf_attention import ATTN_IMPLEMENTATION, LayerHooks, register_attention
from circuits.hooks import BLOCK_KINDS, ActivationCache, HookFn, HookRegistry, act_name, hook_names
from circuits.loading import HUB_ID, check_config, check_local_checkpoint, load_tokenizer, state_sha256

log = logging.getLogger(__name__)

# block hook points fired inside circuits.block: only the attention's own with the HF forward (module hooks fire
# the others), every one without it
_FIRED_BY_BLOCK = frozenset(("pattern", "z"))
_EVERY_BLOCK_POINT = frozenset(BLOCK_KINDS) - {"resid_pre"}


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a hooked model."""

    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    n_labels: int
    max_length: int
    model_type: str


@dataclass
class HookedCrossEncoder:
    """A sequence-classification cross-encoder with TransformerLens-style hook points.

    Examples:
        >>> from tempfile import TemporaryDirectory
        >>> from circuits.tiny import tiny_cross_encoder
        >>> folder = TemporaryDirectory()
        >>> checkpoint = tiny_cross_encoder(Path(folder.name), "bert")  # a tiny random BERT; or a hub id
        >>> model = HookedCrossEncoder.from_pretrained(checkpoint)
        >>> batch = model.tokenize(["what is bm25"], ["BM25 is a ranking function."])
        >>> scores, cache = model.run_with_cache(batch, names_filter=lambda n: n.endswith("hook_pattern"))
        >>> cache["pattern", 0].shape[:2], scores.shape   # pattern: [batch, head, query_pos, key_pos]
        (torch.Size([1, 4]), torch.Size([1]))
        >>> folder.cleanup()
    """

    model: nn.Module
    tokenizer: Any
    arch: Architecture
    name: str
    score: str = "auto"
    cfg: ModelConfig = field(init=False)
    registry: HookRegistry = field(init=False)
    truncated_documents: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.model.eval()
        if self.arch.native_forward:
            register_attention()
            self.model.set_attn_implementation(ATTN_IMPLEMENTATION)
        config = self.model.config
        n_layers = len(self.blocks)
        n_heads = config.num_attention_heads if hasattr(config, "num_attention_heads") else config.n_heads
        d_model = config.hidden_size if hasattr(config, "hidden_size") else config.dim
        max_length = min(getattr(config, "max_position_embeddings", 512),
                         getattr(self.tokenizer, "model_max_length", 10**9))
        if config.model_type in ("roberta", "xlm-roberta"):
            max_length = min(max_length, config.max_position_embeddings - config.pad_token_id - 1)
        self.cfg = ModelConfig(n_layers, n_heads, d_model, d_model // n_heads, config.num_labels, max_length,
                               config.model_type)
        if self.cfg.n_labels not in (1, 2):
            raise CheckpointError(
                f"{self.name} has a {self.cfg.n_labels}-label head; a cross-encoder scores with 1 logit "
                "(relevance) or 2 (not relevant, relevant). Fix: use a reranker checkpoint.")
        self._score_fn = _score_function(self.score, self.cfg.n_labels)
        self.registry = HookRegistry(tuple(hook_names(n_layers)))
        self._install_hooks()

    @property
    def score_mode(self) -> str:
        """How scores are read from logits: ``logit`` (1-logit head) or the 2-logit mode (``diff`` by default)."""
        if self.cfg.n_labels == 1:
            return "logit"
        return "diff" if self.score == "auto" else self.score

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, checkpoint: str | Path, *, revision: str | None = None, allow_pickle: bool = False,
                        device: str | torch.device = "cpu", score: str = "auto",
                        tokenizer: str | Path | None = None) -> "HookedCrossEncoder":
        """Load a BERT-family sequence-classification checkpoint from a directory or a hub id.

        Safetensors only unless ``allow_pickle``; never runs remote code; refuses configs with ``auto_map``.
        """
        from transformers import AutoConfig, AutoModelForSequenceClassification

        device = usable_device(device)  # before loading: a device this machine lacks fails in a second
        spec = str(checkpoint)
        local = Path(spec).expanduser()
        is_local = local.exists() or not HUB_ID.match(spec) or spec.startswith((".", "/", "~"))
        source = str(local) if is_local else spec
        if is_local:
            check_local_checkpoint(local, allow_pickle)
        try:
            config = AutoConfig.from_pretrained(source, revision=revision, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise CheckpointError(
                f"cannot read the config of {spec!r} (revision {revision!r}): {exc}. Fix: for a hub id, check "
                "the spelling and that this machine reaches the hub or has it in the Hugging Face cache "
                "(HF_HUB_OFFLINE=1 uses the cache); for a directory, give its path.") from None
        check_config(config, spec)
        try:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                source, revision=revision, trust_remote_code=False, use_safetensors=not allow_pickle or None,
                attn_implementation="eager", output_loading_info=True, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            hint = ("" if allow_pickle else " If it has only pickle weights (pytorch_model.bin), convert them to "
                    "safetensors, or pass allow_pickle=True (--axiom-allow-pickle) if you trust the file.")
            raise CheckpointError(f"cannot load the weights of {spec!r}: {exc}.{hint}") from None
        missing = [k for k in info.get("missing_keys", []) if not k.endswith("position_ids")]
        if missing:
            raise CheckpointError(
                f"{spec!r} lacks weights for {missing[:6]}{' …' if len(missing) > 6 else ''}: they would be random. "
                "A checkpoint without a trained sequence-classification head is not a cross-encoder. "
                "Fix: fine-tune and save it with a head (save_pretrained), then load that.")
        tok_source = str(tokenizer) if tokenizer is not None else source
        tok = load_tokenizer(tok_source, revision if tokenizer is None else None, spec, config.vocab_size)
        hooked = cls(model=model, tokenizer=tok, arch=architecture_for(config.model_type, spec), name=spec,
                     score=score)
        return hooked.to(device)

    def to(self, device: str | torch.device) -> "HookedCrossEncoder":
        self.model.to(usable_device(device))
        return self

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ structure
    @property
    def base(self) -> nn.Module:
        return resolve(self.model, self.arch.base)

    @property
    def blocks(self) -> nn.ModuleList:
        return resolve(resolve(self.model, self.arch.base), self.arch.layers)

    def block_part(self, layer: int, part: str) -> nn.Module:
        """A submodule of block ``layer`` by role: ``q k v o ln1 ln2 mlp_out attention``."""
        return resolve(self.blocks[layer], getattr(self.arch, part))

    @property
    def final_linear(self) -> nn.Linear:
        return resolve(self.model, self.arch.final_linear)

    @property
    def hook_names(self) -> tuple[str, ...]:
        return self.registry.names

    def weights_sha256(self) -> str:
        """sha256 over every parameter and buffer (sorted name, dtype, shape, bytes): format-independent."""
        return state_sha256(self.model.state_dict())

    # ------------------------------------------------------------------ hooks
    def _install_hooks(self) -> None:
        reg = self.registry
        d_head = self.cfg.d_head

        def out_hook(name: str, per_head: bool = False) -> Callable[..., torch.Tensor | None]:
            def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
                if not reg.active:
                    return None
                tensor = output[0] if isinstance(output, tuple) else output
                if per_head:
                    shaped = tensor.view(*tensor.shape[:-1], -1, d_head)
                    new = reg.fire(name, shaped).reshape(tensor.shape)
                else:
                    new = reg.fire(name, tensor)
                return (new, *output[1:]) if isinstance(output, tuple) else new
            return hook

        def pre_hook(name: str) -> Callable[..., Any]:
            def hook(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
                if not reg.active:
                    return None
                if args:
                    return (reg.fire(name, args[0]), *args[1:]), kwargs
                key = "hidden_states" if "hidden_states" in kwargs else "input"
                return args, {**kwargs, key: reg.fire(name, kwargs[key])}
            return hook

        resolve(self.base, self.arch.embeddings).register_forward_hook(out_hook("hook_embed"))
        for layer, block in enumerate(self.blocks if self.arch.native_forward else ()):
            block.register_forward_pre_hook(pre_hook(act_name("resid_pre", layer)), with_kwargs=True)
            for part in ("q", "k", "v"):
                resolve(block, getattr(self.arch, part)).register_forward_hook(
                    out_hook(act_name(part, layer), per_head=True))
            resolve(block, self.arch.attention)._axiomtests_hooks = LayerHooks(reg, layer)
            resolve(block, self.arch.o).register_forward_hook(out_hook(act_name("attn_out", layer)))
            resolve(block, self.arch.ln1).register_forward_hook(out_hook(act_name("resid_mid", layer)))
            resolve(block, self.arch.mlp_out).register_forward_hook(out_hook(act_name("mlp_out", layer)))
            resolve(block, self.arch.ln2).register_forward_hook(out_hook(act_name("resid_post", layer)))

        def cls_hook(_module: nn.Module, args: tuple) -> tuple | None:
            return (reg.fire("hook_cls", args[0]),) if reg.active else None

        self.final_linear.register_forward_pre_hook(cls_hook)
        self.final_linear.register_forward_hook(out_hook("hook_logit"))

    @contextmanager
    def hooks(self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]) -> Iterator[None]:
        """Context manager: the hooks are active inside the block and removed afterwards, even on error."""
        with self.registry.using(fwd_hooks):
            yield

    # ------------------------------------------------------------------ inputs
    def tokenize(self, queries: Sequence[str], docs: Sequence[str], max_length: int | None = None) -> PairBatch:
        """Tokenise pairs as ``[CLS] q [SEP] d [SEP]``; over-long documents are truncated (queries never)."""
        if len(queries) != len(docs):
            raise InputError(f"{len(queries)} queries but {len(docs)} documents: pass one document per query")
        if not queries:
            raise InputError("no pairs given: pass at least one (query, document) pair")
        for i, q in enumerate(queries):
            if not q or not q.strip():
                raise InputError(f"query {i} is empty: a cross-encoder needs query text to score against")
        limit = min(max_length or self.cfg.max_length, self.cfg.max_length)
        full = self.tokenizer(list(queries), list(docs), truncation=False)["input_ids"]
        n_truncated = sum(len(ids) > limit for ids in full)
        for i, q in enumerate(queries):
            n_query = len(self.tokenizer(q)["input_ids"])
            if n_query + 2 >= limit:
                raise InputError(f"query {i} is {n_query} tokens long; with its document it must fit "
                                 f"{limit} tokens. Shorten the query (documents are truncated, queries never).")
        enc = self.tokenizer(list(queries), list(docs), truncation="only_second", max_length=limit,
                             padding=True, return_tensors="pt")
        if n_truncated:
            log.info("%d of %d documents truncated to fit %d tokens", n_truncated, len(docs), limit)
        self.truncated_documents += n_truncated
        tt = enc.get("token_type_ids") if self.arch.uses_token_type_ids else None
        return PairBatch(enc["input_ids"], enc["attention_mask"], tt, n_truncated).to(self.device)

    # ------------------------------------------------------------------ running
    def scores_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Relevance score per pair from raw logits (see ``score`` in ``from_pretrained``)."""
        return self._score_fn(logits)

    def logits(self, batch: PairBatch) -> torch.Tensor:
        """Raw logits ``[batch, n_labels]`` from the hooked forward (hooks fire if any are active)."""
        with torch.inference_mode():
            if self.arch.native_forward:
                return self.model(**batch.inputs()).logits
            return self.logits_from(0, self.embed(batch), self.extended_mask(batch.attention_mask), False)

    def __call__(self, batch: PairBatch) -> torch.Tensor:
        """Relevance scores ``[batch]``."""
        return self.scores_from_logits(self.logits(batch))

    def score_pairs(self, queries: Sequence[str], docs: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """Scores of many pairs (CPU tensor ``[n]``, in input order). Without active hooks the pairs run shortest
        first in batches of ``batch_size``, each cut to its own longest pair, and the last block computes its
        [CLS] row only (:meth:`run_from`), all the logit reads; with hooks, batches keep the input order."""
        if not len(queries):
            return torch.empty(0)
        if self.registry.active:
            return torch.cat([self(self.tokenize(queries[i:i + batch_size], docs[i:i + batch_size])).cpu()
                              for i in range(0, len(queries), batch_size)])
        batch = self.tokenize(queries, docs)
        chunks = batch.length_chunks(batch_size)
        scores = torch.cat([self.scores_cls_last(batch.select(index).trimmed()).cpu() for index in chunks])
        return torch.empty_like(scores).index_put_((torch.cat(chunks).cpu(),), scores)

    @property
    def reads_cls_only(self) -> bool:
        """Whether the classification head reads the last block's [CLS] row only (not a mean over positions)."""
        return self.arch.cls_pooled(self.model.config)

    def scores_cls_last(self, batch: PairBatch) -> torch.Tensor:
        """Scores through the hooked blocks, the last one computing its [CLS] row only (what the logit reads;
        every row under mean pooling): equal to ``self(batch)`` within float error, and cheaper. Active hooks
        fire, the last block's with one row; a hook that needs that block's other rows needs ``self(batch)``."""
        with torch.inference_mode():
            return self.run_from(0, self.embed(batch), self.extended_mask(batch.attention_mask))

    def run_with_hooks(self, batch: PairBatch, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]
                       ) -> torch.Tensor:
        """Scores with the given ``(name or name predicate, fn)`` hooks active for this run only."""
        with self.hooks(fwd_hooks):
            return self(batch)

    def run_with_cache(self, batch: PairBatch, names_filter: Callable[[str], bool] | Iterable[str] | None = None
                       ) -> tuple[torch.Tensor, ActivationCache]:
        """Scores and an ActivationCache of every hook point passing ``names_filter`` (all when None)."""
        if names_filter is None:
            wanted: Callable[[str], bool] = lambda _n: True  # noqa: E731
        elif callable(names_filter):
            wanted = names_filter
        else:
            names = set(names_filter)
            for n in names:
                self.registry.check(n)
            wanted = names.__contains__
        store: dict[str, torch.Tensor] = {}

        def save(tensor: torch.Tensor, point: Any) -> None:
            store[point.name] = tensor.detach().clone()

        scores = self.run_with_hooks(batch, [(wanted, save)])
        return scores, ActivationCache(store)

    # ------------------------------------------------------------------ layer-level pieces (for patching)
    def extended_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """Additive mask ``[b,1,1,p]``: 0 where attended, the dtype's minimum on padding (HF eager's values)."""
        dtype = next(self.model.parameters()).dtype
        return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def embed(self, batch: PairBatch) -> torch.Tensor:
        """``hook_embed``: the residual stream entering block 0."""
        emb = resolve(self.base, self.arch.embeddings)
        kwargs = {"input_ids": batch.input_ids}
        if batch.token_type_ids is not None:
            kwargs["token_type_ids"] = batch.token_type_ids
        if self.arch.embed_mask:
            kwargs["mask"] = batch.attention_mask
        return emb(**kwargs)

    def block(self, layer: int, resid: torch.Tensor, mask: torch.Tensor, cls: bool = False) -> torch.Tensor:
        """Block ``layer`` by :func:`circuits.block.block` (equal to the Hugging Face block: tested), firing the
        hook points as the Hugging Face forward does; ``cls=True`` computes the [CLS] row only, all that the
        last block must produce for the logit."""
        resid = self.registry.fire(act_name("resid_pre", layer), resid)
        fired = _FIRED_BY_BLOCK if self.arch.native_forward else _EVERY_BLOCK_POINT
        fire = Edit(fired if self.registry.active else frozenset(),
                    lambda key, tensor: self.registry.fire(act_name(key, layer), tensor))
        return block(self, layer, resid, mask, cls, edit=fire)

    def head_logits(self, last_hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from the last block's output (its [CLS] row, or under mean pooling the mean over the positions
        the additive ``mask`` leaves valid; all when None)."""
        valid = None if mask is None else mask[:, 0, 0] == 0
        return self.final_linear(self.arch.head_input(self.model, last_hidden, valid))

    def logits_from(self, layer: int, resid: torch.Tensor, mask: torch.Tensor, cls_only_last: bool = True
                    ) -> torch.Tensor:
        """Logits from the residual stream entering block ``layer`` (blocks ``layer``… then the head); with
        ``cls_only_last`` the last block computes only the row the head reads ([CLS], unless it pools the mean)."""
        last, cls_only_last = self.cfg.n_layers - 1, cls_only_last and self.reads_cls_only
        for current in range(layer, self.cfg.n_layers):
            resid = self.block(current, resid, mask, cls=cls_only_last and current == last)
        return self.head_logits(resid, mask)

    def run_from(self, layer: int, resid: torch.Tensor, mask: torch.Tensor, cls_only_last: bool = True
                 ) -> torch.Tensor:
        """Scores from the residual stream entering block ``layer`` (:meth:`logits_from`, then the score)."""
        return self.scores_from_logits(self.logits_from(layer, resid, mask, cls_only_last))


def _score_function(score: str, n_labels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    if n_labels == 1:
        if score not in ("auto", "logit"):
            raise CheckpointError(f"score={score!r} needs a 2-logit head; a 1-logit head scores with 'logit'")
        return lambda logits: logits[:, 0]
    choices: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "auto": lambda lg: lg[:, 1] - lg[:, 0],
        "diff": lambda lg: lg[:, 1] - lg[:, 0],
        "logit1": lambda lg: lg[:, 1],
        "logprob1": lambda lg: torch.log_softmax(lg, dim=-1)[:, 1],
    }
    if score not in choices:
        raise CheckpointError(f"unknown score={score!r} for a 2-logit head; choose one of {sorted(choices)} "
                              "('diff' = logit[1] - logit[0], the default)")
    return choices[score]


