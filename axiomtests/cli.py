"""``axiomtests`` command line: run the suite, build the default checkpoint, patch, compare, stability."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from axiomtests.options import add_model_options, add_run_options, parse_device, parse_positive_int


def _run(args: argparse.Namespace) -> int:
    import pytest

    import axiomtests

    # the rootdir is the folder holding the axiomtests package, so node ids read axiomtests/suite/…; options
    # take their values after '=' so that pytest never mistakes a checkpoint folder for a test path
    root = Path(axiomtests.__file__).resolve().parent.parent
    argv = ["--pyargs", "axiomtests.suite", "-p", "no:cacheprovider", f"--rootdir={root}",
            f"--axiom-report-dir={args.out}", f"--axiom-seed={args.seed}", f"--axiom-pairs={args.pairs}",
            f"--axiom-device={args.device}", f"--axiom-score={args.score}", f"--axiom-findings={args.findings}"]
    for flag, value in (("--checkpoint", args.checkpoint), ("--axiom-tokenizer", args.tokenizer),
                        ("--axiom-revision", args.revision)):
        if value:
            argv.append(f"{flag}={value}")
    argv += [f"--axiom-corpus={corpus}" for corpus in args.corpus or ()]
    if args.allow_pickle:
        argv.append("--axiom-allow-pickle")
    if args.timing:
        argv.append("--axiom-timing")
    if args.nulls:
        argv.append(f"--axiom-null-report={_run_null(args)}")
    return int(pytest.main(argv + list(args.pytest_args)))


def _run_null(args: argparse.Namespace) -> Path:
    """Run the same suite, same settings, on a randomly initialised model of the checkpoint's config (in a child
    process); returns its report. Claims failing there are expected: its exit code is not the run's."""
    import subprocess

    from circuits.tiny import random_init_like

    if args.checkpoint:
        source = args.checkpoint
    else:
        from axiomtests.default_model import default_checkpoint_dir

        source = default_checkpoint_dir()
    out = Path(args.out)
    null = random_init_like(source, out / "null-model", seed=args.seed)
    argv = [sys.executable, "-m", "axiomtests.cli", "run", f"--checkpoint={null}", f"--out={out / 'null'}",
            f"--seed={args.seed}", *_child_run_options(args)]
    logging.getLogger("axiomtests").info("null model: the suite on a random initialisation of %s", source)
    subprocess.run(argv + ["--", *args.pytest_args], check=False)
    report = out / "null" / "report.json"
    if not report.exists():
        raise SystemExit(f"the null run wrote no report ({report}); see its output above")
    return report


def _child_run_options(args: argparse.Namespace) -> list[str]:
    """The sample and scoring options of ``args`` as ``axiomtests run`` options for a child run (``--device`` only
    when one is set: a sweep leaves it to the engine)."""
    options = [f"--pairs={args.pairs}", f"--score={args.score}", *([f"--device={args.device}"] if args.device else [])]
    return options + [f"--corpus={corpus}" for corpus in args.corpus or ()]


def _build(args: argparse.Namespace) -> int:
    from axiomtests import default_model

    if args.out is None:
        path = default_model.default_checkpoint_dir()
        logging.getLogger("axiomtests").info("default checkpoint (shipped weights, verified): %s", path)
        return 0
    argv = ["--out", str(args.out), *(["--force"] if args.force else []), *(["--ship"] if args.ship else []),
            *([f"--training-seed={args.training_seed}"] if args.training_seed is not None else [])]
    return default_model.main(argv)


