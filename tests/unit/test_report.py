"""Report schema, determinism, Markdown and loading."""

from __future__ import annotations

import json
import re

import pytest

from circuits.errors import DatasetError
from circuits.report import SCHEMA_VERSION, ClaimResult, Report, load_report


def make_report() -> Report:
    report = Report(checkpoint={"name": "m", "layers": 2}, environment={"seed": 0})
    report.section("faithfulness", {"max_abs_logit_diff": 1.234567891e-7, "pairs": 4})
    report.add(ClaimResult(id="b.claim", status="fail", value=0.123456789, threshold=">= 0.5", ci=(0.1, 0.2),
                           paper_value=0.99))
    report.add(ClaimResult(id="a.claim", status="pass", value=float("nan")))
    return report


def test_json_is_deterministic_sorted_and_rounded():
    first, second = make_report().to_json(), make_report().to_json()
    assert first == second
    data = json.loads(first)
    assert [c["id"] for c in data["claims"]] == ["a.claim", "b.claim"]
    assert data["claims"][1]["value"] == 0.123457
    assert data["claims"][0]["value"] is None  # NaN is not valid JSON
    assert data["schema_version"] == SCHEMA_VERSION == 3


def test_adding_a_claim_twice_keeps_the_last():
    report = make_report()
    report.add(ClaimResult(id="a.claim", status="skip"))
    assert [c.status for c in report.claims if c.id == "a.claim"] == ["skip"]


def test_sections_are_filled_key_by_key_and_never_overwritten():
    """Two tests may fill one dict section (faithfulness: eager and sdpa); a clash is refused, not lost."""
    report = make_report()
    shared = {"pairs": 4}
    report.section("faithfulness", {**shared, "sdpa": 2e-7})
    report.section("rows", [{"k": 1}])
    report.section("rows", [{"k": 1}])  # the same value again is harmless
    assert report.sections["faithfulness"] == {"max_abs_logit_diff": 1.234567891e-7, "pairs": 4, "sdpa": 2e-7}
    assert shared == {"pairs": 4}  # the caller's dict is not the report's
    with pytest.raises(ValueError, match=r"other values for \['pairs'\]"):
        report.section("faithfulness", {"pairs": 5})
    with pytest.raises(ValueError, match="already written"):
        report.section("rows", [{"k": 2}])
    with pytest.raises(ValueError, match="non-empty string"):
        report.section("", 1)
    assert report.sections["faithfulness"]["pairs"] == 4 and report.sections["rows"] == [{"k": 1}]


def test_bad_status_is_refused():
    with pytest.raises(ValueError, match="status 'ok'"):
        ClaimResult(id="x", status="ok")


def test_markdown_has_tables(tmp_path):
    path = make_report().write(tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert re.search(r"\|\s*b\.claim\s*\|\s*fail\s*\|\s*0\.1235\s*\|", markdown)
    assert "## faithfulness" in markdown and "## Extensions (ours)" in markdown and "0.99" in markdown
    loaded = load_report(path)
    assert loaded.to_json() == make_report().to_json()


def test_markdown_opens_with_the_paper_reproduction_and_labels_the_rest_as_ours():
    report = make_report()
    report.add(ClaimResult(id="c.paper", status="pass", value=-0.61, threshold="<= -0.5", ci=(-0.66, -0.55),
                           paper_value=-0.7136, kind="paper"))
    markdown = report.to_markdown()
    reproduction, ours = markdown.index("## Paper reproduction"), markdown.index("## Extensions (ours)")
    assert reproduction < ours < markdown.index("## faithfulness")
    table = markdown[reproduction:ours]
    assert re.search(r"\|\s*c\.paper\s*\|\s*-0\.7136\s*\|\s*-0\.61\s*\|\s*\[-0\.66, -0\.55\]", table)
    assert "b.claim" not in table and "b.claim" in markdown[ours:]
    assert "No paper-kind claim ran." in make_report().to_markdown()
    assert json.loads(report.to_json())["claims"][2]["kind"] == "paper"
    with pytest.raises(ValueError, match="kind 'guess'"):
        ClaimResult(id="x", status="pass", kind="guess")


def test_figures_are_listed_once_and_linked(tmp_path):
    report = make_report()
    for name in ("tfc2.png", "lnc1.png", "tfc2.png"):
        report.figure(name)
    assert report.figures == ["tfc2.png", "lnc1.png"]
    path = report.write(tmp_path)
    assert json.loads(path.read_text())["figures"] == ["lnc1.png", "tfc2.png"]
    markdown = (tmp_path / "report.md").read_text()
    assert "## Figures" in markdown and "![tfc2.png](tfc2.png)" in markdown
    assert load_report(path).to_json() == report.to_json()


def test_curves_are_drawn_and_mismatched_lengths_refused(tmp_path):
    import numpy as np

    from circuits.plots import plot_curves

    rows = np.random.default_rng(0).normal(size=(6, 4)).cumsum(1)
    out = plot_curves(range(4), {"per query": rows, "single": rows.mean(0)}, tmp_path / "c.png", title="t",
                      xlabel="k", ylabel="score")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000
    with pytest.raises(ValueError, match="curve 'bad' has 3 points for 4 x values"):
        plot_curves(range(4), {"bad": rows[:, :3]}, tmp_path / "d.png", title="t", xlabel="k", ylabel="s")


def test_other_schema_and_garbage_are_refused(tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(DatasetError, match="schema 99.*re-run"):
        load_report(bad)
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read report"):
        load_report(bad)


def test_a_pipe_inside_a_markdown_cell_is_escaped():
    from circuits.report import Report

    report = Report(checkpoint={"name": "a|b"}, environment={}, sections={"s": [{"col|umn": "x | y"}]})
    md = report.to_markdown()
    assert "a\\|b" in md and "x \\| y" in md and "col\\|umn" in md
    assert all(line.count("|") - line.count("\\|") == 3 for line in md.splitlines() if line.startswith("| a"))
