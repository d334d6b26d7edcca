"""pytest plugin (entry point ``pytest11: axiomtests``): options, the session's settings, fixtures.

Light at start-up: torch and transformers are imported only when a fixture needs the model.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from axiomtests.options import add_model_options, add_run_options, parse_claim_selection, unmatched_claim_patterns


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("axiom", "axiomtests: mechanistic claims about a cross-encoder")
    add_model_options(group.addoption)
    add_run_options(group.addoption)
    group.addoption("--axiom-report-dir", metavar="DIR", default=None,
                    help="Write report.json and report.md here. Default: no report")
    group.addoption("--axiom-baseline", metavar="REPORT_JSON", default=None,
                    help="Gate against this report (a run's report.json, or a pool of retrains from `axiomtests "
                         "baseline`): a claim that weakened beyond its tolerance by more than both runs' noise "
                         "regresses (fails); one failing there too is a known finding, a pass-to-fail flip within "
                         "noise is undecided (both xfail). Default: no baseline (a failing claim fails its test)")
    group.addoption("--axiom-paper-checkpoint", action="store_true", default=False,
                    help="--checkpoint is a local copy of cross-encoder/ms-marco-MiniLM-L-12-v2: also check the "
                         "paper's own head indices. Default: %(default)r")
    group.addoption("--axiom-findings", metavar="fail|xfail", default="fail", choices=("fail", "xfail"),
                    help="How a failing claim ends its test when no baseline entry covers it: 'fail', or 'xfail' "
                         "(reported as a finding; errors and baseline regressions still fail). Default: %(default)r")
    group.addoption("--axiom-claims", metavar="IDS", default=None, type=parse_claim_selection,
                    help="Comma-separated claim ids or globs to run (e.g. 'axiom.*,idf.u0'). Default: all")
    group.addoption("--axiom-null-report", metavar="REPORT_JSON", default=None,
                    help="The same suite's report on a null model (a random initialisation of this config; "
                         "`axiomtests run --nulls` makes it): each claim records the null's value, and one that "
                         "passes on its null is marked not discriminative. Default: none")
    group.addoption("--axiom-timing", action="store_true", default=False,
                    help="Also time the suite's patching passes with pytest-benchmark (its JSON lands beside the "
                         "report as benchmarks.json). Timings are benchmarks, never part of a verdict, so a run "
                         "leaves them out unless asked. Default: %(default)r")
    group.addoption("--axiom-allow-incomparable", action="store_true", default=False,
                    help="Gate against a baseline even when it differs from this run in seed, pairs, corpus, "
                         "claims registry version, score mode or dataset hashes (refused otherwise). "
                         "Default: %(default)r")


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
    corpora: tuple[str, ...]  # --axiom-corpus values: the base corpus first, then SemanticBM's extra corpora
    baseline: str | None
    claims: tuple[str, ...] | None
    paper_checkpoint: bool
    findings: str
    allow_incomparable: bool = False
    null: str | None = None
    _model: Any = field(default=None, repr=False)
    _report: Any = field(default=None, repr=False)
    _baseline: Any = field(default=None, repr=False)
    _null: Any = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: pytest.Config) -> "AxiomSession":
        get = config.getoption
        return cls(checkpoint=get("checkpoint"), tokenizer=get("axiom_tokenizer"), revision=get("axiom_revision"),
                   allow_pickle=get("axiom_allow_pickle"), device=get("axiom_device"), score=get("axiom_score"),
                   seed=get("axiom_seed"), pairs=get("axiom_pairs"), report_dir=get("axiom_report_dir"),
                   corpora=tuple(get("axiom_corpus") or ()), baseline=get("axiom_baseline"), claims=get("axiom_claims"),
                   paper_checkpoint=get("axiom_paper_checkpoint"), findings=get("axiom_findings"),
                   allow_incomparable=get("axiom_allow_incomparable"), null=get("axiom_null_report"))

    @property
    def corpus(self) -> str | None:
        """The base corpus (None: the embedded default)."""
        return self.corpora[0] if self.corpora else None

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
            if not self.checkpoint:  # named by its weights, not by this machine's cache path
                self._model.name = f"axiomtests default checkpoint (weights {self._model.weights_sha256()[:12]})"
        return self._model

    def baseline_report(self):
        """The baseline report of ``--axiom-baseline``, read once (None without one)."""
        if self.baseline and self._baseline is None:
            from circuits.report import load_report

            self._baseline = load_report(self.baseline)
        return self._baseline

    def null_report(self):
        """The null model's report of ``--axiom-null-report`` (None without one)."""
        if self.null and self._null is None:
            from circuits.report import load_report

            self._null = load_report(self.null)
        return self._null

    def report(self):
        """The run's Report, created with the checkpoint and environment sections on first use."""
        if self._report is None:
            from axiomtests.run_info import new_report

            self._report = new_report(self, self.model())
        return self._report

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    def write_report(self) -> Path | None:
        """Write the report (JSON and Markdown) into ``--axiom-report-dir`` if a test started one; its JSON path."""
        if self._report is None or not self.report_dir:
            return None
        return self._report.write(self.report_dir)

    def check_comparable(self, fields: dict[str, Any]) -> None:
        """Refuse (usage error) a baseline that differs from this run in any of ``fields`` it records."""
        baseline = self.baseline_report()
        if baseline is None or self.allow_incomparable:
            return
        from axiomtests.gate import comparable_fields, incomparable_message, mismatches

        lines = mismatches(comparable_fields(baseline), fields)
        if lines:
            raise pytest.UsageError(incomparable_message(lines, self.baseline))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Keep the project's rootdir when ``--checkpoint DIR`` is given as two arguments.

    pytest picks its rootdir before plugins register their options, so it takes the checkpoint folder for a
    test path: node ids then read ``../../<checkpoint>/test_axioms.py`` and the project's ini and conftests are
    missed. The rootdir is worked out again without it (``--checkpoint=DIR`` and ``--rootdir`` never need this).
    """
    from _pytest.config.findpaths import determine_setup

    ns = early_config.known_args_namespace
    checkpoint = getattr(ns, "checkpoint", None)
    if not checkpoint or ns.rootdir or ns.inifilename or not hasattr(early_config, "_rootpath"):
        return
    rootpath, inipath, inicfg, ignored = determine_setup(
        inifile=None, override_ini=ns.override_ini, args=ns.file_or_dir, rootdir_cmd_arg=None,
        invocation_dir=early_config.invocation_params.dir)
    if rootpath == early_config.rootpath:
        return
    if ns.confcutdir in (str(early_config.rootpath), str(early_config.inipath.parent if early_config.inipath else "")):
        ns.confcutdir = str(inipath.parent if inipath else rootpath)
        early_config.pluginmanager._confcutdir = early_config.invocation_params.dir / ns.confcutdir
    early_config._rootpath, early_config._inipath = rootpath, inipath  # type: ignore[attr-defined]
    early_config._inicfg, early_config._ignored_config_files = inicfg, ignored  # type: ignore[attr-defined]
    early_config._inicache.clear()  # type: ignore[attr-defined]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from axiomtests import hookspec

    pluginmanager.add_hookspecs(hookspec)


def pytest_configure(config: pytest.Config) -> None:
    from axiomtests.claims import CLAIMS, register_claims
    from axiomtests.gate import run_fields
    from circuits.errors import AxiomError

    for text in config.hook.pytest_axiomtests_claims(config=config):
        try:
            register_claims(text)
        except AxiomError as exc:
            raise pytest.UsageError(f"pytest_axiomtests_claims: {exc}") from None
    selection = config.getoption("axiom_claims")
    unmatched = unmatched_claim_patterns(selection) if selection else None
    if unmatched:
        raise pytest.UsageError(unmatched)
    config._axiom_session = axiom = AxiomSession.from_config(config)  # type: ignore[attr-defined]
    try:
        axiom.check_comparable(run_fields(axiom.seed, axiom.pairs, axiom.corpora))
    except AxiomError as exc:  # an unreadable baseline
        raise pytest.UsageError(str(exc)) from None
    config.addinivalue_line("markers", "claim(id): the test checks this claim of the registry")
    config.addinivalue_line("markers", "timing(claim_glob): the test times a pass that these claims run")
    for claim_id, claim in CLAIMS.items():
        config.addinivalue_line("markers", f"{marker_name(claim_id)}: {claim.statement}")
    _store_timings_with_report(config)
    if config.getoption("checkpoint"):
        _collect_suite(config)
    if config.get_verbosity() >= 0 and not config.getoption("collectonly"):
        from axiomtests.progress import Heartbeat

        config.pluginmanager.register(Heartbeat(config), "axiomtests-heartbeat")


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
    """The run's Report: ``check_claim`` adds ClaimResults, ``report_section`` sections; written at session end
    with --axiom-report-dir."""
    return axiom_session.report()


@pytest.fixture(scope="session")
def report_section(axiom_report) -> Callable[[str, Any], None]:
    """``report_section(title, value)``: a table or value in the report beside the claims (a dict, a list of row
    dicts or a scalar); several tests may fill one dict section, key by key (:meth:`circuits.report.Report.section`)."""
    return axiom_report.section


def pytest_collection_finish(session: pytest.Session) -> None:
    """Load the checkpoint once, before any test runs, when a collected test needs it: a checkpoint that cannot
    be loaded is one usage error, not an error per test. Capture is off, so a first build shows its progress."""
    axiom = getattr(session.config, "_axiom_session", None)
    if axiom is None or session.config.option.collectonly or not any(
            "hooked_model" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    from axiomtests.progress import progress_log
    from circuits.errors import CheckpointError, DeviceError

    capture = session.config.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled() if capture else nullcontext(), progress_log():
            axiom.model()
    except (CheckpointError, DeviceError) as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A claim test that finds its mechanism absent (:class:`NotComputable`) ends like any failing claim: a
    ``fail`` result without a value, judged by the gate (a finding, or a regression against a baseline)."""
    from axiomtests.claims import CLAIMS, NotComputable

    try:
        return (yield)
    except NotComputable as exc:
        marker = pyfuncitem.get_closest_marker("claim")
        check = pyfuncitem.funcargs.get("check_claim")
        if marker is None or check is None or marker.args[0] not in CLAIMS:
            raise
        check(CLAIMS[marker.args[0]].not_computable(str(exc).strip()[:500]))
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A claim test that raised before recording its result leaves a result with the reason, so no claim ever
    disappears from the report: ``fail`` without a value for :class:`NotComputable` (the mechanism is absent),
    ``error`` for anything else."""
    report = yield
    marker = item.get_closest_marker("claim")
    axiom = getattr(item.config, "_axiom_session", None)
    if marker is None or axiom is None or not report.failed or call.excinfo is None or not axiom.model_loaded:
        return report
    from axiomtests.claims import CLAIMS, NotComputable

    claim, results = CLAIMS.get(marker.args[0]), axiom.report()
    if claim is not None and not any(c.id == claim.id for c in results.claims):
        exc = call.excinfo.value
        if isinstance(exc, NotComputable):
            results.add(claim.not_computable(str(exc).strip()[:500]))
            return report
        reason = str(exc) if isinstance(exc, pytest.fail.Exception) else call.excinfo.exconly()
        results.add(claim.error(f"{reason.strip()[:500]} (in {call.when})"))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    axiom = getattr(session.config, "_axiom_session", None)
    path = axiom.write_report() if axiom is not None else None
    if path is None:
        return
    session.config.get_terminal_writer().line(f"axiomtests report: {path} and {path.with_suffix('.md')}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One line per claim after pytest's own summary: verdict, value [95% CI], threshold, the paper's number, the
    gate's outcome when a baseline is given, paper-kind claims first (as in ``report.md``)."""
    axiom = getattr(config, "_axiom_session", None)
    report = getattr(axiom, "_report", None)
    if report is None or not report.claims:
        return
    terminalreporter.write_sep("=", "axiomtests claims")
    for line in claim_summary_lines(report.claims):
        terminalreporter.write_line(line)


