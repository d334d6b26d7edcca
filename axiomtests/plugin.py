"""pytest plugin (entry point ``pytest11: axiomtests``): options, the session's settings, fixtures.

Light at start-up: torch and transformers are imported only when a fixture needs the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from axiomtests.options import add_model_options, add_run_options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("axiom", "axiomtests: mechanistic claims about a cross-encoder")
    add_model_options(group.addoption)
    add_run_options(group.addoption)


@dataclass
class AxiomSession:
    """Every axiomtests option, read once in ``pytest_configure``; fixtures read from here."""

    checkpoint: str | None
    tokenizer: str | None
    revision: str | None
    allow_pickle: bool
    device: str
    score: str
    seed: int
    pairs: int
    report_dir: str | None
    _model: Any = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: pytest.Config) -> "AxiomSession":
        get = config.getoption
        return cls(checkpoint=get("checkpoint"), tokenizer=get("axiom_tokenizer"), revision=get("axiom_revision"),
                   allow_pickle=get("axiom_allow_pickle"), device=get("axiom_device"), score=get("axiom_score"),
                   seed=get("axiom_seed"), pairs=get("axiom_pairs"), report_dir=get("axiom_report_dir"))

    def resolved_checkpoint(self) -> str:
        """The checkpoint under test: ``--checkpoint`` or the embedded default (built on first use)."""
        if self.checkpoint:
            return self.checkpoint
        from axiomtests.default_model import default_checkpoint_dir

        return str(default_checkpoint_dir())

    def model(self):
        """The hooked model, loaded once per session."""
        if self._model is None:
            from circuits.model import HookedCrossEncoder

            self._model = HookedCrossEncoder.from_pretrained(
                self.resolved_checkpoint(), revision=self.revision, allow_pickle=self.allow_pickle,
                device=self.device, score=self.score, tokenizer=self.tokenizer)
        return self._model


def pytest_configure(config: pytest.Config) -> None:
    config._axiom_session = AxiomSession.from_config(config)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def axiom_session(request: pytest.FixtureRequest) -> AxiomSession:
    """The session's axiomtests settings."""
    return request.config._axiom_session  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def hooked_model(axiom_session: AxiomSession):
    """The HookedCrossEncoder of ``--checkpoint`` (or the default checkpoint), loaded once."""
    return axiom_session.model()
