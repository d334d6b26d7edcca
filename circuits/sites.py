"""What a patch writes: sites (a block activation and the axes of one patch), writes, and the plan of what a
path-patching run freezes and what receives."""

from __future__ import annotations

from dataclasses import dataclass

Head = tuple[int, int]
KEYS = ("resid_pre", "q", "k", "v", "pattern", "z", "attn_out", "mlp_out")  # a block's activations, in order


@dataclass(frozen=True)
class Site:
    """A patchable activation: its key in a block and the axes that index one patch within a layer."""

    name: str
    key: str
    axes: tuple[str, ...]

    def selector(self, index: tuple[int, ...]) -> tuple[int | slice, ...]:
        """Indexing tuple of the patched part of the activation tensor (hook layout, see ``circuits.hooks``)."""
        named = dict(zip(self.axes, index))
        pos = named.get("pos", slice(None))
        if self.key == "pattern":
            return (slice(None), named["head"], pos)
        if "head" in named:
            return (slice(None), pos, named["head"])
        return (slice(None), pos)


SITES: dict[str, Site] = {site.name: site for site in (
    Site("z", "z", ("head",)),  # one head's context at every position
    Site("z_pos", "z", ("head", "pos")),  # one head's context at one position
    Site("pattern_row", "pattern", ("head", "pos")),  # one head's attention row of one query position
    Site("resid_pre", "resid_pre", ("pos",)),
    Site("attn_out", "attn_out", ("pos",)),
    Site("mlp_out", "mlp_out", ("pos",)),
)}
BLOCK_SITES = ("resid_pre", "attn_out", "mlp_out")


@dataclass(frozen=True)
class Write:
    """Overwrite ``site`` at ``layer`` and ``index`` with the source (perturbed) value."""

    site: Site
    layer: int
    index: tuple[int, ...]


Variant = tuple[Write, ...]  # the writes of one patched run


@dataclass(frozen=True)
class Plan:
    """What is frozen and what receives."""

    freeze_heads: bool = False
    freeze_mlps: bool = False
    receivers: tuple[Head, ...] = ()
    receiver_input: str = "q"

    @property
    def cls_only(self) -> bool:
        """With every head frozen and the logit receiving, positions never mix: only [CLS] matters."""
        return self.freeze_heads and not self.receivers

    def receiver_heads(self) -> dict[int, list[int]]:
        heads: dict[int, list[int]] = {}
        for layer, head in sorted(set(self.receivers)):
            heads.setdefault(layer, []).append(head)
        return heads
