"""The axiomtests command line."""

from __future__ import annotations

import pytest

from axiomtests.cli import build_parser, main
from axiomtests.claims import CLAIMS
from circuits.report import Report


def write(tmp_path, name, **values):
    report = Report(checkpoint={"name": name}, environment={},
                    claims=[CLAIMS[k.replace("__", ".")].result(v) for k, v in values.items()])
    return report.write(tmp_path / name)


def test_compare_prints_side_by_side_and_gates(tmp_path, capsys):
    old = write(tmp_path, "old", axiom__tfc1=0.9, idf__u0=-0.7)
    new = write(tmp_path, "new", axiom__tfc1=0.7, idf__u0=-0.71)
    assert main(["compare", str(old), str(new)]) == 0
    assert main(["compare", str(old), str(new), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "regression: new: axiom.tfc1" in out
    assert main(["compare", str(old), str(old), "--fail-on-regression"]) == 0


def test_run_options_mirror_the_plugin():
    args = build_parser().parse_args(["run", "--checkpoint", "x", "--pairs", "8", "--seed", "3", "--out", "o"])
    assert (args.checkpoint, args.pairs, args.seed, args.out) == ("x", 8, 3, "o")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--pairs", "0"])


def test_run_reports_findings_without_failing_unless_asked(monkeypatch):
    import pytest as pytest_module

    seen = []
    monkeypatch.setattr(pytest_module, "main", lambda argv: seen.append(argv) or 0)
    assert main(["run", "--out", "o"]) == 0
    assert main(["run", "--findings", "fail"]) == 0
    first, second = seen
    assert "--axiom-findings=xfail" in first and "--axiom-report-dir=o" in first
    assert "--axiom-findings=fail" in second


def test_run_passes_the_checkpoint_so_that_pytest_never_takes_it_for_a_test_path(monkeypatch, tmp_path):
    import pytest as pytest_module

    seen = []
    monkeypatch.setattr(pytest_module, "main", lambda argv: seen.append(argv) or 0)
    main(["run", "--checkpoint", str(tmp_path)])
    assert f"--checkpoint={tmp_path}" in seen[0] and str(tmp_path) not in seen[0]
    assert any(a.startswith("--rootdir=") for a in seen[0])


def test_patch_subcommand_is_wired():
    from axiomtests.patch_cli import patch_command

    args = build_parser().parse_args(["patch", "--kind", "path-to-logit", "--pairs-file", "p.jsonl"])
    assert args.func is patch_command and args.kind == "path-to-logit"


def test_run_with_nulls_gates_the_suite_on_the_null_models_report(monkeypatch, tmp_path):
    import pytest as pytest_module

    from axiomtests import cli

    seen = []
    monkeypatch.setattr(pytest_module, "main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(cli, "_run_null", lambda args: tmp_path / "null" / "report.json")
    assert main(["run", "--nulls", "--out", str(tmp_path)]) == 0
    assert f"--axiom-null-report={tmp_path / 'null' / 'report.json'}" in seen[0]


def test_run_with_nulls_end_to_end_on_a_tiny_model(tiny_checkpoint, tiny_beir, tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "rep"
    subprocess.run([sys.executable, "-m", "axiomtests.cli", "run", f"--checkpoint={tiny_checkpoint('bert')}",
                    "--nulls", f"--out={out}", "--", "--axiom-claims=idf.u0", f"--axiom-corpus={tiny_beir}"],
                   cwd=tmp_path, capture_output=True, check=True)
    null = json.loads((out / "null" / "report.json").read_text())
    main_report = json.loads((out / "report.json").read_text())
    (null_u0,) = [c for c in null["claims"] if c["id"] == "idf.u0"]
    (u0,) = [c for c in main_report["claims"] if c["id"] == "idf.u0"]
    assert u0["details"]["null"] == {"status": null_u0["status"], "value": null_u0["value"]}
    assert null["checkpoint"]["weights_sha256"] != main_report["checkpoint"]["weights_sha256"]
