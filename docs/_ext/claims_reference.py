"""The ``claims-reference`` directive: one section per claim of ``axiomtests/claims.toml``, read at build time.

The registry is the only source: nothing of its text is copied into the docs. Nodes are built directly (no
Markdown is parsed), so a ``|ρ|`` or a ``*`` in a claim's text stays text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from axiomtests import claims as claims_module
from axiomtests.claims import GATE_ALPHA, REGISTRY_VERSION, Claim, load_claims


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph(text, text)


def _field(name: str, *body: nodes.Node) -> nodes.field:
    return nodes.field("", nodes.field_name(name, name), nodes.field_body("", *body))


def _parameters(extra: dict[str, Any]) -> nodes.paragraph:
    return _paragraph(", ".join(f"{key} = {value!r}" for key, value in extra.items()))


def _provenance(text: str) -> nodes.bullet_list:
    items = [nodes.list_item("", _paragraph(part.strip())) for part in text.split(" | ")]
    return nodes.bullet_list("", *items)


def _table(claims: list[Claim]) -> nodes.table:
    headers = ("claim", "kind", "threshold", "paper")
    rows = [(c.id, c.kind, str(c.threshold), "" if c.paper_value is None else str(c.paper_value)) for c in claims]
    group = nodes.tgroup(cols=len(headers))
    group += [nodes.colspec(colwidth=width) for width in (3, 2, 2, 6)]

    def row(cells: tuple[str, ...]) -> nodes.row:
        return nodes.row("", *(nodes.entry("", _paragraph(cell)) for cell in cells))

    group += nodes.thead("", row(headers))
    group += nodes.tbody("", *(row(cells) for cells in rows))
    return nodes.table("", group)


def _section(claim: Claim) -> nodes.section:
    section = nodes.section(ids=[nodes.make_id(f"claim-{claim.id}")], names=[nodes.fully_normalize_name(claim.id)])
    section += nodes.title("", "", nodes.literal(claim.id, claim.id))
    section += nodes.paragraph("", "", nodes.emphasis(claim.statement, claim.statement))
    fields = nodes.field_list()
    fields += _field("kind", _paragraph(claim.kind))
    fields += _field("provenance", _provenance(claim.provenance))
    if claim.paper_value is not None:
        fields += _field("paper value", _paragraph(str(claim.paper_value)))
    if claim.paper_expectation:
        fields += _field("paper expectation", _paragraph(claim.paper_expectation))
    fields += _field("metric", _paragraph(claim.metric))
    fields += _field("threshold", _paragraph(str(claim.threshold)))
    fields += _field("why", _paragraph(claim.why))
    if claim.vs_paper:
        fields += _field("vs paper", _paragraph(claim.vs_paper))
    fields += _field("tolerance", _paragraph(f"{claim.tolerance:g}"))
    if claim.extra:
        fields += _field("parameters", _parameters(claim.extra))
    section += fields
    return section


class ClaimsReference(SphinxDirective):
    """A summary table, then one section per claim, in registry order."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(Path(claims_module.__file__).with_name("claims.toml")))
        claims = list(load_claims().values())
        intro = (f"Registry version {REGISTRY_VERSION}, {len(claims)} claims; the gate's family-wise "
                 f"false-alarm rate alpha = {GATE_ALPHA:g}.")
        return [_paragraph(intro), _table(claims), *(_section(claim) for claim in claims)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("claims-reference", ClaimsReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
