"""The records of the diagnostic datasets: base pairs, aligned (baseline, perturbed) pairs and their fillers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

AXIOMS = ("TFC1", "STMC1", "TFC2", "LNC1", "FILLER")
DEFAULT_FILLER = " a"


class NotApplicable(ValueError):
    """This base pair cannot be perturbed as asked: ``kind`` names the reason (builders count skips by
    it), the message gives the details."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class BasePair:
    """A query and one of its passages, cut at a sentence boundary (``document``); ``passage`` is uncut."""

    query_id: str
    doc_id: str
    query: str
    document: str
    passage: str
    relevance: int = 0


@dataclass(frozen=True)
class Filler:
    """The padding that aligns a baseline with its perturbed input.

    ``text`` (e.g. ``" a"``) was appended ``count`` times to the document; it tokenises to ``token``
    (id ``token_id``), and the first filler token sits at input position ``position`` (just before the
    final separator; ``-1`` when ``count`` is 0).
    """

    text: str
    token: str
    token_id: int
    count: int
    position: int


@dataclass(frozen=True)
class Pair:
    """One aligned (baseline, perturbed) example.

    ``document`` is the baseline before padding and ``baseline`` the padded text that is scored and patched.
    ``level_baseline``/``level_perturbed`` are the axiom's dose: the term count (TFC1, TFC2), the synonym
    count (STMC1), the number of appended sentences (LNC1) or of fillers (FILLER). ``tf_*`` count the
    selected query ``term`` (``None`` where there is none). ``baseline_len``/``perturbed_len`` are token
    lengths of the full (query, document) input, special tokens included.
    """

    id: str
    axiom: str
    variant: str
    query_id: str
    doc_id: str
    query: str
    document: str
    baseline: str
    perturbed: str
    term: str
    inserted: str
    stratum: str
    level_baseline: int
    level_perturbed: int
    tf_baseline: int | None
    tf_perturbed: int | None
    filler: Filler
    baseline_len: int
    perturbed_len: int
    details: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``filler`` nested)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pair:
        """The inverse of :meth:`to_json`; raises ``KeyError``/``TypeError`` on a malformed record."""
        return cls(**{**data, "filler": Filler(**data["filler"])})
