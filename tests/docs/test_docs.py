"""The documentation builds with warnings as errors, documents every module, and its examples run."""

from __future__ import annotations

import doctest
import importlib
import io
import subprocess
import sys
from pathlib import Path

from axiomtests.claims import load_claims

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("circuits", "circuits/measures", "axiomtests")  # axiomtests/suite holds tests, not an API


def modules() -> list[str]:
    """Every module of the library packages, by import name."""
    names = []
    for folder in PACKAGES:
        package = folder.replace("/", ".")
        names += [package if p.stem == "__init__" else f"{package}.{p.stem}"
                  for p in sorted((ROOT / folder).glob("*.py"))]
    return names


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            str(ROOT / "docs"), str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert build.returncode == 0, build.stderr
    reference = (tmp_path / "claims.html").read_text()
    assert all(f'id="claim-{claim.replace(".", "-").replace("_", "-")}"' in reference for claim in load_claims())
    api = (ROOT / "docs" / "api.md").read_text()
    assert [name for name in modules() if f".. automodule:: {name}\n" not in api] == []


def test_the_docstring_examples_run():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = io.StringIO()
    for name in modules():
        for test in doctest.DocTestFinder().find(importlib.import_module(name)):
            runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
    assert runner.tries >= 30  # the examples were found, not silently skipped
