"""The README's code runs: its user claim end to end on a tiny checkpoint; its commands and the docs' parse."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from axiomtests.cli import build_parser

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = (README, *(page.read_text() for page in sorted((ROOT / "docs").rglob("*.md"))))


def blocks(language: str, texts: tuple[str, ...] = (README,)) -> list[str]:
    """The fenced code blocks in ``language`` of ``texts`` (default: the README)."""
    return [code for text in texts for code in re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)]


def test_the_readme_claim_of_your_own_runs(tiny_checkpoint, tiny_beir, pytester):
    files = {}
    for code in blocks("python"):
        name = re.match(r"# (\S+\.py)\n", code)
        assert name, f"a README Python block must start with '# <file>.py':\n{code}"
        files[name.group(1)] = code
    assert set(files) == {"conftest.py", "test_team.py"}
    for name, code in files.items():
        (pytester.path / name).write_text(code)
    run_it = re.search(r"Run it with `pytest (.+?)`", README)
    assert run_it, "the README says how to run its claim"
    args = [str(tiny_checkpoint("bert")) if arg == "path/or/hub-id" else arg for arg in shlex.split(run_it[1])]
    result = pytester.runpytest_subprocess(*args, "--axiom-corpus", str(tiny_beir), "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    out = pytester.path / args[args.index("--axiom-report-dir") + 1]
    claims = {c["id"]: c for c in json.loads((out / "report.json").read_text())["claims"]}
    assert claims["team.cls_reads_document"]["status"] == "pass"


COMMANDS = sorted({shlex.join(shlex.split(line, comments=True)) for code in blocks("bash", DOCS)
                   for line in code.splitlines() if line.startswith("axiomtests ")})


@pytest.mark.parametrize("command", COMMANDS)
def test_the_documented_commands_parse(command):
    build_parser().parse_args(shlex.split(command)[1:])
