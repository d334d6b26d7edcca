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
    group.addoption("--axiom-report-dir", metavar="DIR", default=None,
                    help="Write report.json and report.md here. Default: no report")


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
    corpus: str | None
    _model: Any = field(default=None, repr=False)
    _report: Any = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: pytest.Config) -> "AxiomSession":
        get = config.getoption
        return cls(checkpoint=get("checkpoint"), tokenizer=get("axiom_tokenizer"), revision=get("axiom_revision"),
                   allow_pickle=get("axiom_allow_pickle"), device=get("axiom_device"), score=get("axiom_score"),
                   seed=get("axiom_seed"), pairs=get("axiom_pairs"), report_dir=get("axiom_report_dir"),
                   corpus=get("axiom_corpus"))

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

    def report(self):
        """The run's Report, created with the checkpoint and environment sections on first use."""
        if self._report is None:
            from axiomtests.run_info import new_report

            self._report = new_report(self, self.model())
        return self._report


def pytest_configure(config: pytest.Config) -> None:
    config._axiom_session = AxiomSession.from_config(config)  # type: ignore[attr-defined]
    if config.getoption("checkpoint"):
        _collect_suite(config)


def _collect_suite(config: pytest.Config) -> None:
    """``pytest --checkpoint X`` runs the claim suite: alone when no paths are given, else beside them."""
    from pathlib import Path

    import axiomtests.suite

    suite = Path(axiomtests.suite.__file__).parent
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(suite)]
        return
    named = [Path(a.split("::")[0]).resolve() for a in config.args if not a.startswith("-")]
    if not any(p == suite or suite in p.parents or p.name == "suite" and p.parent.name == "axiomtests"
               for p in named) and "axiomtests.suite" not in config.args:
        config.args.append(str(suite))


@pytest.fixture(scope="session")
def axiom_session(request: pytest.FixtureRequest) -> AxiomSession:
    """The session's axiomtests settings."""
    return request.config._axiom_session  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def hooked_model(axiom_session: AxiomSession):
    """The HookedCrossEncoder of ``--checkpoint`` (or the default checkpoint), loaded once."""
    return axiom_session.model()


@pytest.fixture(scope="session")
def axiom_report(axiom_session: AxiomSession):
    """The run's Report: tests add ClaimResults and sections; written at session end with --axiom-report-dir."""
    return axiom_session.report()


def pytest_sessionfinish(session: pytest.Session) -> None:
    axiom = getattr(session.config, "_axiom_session", None)
    if axiom is None or axiom._report is None or not axiom.report_dir:
        return
    path = axiom._report.write(axiom.report_dir)
    session.config.get_terminal_writer().line(f"axiomtests report: {path} and {path.with_suffix('.md')}")
