"""``axiomtests sweep`` and ``merge``: tasks per (checkpoint, seed) on a local engine, failures kept, seeds pooled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from axiomtests.claims import CLAIMS
from axiomtests.merge import columns_from, merge, to_markdown, write_merged
from axiomtests.stability import claim_stability
from axiomtests.sweep import SweepError, expand_checkpoints, trailing_step
from circuits.report import Report, load_report

HERE = Path(__file__).resolve().parent


def test_training_steps_are_found_and_ordered_by_number(tmp_path):
    for name in ("step-0140", "step-0035", "step-0000", "notes"):
        (tmp_path / "run" / name).mkdir(parents=True)
    for name in ("step-0140", "step-0035", "step-0000"):
        (tmp_path / "run" / name / "config.json").write_text("{}")
    found = expand_checkpoints([str(tmp_path / "run"), "org/model"])
    assert [(label, step) for _, label, step in found] == [("step-0000", 0), ("step-0035", 35), ("step-0140", 140),
                                                          ("org_model", None)]
    assert trailing_step("checkpoint-500") == 500 and trailing_step("retrain-seed1") is None
    with pytest.raises(SweepError, match="holds no checkpoint"):
        expand_checkpoints([str(tmp_path / "run" / "notes")])


def _report(name: str, seed: int, **values: float) -> Report:
    return Report(checkpoint={"name": name, "weights_sha256": name * 8}, environment={"seed": seed},
                  claims=[CLAIMS[k.replace("__", ".")].result(v) for k, v in values.items()])


def test_seeds_of_one_checkpoint_pool_as_stability_does():
    runs = [("a0", _report("a", 0, idf__u0=-0.70)), ("a1", _report("a", 1, idf__u0=-0.60)),
            ("b0", _report("b", 0, idf__u0=-0.40))]
    merged = merge(columns_from(runs))
    cells = merged["claims"][0]["cells"]
    stab = claim_stability([r.claims[0] for _, r in runs[:2]])
    assert cells["a"]["value"] == pytest.approx(-0.65) and cells["a"]["verdicts"] == ["pass", "pass"]
    assert cells["a"]["ci"] == pytest.approx([-0.65 - 1.96 * stab.noise, -0.65 + 1.96 * stab.noise])
    assert cells["b"] == {**cells["b"], "value": -0.40, "verdict": "fail", "seeds": 1}
    text = to_markdown(merged)
    assert "| idf.u0" in text and "(2/2 seeds pass)" in text


@pytest.fixture()
def steps(tmp_path):
    """Two tiny checkpoints as training steps, and one whose suite is killed (see ``sweep_killer.py``)."""
    from circuits.tiny import tiny_cross_encoder

    for step, seed in ((0, 0), (10, 1)):
        tiny_cross_encoder(tmp_path / "run" / f"step-{step}", "bert", 1, seed)
    tiny_cross_encoder(tmp_path / "doomed" / "step-20", "bert", 1, 2)
    return tmp_path


def _sweep(tmp_path: Path, beir: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "SWEEP_KILL_LOG": str(tmp_path / "kills.log")}
    argv = [sys.executable, "-m", "axiomtests.cli", "sweep", str(tmp_path / "run"), str(tmp_path / "doomed"),
            "--seeds", "0", "1", "--pairs", "8", "--out", str(tmp_path / "out"), *flags, "--",
            "-p", "sweep_killer", "--axiom-claims=idf.u0", f"--axiom-corpus={beir}"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)


def test_a_sweep_on_two_workers_merges_its_reports_and_keeps_a_killed_task_as_failed(steps, tiny_beir):
    pytest.importorskip("ray")
    done = _sweep(steps, tiny_beir, "--engine", "ray", "--workers", "2", "--retries", "1")
    assert done.returncode == 1, done.stderr[-3000:]  # a task failed; the others finished
    out = steps / "out"
    tasks = {t["name"]: t for t in json.loads((out / "sweep.json").read_text())["tasks"]}
    assert json.loads((out / "sweep.json").read_text())["engine"] == "ray"
    assert {n: t["status"] for n, t in tasks.items()} == {
        "step-0-seed0": "done", "step-0-seed1": "done", "step-10-seed0": "done", "step-10-seed1": "done",
        "step-20-seed0": "failed", "step-20-seed1": "failed"}
    assert "killed by SIGKILL" in tasks["step-20-seed0"]["reason"]
    assert len((steps / "kills.log").read_text().split()) == 4  # two tasks, each retried once by the engine

    merged = json.loads((out / "merged.json").read_text())
    assert [c["label"] for c in merged["checkpoints"]] == ["step-0", "step-10", "step-20"]
    assert merged["checkpoints"][2]["failed"][0]["seed"] == 0
    for label in ("step-0", "step-10"):
        runs = [load_report(out / f"{label}-seed{s}" / "report.json") for s in (0, 1)]
        for claim in merged["claims"]:
            results = [next(c for c in r.claims if c.id == claim["id"]) for r in runs]
            cell = claim["cells"][label]
            assert cell["values"] == [r.value for r in results] and cell["verdicts"] == [r.status for r in results]
            assert cell["seed_list"] == [0, 1]
            assert cell["value"] == pytest.approx(sum(r.value for r in results) / 2)
    assert all(claim["cells"]["step-20"] == {"verdict": "failed"} for claim in merged["claims"])
    text = (out / "merged.md").read_text()
    assert "## Failed tasks" in text and "step-20` seed 1" in text
    assert (out / "merged-heatmap.png").stat().st_size > 0 and (out / "merged-steps.png").stat().st_size > 0

    before = (out / "merged.json").read_bytes()
    again = _sweep(steps, tiny_beir, "--engine", "serial")  # same inputs: finished tasks are skipped
    statuses = {t["name"]: t["status"] for t in json.loads((out / "sweep.json").read_text())["tasks"]}
    assert again.returncode == 1 and statuses["step-0-seed0"] == statuses["step-10-seed1"] == "skipped"
    assert statuses["step-20-seed0"] == "failed"
    assert (out / "merged.json").read_bytes() == before  # byte-identical merge of the same reports


def test_merge_command_reads_report_files(tmp_path, capsys):
    from axiomtests.cli import main

    paths = []
    for seed, value in ((0, -0.7), (1, -0.6)):
        paths.append(str(_report("a", seed, idf__u0=value).write(tmp_path / f"a{seed}")))
    assert main(["merge", *paths, "--out", str(tmp_path / "m")]) == 0
    assert "(2/2 seeds pass)" in capsys.readouterr().out
    assert write_merged(paths, tmp_path / "m2")["claims"][0]["cells"]["a"]["seeds"] == 2


def test_without_ray_the_tasks_run_one_after_the_other_and_say_so(tmp_path, monkeypatch, caplog):
    import axiomtests.sweep as sweep_module

    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text("{}")
    monkeypatch.setattr(sweep_module, "engine_available", lambda: False)
    ran = []
    monkeypatch.setattr(sweep_module, "run_serial", lambda tasks, out, args: ran.extend(tasks) or [])
    with caplog.at_level("WARNING", logger="axiomtests.sweep"):
        result = sweep_module.sweep([str(tmp_path / "ck")], [0, 1], tmp_path / "out")
    assert result["engine"] == "serial" and [t.seed for t in ran] == [0, 1]
    assert "pip install 'axiomtests[sweep]'" in caplog.text
    with pytest.raises(SweepError, match="needs Ray"):
        sweep_module.sweep([str(tmp_path / "ck")], [0], tmp_path / "out", engine="ray")
