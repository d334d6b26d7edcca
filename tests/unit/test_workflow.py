"""The example GitHub Actions release gate, run step by step on this machine (no GitHub needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "axiomtests-gate.yml"
LOCAL = {"install"}  # steps this environment has already done (the project is installed)


def run_workflow(env: dict[str, str], cwd: Path) -> dict[str, int]:
    """Each ``run:`` step in order, as GitHub would (bash -eo pipefail, the workflow's env); after a failure only
    ``if: always()`` steps run. Returns each step's exit code by id or name."""
    spec = yaml.safe_load(WORKFLOW.read_text())
    base = {**os.environ, **{k: str(v) for k, v in spec.get("env", {}).items()}, **env}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base['PATH']}"
    codes: dict[str, int] = {}
    failed = False
    for step in spec["jobs"]["gate"]["steps"]:
        if "run" not in step or step.get("id") in LOCAL or (failed and step.get("if") != "always()"):
            continue
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=cwd,
                              env=base, capture_output=True, text=True, timeout=900)
        codes[step.get("id", step["name"])] = done.returncode
        failed |= done.returncode != 0
    return codes


def test_the_example_release_gate_runs_locally(tiny_checkpoint, tiny_beir, tmp_path):
    beir = tiny_beir
    model = tiny_checkpoint("bert")
    args = f"--axiom-claims=idf.u0 --axiom-corpus={beir}"
    released = tmp_path / "released"
    assert subprocess.run([sys.executable, "-m", "axiomtests.cli", "run", f"--checkpoint={model}", "--out",
                           str(released), "--", *args.split()], cwd=tmp_path, capture_output=True).returncode == 0
    summary = tmp_path / "summary.md"
    codes = run_workflow({"MODEL": str(model), "BASELINE": str(released / "report.json"), "AXIOM_ARGS": args,
                          "GITHUB_STEP_SUMMARY": str(summary)}, tmp_path)
    assert codes == {"gate": 0, "Job summary": 0}
    assert "## Paper reproduction" in summary.read_text() and "idf.u0" in summary.read_text()
    junit = ET.parse(tmp_path / "axiom-report" / "junit.xml")
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["claim"] == "idf.u0" and props["gate"] == "finding" and "se" in props  # fails in both runs
