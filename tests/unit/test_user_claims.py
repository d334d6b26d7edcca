"""A claim of the user's own, registered from a conftest: it runs, gates, reports and compares like ours."""

from __future__ import annotations

import gzip
import json

import pytest

from axiomtests.cli import main
from circuits.report import load_report

pytest_plugins = ("pytester",)

CONFTEST = '''
def pytest_axiomtests_claims(config):
    return """
    [[claim]]
    id = "team.cls_reads_document"
    statement = "[CLS] attends to the document in the last layer"
    provenance = "our model card, section 3"
    metric = "mean last-layer [CLS]→document attention over heads, bootstrap over pairs"
    threshold = ">= 0.01"
    why = "a reranker must read the document"
    """
'''

MEASURE = '''
import pytest
from axiomtests.claims import CLAIMS
from circuits.items import Items
from circuits.matching import attention_patterns

@pytest.mark.claim("team.cls_reads_document")
def test_cls_reads_the_document(hooked_model, axiom_session, check_claim):
    last = hooked_model.cfg.n_layers - 1
    _, seg, _, cache = attention_patterns(hooked_model, ["what is bm25", "search model", "rank query"],
                                          ["bm25 is a ranking function", "the model scores documents", "query term"],
                                          [last])
    read = (cache["pattern", last][:, :, 0] * seg.doc[:, None]).sum(-1).mean(1).numpy()
    items = Items.of(["p0", "p1", "p2"], cls_to_document=read)
    value = items.bootstrap(lambda i: float(read[i].mean()), unit="pair", seed=axiom_session.seed)
    check_claim(CLAIMS["team.cls_reads_document"].result(value, items=items))
'''


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    """Built before the pytester test (see tests/unit/test_plugin.py: checkpoints)."""
    return tiny_checkpoint("bert")


def test_a_user_claim_runs_gates_reports_and_compares(checkpoint, tiny_beir, pytester, capsys):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_team=MEASURE)
    common = ["--checkpoint", str(checkpoint), "--axiom-corpus", str(tiny_beir), "--axiom-claims", "team.*",
              "-p", "no:cacheprovider", "-m", "team_cls_reads_document", "test_team.py"]
    first = pytester.runpytest_subprocess(*common, "--axiom-report-dir", "a")
    first.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "a" / "report.json").read_text())
    claim = {c["id"]: c for c in report["claims"]}["team.cls_reads_document"]
    assert claim["status"] == "pass" and claim["threshold"] == ">= 0.01" and claim["unit"] == "pair"
    assert "team.cls_reads_document" in (pytester.path / "a" / "report.md").read_text()
    rows = gzip.open(pytester.path / "a" / "items.csv.gz", "rt").read().splitlines()
    assert rows[1:] == [f"team.cls_reads_document,p{n},p{n},cls_to_document,{v:.6g}" for n, v in
                        enumerate(load_report(pytester.path / "a" / "report.json").claims[0].items.values[
                            "cls_to_document"])]
    gated = pytester.runpytest_subprocess(*common, "--axiom-report-dir", "b", "--axiom-baseline", "a/report.json")
    gated.assert_outcomes(passed=1)
    assert json.loads((pytester.path / "b" / "report.json").read_text())["claims"][0]["details"]["gate"][
        "outcome"] == "ok"
    assert main(["compare", str(pytester.path / "a" / "report.json"), str(pytester.path / "b" / "report.json"),
                 "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "| team.cls_reads_document | >= 0.01 " in out
    assert "| team.cls_reads_document |              3 | 0 of 1" in out  # the same items, item by item unchanged


def test_a_user_claim_may_not_reuse_a_built_in_id(pytester):
    pytester.makeconftest(CONFTEST.replace("team.cls_reads_document", "idf.u0"))
    result = pytester.runpytest_subprocess("--collect-only", "-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*reuse built-in claim ids*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_compare_leaves_checks_that_are_not_claims_unjudged(capsys):
    from axiomtests.claims import claim_of
    from circuits.report import ClaimResult

    check = ClaimResult(id="foundation.faithful_sdpa", status="pass", value=1e-6,
                        threshold="<= 1e-05 + |HF eager − HF sdpa|")
    assert claim_of(check) is None
    assert claim_of(ClaimResult(id="team.x", status="pass", value=1.0, threshold=">= 0.5")).threshold.bound == 0.5
