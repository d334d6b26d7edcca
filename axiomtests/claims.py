"""Claims as data: the registry in ``claims.toml``, thresholds, and turning a measured value into a result.

A claim is immutable; its ``repr`` is ``Claim('rsh.path_to_logit')`` and parses back through ``CLAIMS``.
"""

from __future__ import annotations

import operator
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from circuits.controls import Control
from circuits.errors import AxiomError, NotComputable
from circuits.items import Items
from circuits.report import KINDS, ClaimResult
from circuits.stats import Interval

__all__ = ["CLAIMS", "Claim", "ClaimConfigError", "Control", "NotComputable", "Threshold", "load_claims",
           "register_claims", "claim_of"]

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")


class ClaimConfigError(AxiomError):
    """The claims registry or a claim selection is invalid."""


@dataclass(frozen=True)
class Threshold:
    """A comparison such as ``>= 0.75``."""

    op: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> "Threshold":
        match = _THRESHOLD.match(text)
        if not match:
            raise ClaimConfigError(f"threshold {text!r} is not of the form '>= 0.5' (ops: {', '.join(_OPS)})")
        return cls(match.group(1), float(match.group(2)))

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">=", ">")

    def holds(self, value: float) -> bool:
        return value == value and _OPS[self.op](value, self.bound)  # NaN never holds

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, stated so that any checkpoint can be tested against it."""

    id: str
    statement: str
    provenance: str
    metric: str
    threshold: Threshold
    why: str
    paper_value: float | str | None = None
    paper_expectation: str | None = None  # the statement for the paper's own checkpoint, its head indices
    tolerance: float = 0.1  # allowed drop against a baseline report before it counts as a regression
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "extension"  # "paper": the paper's quantity by its protocol (quoted in provenance); else ours
    vs_paper: str = ""  # where the measurement departs from the paper's protocol; what the paper measured instead

    def __repr__(self) -> str:
        return f"Claim({self.id!r})"

    def result(self, value: float | Interval, control: Control | None = None, unmet: str | None = None,
               items: Items | None = None, **details: Any) -> ClaimResult:
        """The ClaimResult of a measured value (an :class:`Interval` carries its CI, SE and resampling unit):
        pass when the threshold holds and, given a ``control``, the value beats it beyond its CI. ``unmet``: why
        a precondition of the metric fails (the value is then reported, but cannot pass). ``items``: the per-item
        values the value was computed from (:meth:`circuits.items.Items.bootstrap`), kept beside the report; their
        groups must be the units the interval resampled."""
        iv = value if isinstance(value, Interval) else None
        if items is not None and iv is not None and iv.n != items.n_units:
            raise ValueError(f"{self.id}: the interval resampled {iv.n} {iv.unit} units but the items hold "
                             f"{items.n_units} groups: pass the items the value was computed from")
        point = float(iv.value if iv else value)
        better = self.threshold.higher_is_better
        passed = self.threshold.holds(point) and (control is None or control.beaten(better)) and not unmet
        if unmet:
            details = {"unmet": unmet, **details}
        if self.extra:
            details = {"parameters": dict(self.extra), **details}
        return ClaimResult(id=self.id, status="pass" if passed else "fail", value=point,
                           threshold=str(self.threshold), ci=iv.ci if iv else None, se=iv.se if iv else None,
                           unit=iv.unit if iv else None, n_units=iv.n if iv else None, paper_value=self.paper_value,
                           statement=self.statement, provenance=self.provenance,
                           control=control.as_dict(better) if control else None, details=details, items=items,
                           kind=self.kind)

    def not_computable(self, reason: str) -> ClaimResult:
        """A fail without a value: the claim's mechanism is absent (e.g. no head has the role), said why."""
        return ClaimResult(id=self.id, status="fail", threshold=str(self.threshold), paper_value=self.paper_value,
                           statement=self.statement, provenance=self.provenance,
                           details={"not_computable": reason}, kind=self.kind)

    def error(self, reason: str) -> ClaimResult:
        """The result of a claim that could not be computed: it stays in the report, with the reason."""
        return ClaimResult(id=self.id, status="error", threshold=str(self.threshold), paper_value=self.paper_value,
                           statement=self.statement, provenance=self.provenance, details={"error": reason},
                           kind=self.kind)

    def skipped(self, reason: str) -> ClaimResult:
        return ClaimResult(id=self.id, status="skip", threshold=str(self.threshold), paper_value=self.paper_value,
                           statement=self.statement, provenance=self.provenance, details={"reason": reason},
                           kind=self.kind)