def report_names(paths: Sequence[str]) -> list[str]:
    """Short, distinct names of report files: their folder (``run/report.json``), else their stem, else the path."""
    for name in (lambda p: Path(p).parent.name, lambda p: Path(p).stem, str):
        names = [name(p) or str(p) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def _compare(args: argparse.Namespace) -> int:
    from axiomtests.gate import compare
    from circuits.report import load_report

    reports = [load_report(p) for p in args.reports]
    names = report_names(args.reports)
    table, regressions = compare(reports, names)
    sys.stdout.write(table)
    for line in regressions:
        sys.stdout.write(f"regression: {line}\n")
    return 1 if regressions and args.fail_on_regression else 0


def _baseline(args: argparse.Namespace) -> int:
    from axiomtests.baseline import pool_reports
    from circuits.report import load_report

    reports = [load_report(p) for p in args.reports]
    pooled = pool_reports(reports, report_names(args.reports))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(pooled.to_json())
    out.with_suffix(".md").write_text(pooled.to_markdown())
    logging.getLogger("axiomtests").info("pooled baseline of %d runs: %s", len(reports), out)
    return 0


def _knockout(args: argparse.Namespace) -> int:
    from circuits.knockout import knock_out, parse_heads

    checkpoint = args.checkpoint
    if checkpoint is None:
        from axiomtests.default_model import default_checkpoint_dir

        checkpoint = default_checkpoint_dir()
    out = knock_out(checkpoint, args.out, heads=parse_heads(args.heads or ""), without_u0=args.without_u0)
    logging.getLogger("axiomtests").info("knocked-out checkpoint: %s", out)
    return 0


def _stability(args: argparse.Namespace) -> int:
    from axiomtests.stability import stability_table
    from circuits.report import load_report

    table, _ = stability_table([load_report(p) for p in args.reports])
    sys.stdout.write(table)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from axiomtests.merge import write_merged
    from axiomtests.sweep import sweep

    run_args = _child_run_options(args) + (["--allow-pickle"] if args.allow_pickle else [])
    if args.pytest_args:
        run_args += ["--", *args.pytest_args]
    result = sweep(args.checkpoints, args.seeds, args.out, run_args, engine=args.engine, address=args.address,
                   workers=args.workers, retries=args.retries)
    write_merged([args.out], args.out)
    failed = [t["name"] for t in result["tasks"] if t["status"] == "failed"]
    logging.getLogger("axiomtests").info("sweep: %d tasks in %.0f s (%s), %d failed%s; merged: %s",
                                         len(result["tasks"]), result["seconds"], result["engine"], len(failed),
                                         f" ({', '.join(failed)})" if failed else "", Path(args.out) / "merged.md")
    return 1 if failed else 0


def _merge(args: argparse.Namespace) -> int:
    from axiomtests.merge import write_merged

    write_merged(args.reports, args.out)
    sys.stdout.write((Path(args.out) / "merged.md").read_text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="axiomtests", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the claim suite on a checkpoint and write report.json / report.md")
    add_model_options(run.add_argument, prefix="")
    add_run_options(run.add_argument, prefix="")
    run.add_argument("--out", metavar="DIR", default="report", help="report folder. Default: %(default)r")
    run.add_argument("--findings", choices=("xfail", "fail"), default="xfail",
                     help="a failing claim is a finding in the report and exits 0 ('xfail'), or exits 1 ('fail'); "
                          "errors always exit 1. Default: %(default)r")
    run.add_argument("--nulls", action="store_true",
                     help="also run every claim on a randomly initialised model of the same config (report in "
                          "OUT/null) and mark each claim that passes there as not discriminative")
    run.add_argument("--timing", action="store_true",
                     help="also time the suite's patching passes (pytest-benchmark; OUT/benchmarks.json)")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    run.set_defaults(func=_run)
    build = sub.add_parser("build", help="verify and assemble the shipped default checkpoint; with --out, retrain "
                                         "its recipe (about an hour on two CPU cores)")
    build.add_argument("--out", type=Path, help="retrain the default recipe into this folder")
    build.add_argument("--force", action="store_true", help="retrain even if OUT holds a build")
    build.add_argument("--training-seed", type=int, help="retrain with this training seed (default: the recipe's)")
    build.add_argument("--ship", action="store_true", help="make the build the shipped default weights (a release)")
    build.set_defaults(func=_build)
    from axiomtests.patch_cli import add_patch_parser

    add_patch_parser(sub)
    comp = _reports_command(sub, "compare", _compare, "put reports side by side; the first is the baseline")
    comp.add_argument("--fail-on-regression", action="store_true",
                      help="exit 1 when a later report regresses against the first")
    _reports_command(sub, "baseline", _baseline, "pool the reports of retrains of one recipe into one baseline "
                     "whose intervals include retrain-to-retrain variation",
                     out=("BASELINE_JSON", "where to write the pooled report"))
    knock = sub.add_parser("knockout", help="save a checkpoint that lacks one mechanism (heads silenced, or U0 "
                                            "removed from the embeddings): a known negative for the claims")
    knock.add_argument("--checkpoint", metavar="DIR_OR_HUB_ID", help="Default: the embedded default checkpoint")
    knock.add_argument("--heads", metavar="L.H,L.H", help="heads whose output is zeroed, e.g. 0.8,1.1")
    knock.add_argument("--without-u0", action="store_true",
                       help="project the top singular direction of the word embeddings (U0, the IDF store) out")
    knock.add_argument("--out", required=True, metavar="DIR", help="where to save the knocked-out checkpoint")
    knock.set_defaults(func=_knockout)
    swp = sub.add_parser("sweep", help="run the suite on many checkpoints x seeds (on Ray when installed: "
                                        "pip install 'axiomtests[sweep]') and merge the reports",
                         epilog="Arguments after -- go to pytest in every task.")
    swp.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                     help="checkpoint folders, folders of training checkpoints (step-N, checkpoint-N), or hub ids")
    swp.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="N", help="suite seeds. Default: 0")
    swp.add_argument("--device", type=parse_device, help="as for run. Default: cuda on a Ray cluster with GPUs "
                                                         "(one each), else cpu")
    swp.add_argument("--score", default="auto", help="as for run. Default: %(default)r")
    swp.add_argument("--allow-pickle", action="store_true", help="as for run")
    swp.add_argument("--pairs", metavar="N", default=64, type=parse_positive_int, help="as for run. Default: 64")
    swp.add_argument("--corpus", metavar="SOURCE", action="append", help="as for run")
    swp.add_argument("--out", required=True, metavar="DIR", help="one report folder per task, and the merge")
    swp.add_argument("--engine", choices=("auto", "ray", "serial"), default="auto",
                     help="ray, or one task after the other; auto: ray when installed. Default: %(default)r")
    swp.add_argument("--address", metavar="HOST:PORT", help="a running Ray cluster. Default: a local one")
    swp.add_argument("--workers", type=parse_positive_int, metavar="N",
                     help="CPUs of the local Ray engine (one task each). Default: every core")
    swp.add_argument("--retries", type=int, default=1, metavar="N",
                     help="reruns of a task whose suite was killed by a signal (Ray only). Default: %(default)r")
    swp.set_defaults(func=_sweep, pytest_args=[])  # pytest_args: what follows "--" (see main)
    _reports_command(sub, "merge", _merge, "claims x checkpoints table, heatmap and step plot from report files "
                     "or sweep folders (seeds of one checkpoint pooled)", metavar="REPORT_JSON_OR_SWEEP_DIR",
                     out=("DIR", "where merged.{json,md} and the figures go"))
    _reports_command(sub, "stability", _stability, "is each claim's verdict stable at this sample size? "
                     "(reports of one checkpoint under different --seed values)")
    return parser


def _reports_command(sub: Any, name: str, func: Callable[[argparse.Namespace], int], help: str,
                     metavar: str = "REPORT_JSON", out: tuple[str, str] | None = None) -> argparse.ArgumentParser:
    """A subcommand over report files (``reports``), with a required ``--out`` when ``out`` = (metavar, help)."""
    command = sub.add_parser(name, help=help)
    command.add_argument("reports", nargs="+", metavar=metavar)
    if out is not None:
        command.add_argument("--out", required=True, metavar=out[0], help=out[1])
    command.set_defaults(func=func)
    return command


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if argv[:1] == ["sweep"] and "--" in argv:  # the checkpoints are variadic: split the pytest arguments off
        extra, argv = argv[argv.index("--") + 1:], argv[:argv.index("--")]
    args = build_parser().parse_args(argv)
    if extra:
        args.pytest_args = extra
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
