"""The import name ``circuits`` is shared with an unrelated PyPI distribution: the clash is one clear error."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_foreign_circuits_package_is_refused_with_the_fix(tmp_path):
    (tmp_path / "circuits").mkdir()
    (tmp_path / "circuits" / "__init__.py").write_text('"""circuits: a Lightweight Event driven Framework"""\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import axiomtests"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "is not axiomtests' own" in done.stderr and "pip uninstall circuits" in done.stderr
    (tmp_path / "elsewhere").mkdir()
    ours = subprocess.run([sys.executable, "-c", "import axiomtests, circuits; print(circuits.DISTRIBUTION)"],
                          cwd=tmp_path / "elsewhere", capture_output=True, text=True, timeout=120)
    assert ours.stdout.strip() == "axiomtests", ours.stderr
