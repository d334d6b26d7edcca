"""The ``claims-reference`` directive: one section per claim of ``axiomtests/claims.toml``, read at build time.

The registry is the only source of a claim's text: nothing of it is copied into the docs. A claim the claim
harness checks also gets its measured operating characteristics (false alarms, power, planted and null values)
from ``docs/operating-characteristics.json``, the summary ``benchmarks/operating_characteristics.py`` writes.
Nodes are built directly (no Markdown is parsed), so a ``|ρ|`` or a ``*`` in a claim's text stays text.
"""

from __future__ import annotations

import json
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


OPERATING = Path(__file__).resolve().parents[1] / "operating-characteristics.json"


def _percent(x: float | None) -> str:
    return "not reached" if x is None else f"{100 * x:.0f} %"


def _operating(row: dict[str, Any]) -> nodes.paragraph:
    per_config = ", ".join(f"{name} {_percent(v)}" for name, v in row["false_alarms_per_config"].items())
    detectable = row["minimum_detectable_strength"]
    text = (f"false alarms {_percent(row['false_alarms'])} of {row['models']} random initialisations "
            f"({per_config}); power {_percent(row['power_at_paper_effect'])} at the paper's effect (matching "
            f"strength {row['paper_effect_strength']}), {_percent(row['power_at_max'])} at the planted maximum; "
            f"minimum detectable matching strength (80 % power) "
            f"{'none on the dial' if detectable is None else detectable}; median value planted "
            f"{row['planted_value']}, random {row['null_value']} (docs: Operating characteristics)")
    return _paragraph(text)


def _section(claim: Claim, operating: dict[str, dict[str, Any]]) -> nodes.section:
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
    if claim.id in operating:
        fields += _field("operating characteristics", _operating(operating[claim.id]))
    section += fields
    return section


class ClaimsReference(SphinxDirective):
    """A summary table, then one section per claim, in registry order."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(Path(claims_module.__file__).with_name("claims.toml")))
        claims = list(load_claims().values())
        operating = {}
        if OPERATING.exists():
            self.env.note_dependency(str(OPERATING))
            operating = {row["claim"]: row for row in json.loads(OPERATING.read_text())["summary"]}
        intro = (f"Registry version {REGISTRY_VERSION}, {len(claims)} claims; the gate's family-wise "
                 f"false-alarm rate alpha = {GATE_ALPHA:g}.")
        return [_paragraph(intro), _table(claims), *(_section(claim, operating) for claim in claims)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("claims-reference", ClaimsReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