def _registry(text: str | None = None) -> dict[str, Any]:
    if text is None:
        text = resources.files("axiomtests").joinpath("claims.toml").read_text()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClaimConfigError(f"claims registry is not valid TOML: {exc}") from None


def load_claims(text: str | None = None) -> dict[str, Claim]:
    """The registry: parsed from ``text`` or from the packaged ``claims.toml``."""
    data = _registry(text)
    claims: dict[str, Claim] = {}
    known = set(Claim.__dataclass_fields__)
    for entry in data.get("claim", []):
        unknown = set(entry) - known
        if unknown:
            raise ClaimConfigError(f"claim {entry.get('id')!r} has unknown keys {sorted(unknown)}; "
                                   f"allowed: {sorted(known)}")
        missing = {"id", "statement", "provenance", "metric", "threshold", "why"} - set(entry)
        if missing:
            raise ClaimConfigError(f"claim {entry.get('id')!r} lacks {sorted(missing)}")
        if entry["id"] in claims:
            raise ClaimConfigError(f"claim {entry['id']!r} is defined twice")
        if entry.get("kind", "extension") not in KINDS:
            raise ClaimConfigError(f"claim {entry['id']!r}: kind {entry['kind']!r} is not one of {list(KINDS)} "
                                   "('paper': the paper's quantity by its protocol, quoted in provenance; "
                                   "'extension': a test of ours)")
        claims[entry["id"]] = Claim(**{**entry, "threshold": Threshold.parse(entry["threshold"])})
    return claims


CLAIMS = load_claims()
USER_CLAIMS: set[str] = set()  # ids registered through the pytest_axiomtests_claims hook


def register_claims(text: str) -> list[str]:
    """Add user claims (TOML ``[[claim]]`` tables) to ``CLAIMS``; an id that exists already is refused."""
    claims = load_claims(text)
    taken = sorted(set(claims) & (set(CLAIMS) - USER_CLAIMS))
    if taken:
        raise ClaimConfigError(f"user claims {taken} reuse built-in claim ids: give them ids of their own "
                               "(e.g. 'team.<name>')")
    CLAIMS.update(claims)
    USER_CLAIMS.update(claims)
    return sorted(claims)


def claim_of(result: ClaimResult) -> Claim | None:
    """The registered claim of a result, else one rebuilt from the result itself (a user claim read back
    without its conftest: threshold from the report, the default tolerance)."""
    if result.id in CLAIMS:
        return CLAIMS[result.id]
    try:
        threshold = Threshold.parse(result.threshold or "")
    except ClaimConfigError:  # not a claim of a registry (e.g. the faithfulness checks)
        return None
    return Claim(id=result.id, statement=result.statement, provenance=result.provenance, metric="",
                 threshold=threshold, why="", kind=result.kind or "extension")


def _gate_alpha(data: dict[str, Any]) -> float:
    alpha = data.get("gate", {}).get("alpha", 0.05)
    if not 0 < alpha < 1:
        raise ClaimConfigError(f"[gate] alpha = {alpha!r} must lie strictly between 0 and 1")
    return float(alpha)


REGISTRY_VERSION: int = int(_registry().get("version", 1))
"""Bumped whenever a claim's metric changes, so that reports of different metrics are never compared."""
GATE_ALPHA: float = _gate_alpha(_registry())
"""Family-wise false-alarm rate of the baseline gate (one-sided, split over the claims compared)."""
