"""Per-architecture module paths and block arithmetic of sequence-classification cross-encoders, as data.

Every path is relative to the object named in its comment; ``resolve`` walks dotted paths. The hooked model
and ``circuits.block`` read these tables and nothing else, so adding an architecture is adding one entry, plus
one small module where its attention differs from scaled dot products (``circuits.deberta``,
``circuits.modernbert``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from circuits import deberta, modernbert
from circuits.errors import CheckpointError


def resolve(root: nn.Module, path: str) -> nn.Module:
    """The submodule of ``root`` at dotted ``path`` (``"encoder.layer"``)."""
    module = root
    for part in path.split("."):
        module = getattr(module, part)
    return module


def _bert_mlp(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return layer.output.dense(layer.intermediate(x))


def _distilbert_mlp(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    ffn = layer.ffn
    return ffn.lin2(ffn.activation(ffn.lin1(x)))


def _bert_head_input(model: nn.Module, hidden: torch.Tensor, _valid: torch.Tensor | None) -> torch.Tensor:
    return model.dropout(model.bert.pooler(hidden))


def _roberta_head_input(model: nn.Module, hidden: torch.Tensor, _valid: torch.Tensor | None) -> torch.Tensor:
    head = model.classifier
    activation = getattr(head, "activation", torch.tanh)  # ELECTRA: gelu; RoBERTa: tanh
    return head.dropout(activation(head.dense(head.dropout(hidden[:, 0]))))


def _distilbert_head_input(model: nn.Module, hidden: torch.Tensor, _valid: torch.Tensor | None) -> torch.Tensor:
    return model.dropout(torch.relu(model.pre_classifier(hidden[:, 0])))


def _deberta_head_input(model: nn.Module, hidden: torch.Tensor, _valid: torch.Tensor | None) -> torch.Tensor:
    return model.dropout(model.pooler(hidden))


def _always(_config: object) -> bool:
    return True


def _cls_pooling(config: object) -> bool:
    return getattr(config, "classifier_pooling", "cls") == "cls"


@dataclass(frozen=True)
class Architecture:
    """Where the parts of one architecture live in its Hugging Face sequence-classification model."""

    name: str
    model_types: tuple[str, ...]
    base: str  # on the model: the encoder model
    embeddings: str  # on the base
    layers: str  # on the base: the ModuleList of blocks
    attention: str  # on a block: the module that calls the attention function
    q: str  # on a block
    k: str
    v: str
    o: str  # on a block: attention output projection
    ln1: str  # on a block: post-attention LayerNorm
    mlp_out: str  # on a block: MLP output projection
    ln2: str  # on a block: post-MLP LayerNorm
    final_linear: str  # on the model: the linear layer that produces the logits
    mlp: Callable[[nn.Module, torch.Tensor], torch.Tensor]  # block, MLP input -> mlp_out (before the residual add)
    # model, last hidden [b,p,m], valid positions [b,p] (bool, or None: all) -> final_linear input
    head_input: Callable[[nn.Module, torch.Tensor, torch.Tensor | None], torch.Tensor]
    uses_token_type_ids: bool = True
    # pre-LN (ModernBERT): ln1 normalises the attention input and ln2 the MLP input, and the residual stream is
    # never normalised in place; post-LN (BERT): ln1 and ln2 normalise the residual stream after each add
    pre_ln: bool = False
    # the hooked forward is Hugging Face's own (module hooks and a registered attention function); when False it
    # is circuits.block's arithmetic from the embeddings on (tested equal to Hugging Face's), with every hook
    # point fired there
    native_forward: bool = True
    # (model, layer, q [b,p_q,h,d], k [b,p,h,d], additive mask [b,1,1,p]) -> pattern [b,h,p_q,p], query rows the
    # first p_q positions; None: scaled dot products (circuits.block.attention_pattern)
    pattern: Callable[..., torch.Tensor] | None = None
    fused_qkv: bool = False  # q, k and v are one Linear (ModernBERT's Wqkv), rows [q; k; v]
    embed_mask: bool = False  # the embeddings take the attention mask (DeBERTa zeroes padding there)
    cls_pooled: Callable[[object], bool] = _always  # config -> whether the head reads the [CLS] row only
    check: Callable[[object, str], None] | None = None  # config, where -> refuses an unsupported variant


_BERT_BLOCK = dict(
    attention="attention.self", q="attention.self.query", k="attention.self.key", v="attention.self.value",
    o="attention.output.dense", ln1="attention.output.LayerNorm", mlp_out="output.dense", ln2="output.LayerNorm",
    embeddings="embeddings", layers="encoder.layer", mlp=_bert_mlp,
)

ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture(name="bert", model_types=("bert",), base="bert", final_linear="classifier",
                     head_input=_bert_head_input, **_BERT_BLOCK),
        Architecture(name="roberta", model_types=("roberta", "xlm-roberta"), base="roberta",
                     final_linear="classifier.out_proj", head_input=_roberta_head_input, **_BERT_BLOCK),
        Architecture(name="electra", model_types=("electra",), base="electra",
                     final_linear="classifier.out_proj", head_input=_roberta_head_input, **_BERT_BLOCK),
        Architecture(
            name="distilbert", model_types=("distilbert",), base="distilbert", embeddings="embeddings",
            layers="transformer.layer", attention="attention", q="attention.q_lin", k="attention.k_lin",
            v="attention.v_lin", o="attention.out_lin", ln1="sa_layer_norm", mlp_out="ffn.lin2",
            ln2="output_layer_norm", final_linear="classifier", mlp=_distilbert_mlp,
            head_input=_distilbert_head_input, uses_token_type_ids=False,
        ),
        Architecture(
            name="deberta-v2", model_types=("deberta-v2",), base="deberta", embeddings="embeddings",
            layers="encoder.layer", attention="attention.self", q="attention.self.query_proj",
            k="attention.self.key_proj", v="attention.self.value_proj", o="attention.output.dense",
            ln1="attention.output.LayerNorm", mlp_out="output.dense", ln2="output.LayerNorm",
            final_linear="classifier", mlp=_bert_mlp, head_input=_deberta_head_input, native_forward=False,
            pattern=deberta.disentangled_pattern, embed_mask=True, check=deberta.check_config,
        ),
        Architecture(
            name="modernbert", model_types=("modernbert",), base="model", embeddings="embeddings",
            layers="layers", attention="attn", q="attn.Wqkv", k="attn.Wqkv", v="attn.Wqkv", o="attn.Wo",
            ln1="attn_norm", mlp_out="mlp.Wo", ln2="mlp_norm", final_linear="classifier",
            mlp=modernbert.mlp, head_input=modernbert.head_input, uses_token_type_ids=False, pre_ln=True,
            native_forward=False, pattern=modernbert.rotary_pattern, fused_qkv=True, cls_pooled=_cls_pooling,
        ),
    )
}


def architecture_for(model_type: str, where: str = "") -> Architecture:
    """The architecture entry for a config's ``model_type``, or a CheckpointError naming the supported ones."""
    for arch in ARCHITECTURES.values():
        if model_type in arch.model_types:
            return arch
    supported = sorted(t for a in ARCHITECTURES.values() for t in a.model_types)
    raise CheckpointError(f"unsupported model_type={model_type!r}{f' in {where}' if where else ''}; "
                          f"supported: {', '.join(supported)}.")
