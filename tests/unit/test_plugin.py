"""The pytest plugin: options, suite collection with --checkpoint, byte-identical reports."""

from __future__ import annotations

import json

import pytest
pytest_plugins = ("pytester",)

@pytest.fixture(scope="module")
def checkpoints(tiny_checkpoint) -> dict:
    """Built before any pytester test: pytester restores sys.modules after each test, and modules that torch
    imports lazily while building a model (torch._dynamo) cannot be imported a second time."""
    return {n: tiny_checkpoint("bert", n) for n in (1, 2)}


@pytest.fixture(scope="module")
def beir_folder(tiny_beir):
    return tiny_beir


def test_help_lists_the_axiom_group(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*axiomtests: mechanistic claims*", "*--checkpoint=DIR_OR_HUB_ID*",
                                 "*--axiom-pairs=N*", "*--axiom-report-dir=DIR*"])


def test_bad_option_values_are_usage_errors(pytester):
    result = pytester.runpytest_subprocess("--axiom-pairs", "0")
    result.stderr.fnmatch_lines(["*--axiom-pairs*must be at least 1*"])
    assert result.ret != 0


def test_checkpoint_runs_the_suite_and_reports_identically(checkpoints, pytester, beir_folder):
    ckpt = checkpoints[2]
    outputs = []
    for run in ("a", "b"):
        out = pytester.path / run
        result = pytester.runpytest_subprocess("--checkpoint", str(ckpt), "--axiom-corpus", str(beir_folder),
                                               "--axiom-report-dir", str(out), "-p", "no:cacheprovider",
                                               "-k", "scores_equal_plain_hugging_face")
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(["*= axiomtests claims =*", "PASS   foundation.faithful_eager  0  *check*"])
        outputs.append((out / "report.json").read_bytes())
    assert outputs[0] == outputs[1]
    assert b'"foundation.faithful_eager"' in outputs[0] and b'"score": "diff"' in outputs[0]


def test_several_corpora_are_recorded_as_one_comparable_label(checkpoints, pytester, beir_folder):
    result = pytester.runpytest_subprocess("--checkpoint", str(checkpoints[1]), "--axiom-corpus", str(beir_folder),
                                           "--axiom-corpus", "beir/scifact/test", "--axiom-report-dir", "out",
                                           "-p", "no:cacheprovider", "-k", "scores_equal_plain_hugging_face")
    result.assert_outcomes(passed=2)
    environment = json.loads((pytester.path / "out" / "report.json").read_text())["environment"]
    assert environment["corpus"] == f"{beir_folder}+beir/scifact/test"


def unloadable(kind: str, good, folder):
    """A checkpoint folder that cannot be loaded: ``missing``, ``pickle`` (only pytorch_model.bin) or
    ``remote_code`` (an auto_map config)."""
    import shutil

    if kind == "missing":
        return folder / "missing"
    ckpt = shutil.copytree(good, folder / kind)
    if kind == "pickle":
        from safetensors.torch import load_file
        import torch

        torch.save(load_file(ckpt / "model.safetensors"), ckpt / "pytorch_model.bin")
        (ckpt / "model.safetensors").unlink()
    else:
        config = json.loads((ckpt / "config.json").read_text())
        config["auto_map"] = {"AutoModelForSequenceClassification": "evil.Model"}
        (ckpt / "config.json").write_text(json.dumps(config))
    return ckpt


@pytest.mark.parametrize(("kind", "message"), [("missing", "does not exist"), ("pickle", "--axiom-allow-pickle"),
                                               ("remote_code", "never runs remote code")])
def test_an_unloadable_checkpoint_is_one_usage_error(kind, message, checkpoints, pytester, tmp_path, beir_folder):
    ckpt = unloadable(kind, checkpoints[1], tmp_path)
    result = pytester.runpytest_subprocess("--checkpoint", str(ckpt), "--axiom-corpus", str(beir_folder),
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0] and "Fix" in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert len(result.outlines) + len(result.errlines) < 20


def test_the_project_rootdir_holds_whatever_checkpoint_points_to(checkpoints, pytester, beir_folder):
    """pytest picks its rootdir before the plugin's options exist, so ``--checkpoint DIR`` looked like a test
    path and the rootdir became the common ancestor of the project and the checkpoint."""
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("--checkpoint", str(checkpoints[1]), "--axiom-corpus", str(beir_folder),
                                           "--collect-only", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"rootdir: {pytester.path}"])
    assert f"rootdir: {pytester.path}\n" in result.stdout.str() + "\n"


def test_claim_selection_deselects_and_rejects_unknown_ids(checkpoints, pytester, beir_folder):
    ckpt = checkpoints[1]
    result = pytester.runpytest_subprocess("--checkpoint", str(ckpt), "--axiom-corpus", str(beir_folder),
                                           "--axiom-claims", "idf.u0", "--collect-only", "-q",
                                           "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*test_idf.py::test_u0_tracks_idf*"])
    assert "test_tfc1" not in result.stdout.str() and "deselected" in result.stdout.str()
    result = pytester.runpytest_subprocess("--axiom-claims", "nope.*")
    result.stderr.fnmatch_lines(["*'nope.*' matches no claim*"])


def test_per_claim_markers_select(checkpoints, pytester, beir_folder):
    result = pytester.runpytest_subprocess("--checkpoint", str(checkpoints[1]), "--axiom-corpus",
                                           str(beir_folder), "-m", "rsh_path_to_logit", "--collect-only", "-q",
                                           "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*test_few_late_heads_carry_the_signal_to_the_logit*"])
    assert "test_tfc1" not in result.stdout.str()