def claim_summary_lines(claims) -> list[str]:
    """``PASS  idf.u0  -0.637 [-0.646, -0.628]  <= -0.5  paper -0.7136  [paper]``, one per claim."""
    from circuits.report import format_value

    def line(c) -> str:
        value = "no value" if c.value is None else format_value(c.value) + (f" {format_value(c.ci)}" if c.ci else "")
        gate = c.details.get("gate", {}).get("outcome")
        parts = [f"{c.status.upper():5}", c.id, value, c.threshold or "",
                 f"paper {format_value(c.paper_value)}" if c.paper_value is not None else "",
                 f"gate: {gate}" if gate else "", f"[{c.kind or 'check'}]"]
        return "  ".join(p for p in parts if p)

    ordered = sorted(claims, key=lambda c: (c.kind != "paper", c.id))
    return [line(c) for c in ordered]


def marker_name(claim_id: str) -> str:
    """The per-claim marker: ``rsh.path_to_logit`` -> ``rsh_path_to_logit`` (``pytest -m rsh_path_to_logit``)."""
    return claim_id.replace(".", "_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from fnmatch import fnmatch

    from axiomtests.claims import CLAIMS

    selection = config._axiom_session.claims  # type: ignore[attr-defined]
    timed = config.getoption("axiom_timing")
    keep, drop = [], []
    ids = list(CLAIMS)
    for item in items:
        claim, timing = item.get_closest_marker("claim"), item.get_closest_marker("timing")
        if claim is not None:
            item.add_marker(marker_name(claim.args[0]))
            claimed = [claim.args[0]]
        elif timing is not None and not timed:
            drop.append(item)
            continue
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


@pytest.fixture(scope="session")
def record_check(axiom_report) -> Callable[[Any], None]:
    """``record_check(result)``: a check that is not a registry claim (e.g. faithfulness to Hugging Face) goes into
    the report as a ClaimResult beside the claims; it is not gated (its test asserts its own bound)."""
    from axiomtests.claims import CLAIMS

    def record(result) -> None:
        if result.id in CLAIMS:
            raise ValueError(f"{result.id!r} is a registry claim: record it with check_claim, which gates it")
        axiom_report.add(result)

    return record


@pytest.fixture
def check_claim(request: pytest.FixtureRequest, axiom_session: AxiomSession, axiom_report):
    """Record a ClaimResult in the report and end the test by the baseline gate's verdict."""
    from axiomtests.claims import CLAIMS
    from axiomtests.gate import annotate_null, judge

    def check(result) -> None:
        annotate_null(result, axiom_session.null_report())
        baseline = axiom_session.baseline_report()
        verdict = judge(result, CLAIMS[result.id], baseline, axiom_session.pairs)
        if baseline is not None:
            result.details["gate"] = {"outcome": verdict.outcome, **(verdict.evidence or {})}
        axiom_report.add(result)
        # JUnit XML (--junitxml) carries these as <property> elements of the claim's test case
        request.node.user_properties.extend(
            (key, value) for key, value in (("claim", result.id), ("status", result.status), ("value", result.value),
                                            ("threshold", result.threshold), ("ci", result.ci), ("se", result.se),
                                            ("unit", result.unit), ("gate", verdict.outcome if baseline else None))
            if value is not None)
        if verdict.outcome in ("finding", "undecided") or (
                verdict.outcome == "fail" and axiom_session.findings == "xfail" and result.status == "fail"):
            pytest.xfail(verdict.message)
        if verdict.outcome in ("fail", "regression"):
            pytest.fail(verdict.message, pytrace=False)

    return check
