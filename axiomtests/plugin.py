"""pytest plugin (entry point ``pytest11: axiomtests``): options, the session's settings, fixtures.

Light at start-up: torch and transformers are imported only when a fixture needs the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from axiomtests.options import add_model_options, add_run_options, parse_claim_selection


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("axiom", "axiomtests: mechanistic claims about a cross-encoder")
    add_model_options(group.addoption)
    add_run_options(group.addoption)
    group.addoption("--axiom-report-dir", metavar="DIR", default=None,
                    help="Write report.json and report.md here. Default: no report")
    group.addoption("--axiom-baseline", metavar="REPORT_JSON", default=None,
                    help="Gate against this report: claims failing there too are known findings (xfail); a claim "
                         "that passed there and fails now, or whose value weakened beyond its tolerance, fails. "
                         "Default: no baseline (a failing claim fails its test)")
    group.addoption("--axiom-paper-checkpoint", action="store_true", default=False,
                    help="--checkpoint is a local copy of cross-encoder/ms-marco-MiniLM-L-12-v2: also check the "
                         "paper's own head indices. Default: %(default)r")
    group.addoption("--axiom-findings", metavar="fail|xfail", default="fail", choices=("fail", "xfail"),
                    help="How a failing claim ends its test when no baseline entry covers it: 'fail', or 'xfail' "
                         "(reported as a finding; errors and baseline regressions still fail). Default: %(default)r")
    group.addoption("--axiom-claims", metavar="IDS", default=None, type=parse_claim_selection,
                    help="Comma-separated claim ids or globs to run (e.g. 'axiom.*,idf.u0'). Default: all")


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
    baseline: str | None
    claims: tuple[str, ...] | None
    paper_checkpoint: bool
    findings: str
    _model: Any = field(default=None, repr=False)
    _report: Any = field(default=None, repr=False)
    _baseline: Any = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: pytest.Config) -> "AxiomSession":
        get = config.getoption
        return cls(checkpoint=get("checkpoint"), tokenizer=get("axiom_tokenizer"), revision=get("axiom_revision"),
                   allow_pickle=get("axiom_allow_pickle"), device=get("axiom_device"), score=get("axiom_score"),
                   seed=get("axiom_seed"), pairs=get("axiom_pairs"), report_dir=get("axiom_report_dir"),
                   corpus=get("axiom_corpus"), baseline=get("axiom_baseline"), claims=get("axiom_claims"),
                   paper_checkpoint=get("axiom_paper_checkpoint"), findings=get("axiom_findings"))

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

    def baseline_report(self):
        """The baseline report of ``--axiom-baseline``, read once (None without one)."""
        if self.baseline and self._baseline is None:
            from circuits.report import load_report

            self._baseline = load_report(self.baseline)
        return self._baseline

    def report(self):
        """The run's Report, created with the checkpoint and environment sections on first use."""
        if self._report is None:
            from axiomtests.run_info import new_report

            self._report = new_report(self, self.model())
        return self._report


def pytest_configure(config: pytest.Config) -> None:
    from axiomtests.claims import CLAIMS

    config._axiom_session = AxiomSession.from_config(config)  # type: ignore[attr-defined]
    config.addinivalue_line("markers", "claim(id): the test checks this claim of the registry")
    config.addinivalue_line("markers", "timing(claim_glob): the test times a pass that these claims run")
    for claim_id, claim in CLAIMS.items():
        config.addinivalue_line("markers", f"{marker_name(claim_id)}: {claim.statement}")
    _store_timings_with_report(config)
    if config.getoption("checkpoint"):
        _collect_suite(config)


def _store_timings_with_report(config: pytest.Config) -> None:
    """With ``--axiom-report-dir`` and no ``--benchmark-json``, pytest-benchmark's JSON goes beside the report
    as ``benchmarks.json`` (pytest-benchmark reads the option in its own, later, ``pytest_configure``)."""
    from pathlib import Path

    report_dir = config.getoption("axiom_report_dir")
    if report_dir and hasattr(config.option, "benchmark_json") and config.option.benchmark_json is None:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        config.option.benchmark_json = Path(report_dir) / "benchmarks.json"


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


def marker_name(claim_id: str) -> str:
    """The per-claim marker: ``rsh.path_to_logit`` -> ``rsh_path_to_logit`` (``pytest -m rsh_path_to_logit``)."""
    return claim_id.replace(".", "_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from fnmatch import fnmatch

    from axiomtests.claims import CLAIMS

    selection = config._axiom_session.claims  # type: ignore[attr-defined]
    keep, drop = [], []
    ids = list(CLAIMS)
    for item in items:
        claim, timing = item.get_closest_marker("claim"), item.get_closest_marker("timing")
        if claim is not None:
            item.add_marker(marker_name(claim.args[0]))
            claimed = [claim.args[0]]
        elif timing is not None:
            claimed = [i for i in ids if fnmatch(i, timing.args[0])]
        else:
            keep.append(item)
            continue
        wanted = selection is None or any(fnmatch(i, s) for i in claimed for s in selection)
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def check_claim(request: pytest.FixtureRequest, axiom_session: AxiomSession, axiom_report):
    """Record a ClaimResult in the report and end the test by the baseline gate's verdict."""
    from axiomtests.claims import CLAIMS
    from axiomtests.gate import judge

    def check(result) -> None:
        axiom_report.add(result)
        verdict = judge(result, CLAIMS[result.id], axiom_session.baseline_report())
        if verdict.outcome == "finding" or (verdict.outcome == "fail" and axiom_session.findings == "xfail"
                                            and result.status == "fail"):
            pytest.xfail(verdict.message)
        if verdict.outcome in ("fail", "regression"):
            pytest.fail(verdict.message, pytrace=False)

    return check
