"""The claim suite end to end on tiny DeBERTa-v3 and ModernBERT cross-encoders whose vocabularies are of their
own kinds (SentencePiece, byte-level BPE), trained on the default corpus so the suite's datasets find their
words: every registry claim lands in the report with a verdict, none errors, and the hooked model is faithful."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from axiomtests.claims import CLAIMS
from circuits.tiny import TOKENIZER_KIND, tiny_cross_encoder, trained_tokenizer

ARCHS = ("deberta-v2", "modernbert")


@pytest.fixture(scope="module")
def suite_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, dict]]:
    """Per architecture: its ``axiomtests run`` (both at once, one thread each) and its report."""
    from axiomtests.corpus import load_source

    corpus = load_source(None)
    texts = [corpus.docs[k] for k in sorted(corpus.docs)][:600] + [corpus.queries[k] for k in sorted(corpus.queries)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = {}
    for arch in ARCHS:
        folder = tmp_path_factory.mktemp(arch)
        checkpoint = tiny_cross_encoder(folder / "checkpoint", arch, 1, positions=512,
                                        tokenizer=trained_tokenizer(TOKENIZER_KIND[arch], texts))
        command = [sys.executable, "-m", "axiomtests.cli", "run", f"--checkpoint={checkpoint}", "--pairs=8",
                   f"--out={folder / 'report'}", "--", "-q"]
        started[arch] = (subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True), folder / "report" / "report.json")
    runs = {}
    for arch, (process, report) in started.items():
        output, _ = process.communicate()
        runs[arch] = (process.returncode, output, json.loads(report.read_text()) if report.exists() else {})
    return runs


@pytest.mark.parametrize("arch", ARCHS)
def test_the_claim_suite_runs_end_to_end(suite_runs, arch):
    returncode, output, report = suite_runs[arch]
    assert returncode == 0, output[-3000:]  # findings exit 0; an error in any claim exits 1
    claims = {c["id"]: c for c in report["claims"]}
    assert set(CLAIMS) <= set(claims)
    assert {c["status"] for c in claims.values()} <= {"pass", "fail"}
    assert claims["foundation.faithful_eager"]["status"] == "pass"
    assert report["checkpoint"]["model_type"] == arch
