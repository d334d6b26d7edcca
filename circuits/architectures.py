"""Per-architecture module paths of BERT-family sequence classifiers, as data.

Every path is relative to the object named in its comment; ``resolve`` walks dotted paths. The hooked model
reads these tables and nothing else, so adding an architecture is adding one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

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


def _bert_head_input(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    return model.dropout(model.bert.pooler(hidden))


def _roberta_head_input(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    head = model.classifier
    activation = getattr(head, "activation", torch.tanh)  # ELECTRA: gelu; RoBERTa: tanh
    return head.dropout(activation(head.dense(head.dropout(hidden[:, 0]))))


def _distilbert_head_input(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    return model.dropout(torch.relu(model.pre_classifier(hidden[:, 0])))


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
    mlp: Callable[[nn.Module, torch.Tensor], torch.Tensor]  # block, resid_mid -> mlp_out (pre-LN)
    head_input: Callable[[nn.Module, torch.Tensor], torch.Tensor]  # model, last hidden -> final_linear input
    uses_token_type_ids: bool = True


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
    )
}


def architecture_for(model_type: str, where: str = "") -> Architecture:
    """The architecture entry for a config's ``model_type``, or a CheckpointError naming the supported ones."""
    for arch in ARCHITECTURES.values():
        if model_type in arch.model_types:
            return arch
    supported = sorted(t for a in ARCHITECTURES.values() for t in a.model_types)
    raise CheckpointError(
        f"unsupported architecture model_type={model_type!r}{f' in {where}' if where else ''}. "
        f"axiomtests supports BERT-family cross-encoders: {', '.join(supported)}. "
        "Fix: use a checkpoint of one of these types, or add an entry to circuits/architectures.py.")