def test_benchmark_timings_land_beside_the_report(pytester):
    pytester.makepyfile(test_timed="""
        def test_timed(benchmark):
            benchmark.extra_info["pairs"] = 3
            assert benchmark.pedantic(sum, args=([1, 2],), rounds=2, iterations=1) == 3
    """)
    result = pytester.runpytest_subprocess("--axiom-report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "out" / "benchmarks.json").read_text())
    assert [b["name"] for b in data["benchmarks"]] == ["test_timed"]
    assert data["benchmarks"][0]["extra_info"] == {"pairs": 3} and data["benchmarks"][0]["stats"]["rounds"] == 2
    elsewhere = pytester.path / "mine.json"
    result = pytester.runpytest_subprocess("--axiom-report-dir", "out2", "--benchmark-json", str(elsewhere),
                                           "-p", "no:cacheprovider")
    assert elsewhere.exists() and not (pytester.path / "out2" / "benchmarks.json").exists()


def test_timing_tests_follow_the_claims_they_time(checkpoints, pytester, beir_folder):
    def collected(*claims: str) -> str:
        result = pytester.runpytest_subprocess("--checkpoint", str(checkpoints[1]), "--axiom-corpus",
                                               str(beir_folder), *claims, "--collect-only", "-q",
                                               "-p", "no:cacheprovider")
        return result.stdout.str()

    assert "test_patching_pass_timing[" not in collected(), "timings run only with --axiom-timing"
    assert "test_patching_pass_timing[path_to_logit]" not in collected("--axiom-timing", "--axiom-claims", "idf.u0")
    only_qch = collected("--axiom-timing", "--axiom-claims", "qch.idf")
    assert "test_patching_pass_timing[path_to_scoring_heads_v]" in only_qch
    assert "test_patching_pass_timing[path_to_logit]" not in only_qch
    assert collected("--axiom-timing").count("test_patching_pass_timing[") == 3


def test_a_claim_that_cannot_be_computed_stays_in_the_report_with_its_reason(checkpoints, pytester, beir_folder):
    pytester.makepyfile(test_broken="""
        import pytest
        from axiomtests.claims import NotComputable

        @pytest.mark.claim("rsh.attention_idf")
        def test_raises(hooked_model):
            raise NotComputable("no scoring head found")

        @pytest.mark.claim("mh.length")
        def test_crashes(hooked_model):
            {}["missing"]
    """)
    result = pytester.runpytest_subprocess("test_broken.py", "--checkpoint", str(checkpoints[1]), "-k", "broken",
                                           "--axiom-corpus", str(beir_folder), "--axiom-report-dir", "out",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    claims = {c["id"]: c for c in json.loads((pytester.path / "out" / "report.json").read_text())["claims"]}
    assert claims["rsh.attention_idf"]["status"] == "fail" and claims["rsh.attention_idf"]["value"] is None
    assert claims["rsh.attention_idf"]["details"]["not_computable"] == "no scoring head found"
    assert claims["mh.length"]["status"] == "error" and "KeyError" in claims["mh.length"]["details"]["error"]
    assert "could not be computed" in (pytester.path / "out" / "report.md").read_text()


def test_junit_xml_carries_each_claims_value_threshold_and_interval(checkpoints, pytester, beir_folder):
    import xml.etree.ElementTree as ET

    pytester.makepyfile(test_junit="""
        import pytest
        from axiomtests.claims import CLAIMS
        from circuits.stats import Interval

        @pytest.mark.claim("idf.u0")
        def test_u0(check_claim):
            check_claim(CLAIMS["idf.u0"].result(Interval(-0.7, -0.75, -0.65, 0.02, "vocabulary token", 100)))
    """)
    result = pytester.runpytest_subprocess("test_junit.py", "--checkpoint", str(checkpoints[1]), "-k", "junit",
                                           "--axiom-corpus", str(beir_folder), "--junitxml", "junit.xml",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    props = {p.get("name"): p.get("value") for p in ET.parse(pytester.path / "junit.xml").iter("property")}
    assert props == {"claim": "idf.u0", "status": "pass", "value": "-0.7", "threshold": "<= -0.5",
                     "ci": "(-0.75, -0.65)", "se": "0.02", "unit": "vocabulary token"}


def test_the_terminal_summary_puts_paper_claims_first_with_value_ci_paper_number_and_gate():
    from axiomtests.plugin import claim_summary_lines
    from circuits.report import ClaimResult

    claims = [ClaimResult(id="a.ours", status="fail", value=0.05, threshold=">= 0.5", ci=(0.0, 0.14),
                          details={"gate": {"outcome": "finding"}}, kind="extension"),
              ClaimResult(id="z.paper", status="pass", value=-0.637, threshold="<= -0.5", ci=(-0.646, -0.628),
                          paper_value=-0.7136, kind="paper"),
              ClaimResult(id="m.check", status="error", details={"error": "boom"})]
    assert claim_summary_lines(claims) == [
        "PASS   z.paper  -0.637 [-0.646, -0.628]  <= -0.5  paper -0.7136  [paper]",
        "FAIL   a.ours  0.05 [0, 0.14]  >= 0.5  gate: finding  [extension]",
        "ERROR  m.check  no value  [check]"]
