"""The claim suite end to end on tiny DeBERTa-v3 and ModernBERT cross-encoders whose vocabularies are of their
own kinds (SentencePiece, byte-level BPE), trained on the default corpus so the suite's datasets find their
words: every registry claim lands in the report with a verdict, none errors, and the hooked model is faithful."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from axiomtests.claims import CLAIMS
from circuits.tiny import TOKENIZER_KIND, tiny_cross_encoder, trained_tokenizer


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    from axiomtests.corpus import load_source

    corpus = load_source(None)
    return [corpus.docs[k] for k in sorted(corpus.docs)][:1500] + [corpus.queries[k] for k in sorted(corpus.queries)]


@pytest.mark.parametrize("arch", ["deberta-v2", "modernbert"])
def test_the_claim_suite_runs_end_to_end(arch, corpus_texts, tmp_path):
    tokenizer = trained_tokenizer(TOKENIZER_KIND[arch], corpus_texts)
    checkpoint = tiny_cross_encoder(tmp_path / "checkpoint", arch, 1, tokenizer=tokenizer, positions=512)
    out = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "axiomtests.cli", "run", f"--checkpoint={checkpoint}", "--pairs=8",
                          f"--out={out}", "--", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]  # findings exit 0; an error in any claim exits 1
    report = json.loads((out / "report.json").read_text())
    claims = {c["id"]: c for c in report["claims"]}
    assert set(CLAIMS) <= set(claims)
    assert {c["status"] for c in claims.values()} <= {"pass", "fail"}
    assert claims["foundation.faithful_eager"]["status"] == "pass"
    assert report["checkpoint"]["model_type"] == arch
