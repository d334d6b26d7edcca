"""``axiomtests sweep``: the claim suite over checkpoints × seeds, one task per pair, on Ray when it is installed.

Each task is one ``axiomtests run`` in a child process, writing its own folder ``OUT/<checkpoint>-seed<N>/``
(``report.json``, ``report.md``, ``run.log`` and ``task.json``, the inputs that produced the report). A child keeps
one task's crash, memory and plugins away from the others. Ray schedules the tasks (one CPU each, or one GPU each
where the cluster has GPUs), retries a task whose child was killed by a signal (preemption, the OOM killer) and
collects the outcomes; a task that fails or stays killed is recorded as failed, and the others carry on. Without
Ray (``pip install 'axiomtests[sweep]'``) the same tasks run one after the other.

A rerun skips a task whose ``task.json`` records the same inputs (checkpoint fingerprint, seed, pairs, claims
registry, corpus, extra arguments) beside an existing report. The sweep ends by merging every report
(:mod:`axiomtests.merge`) into ``OUT/merged.{json,md}`` and its figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from circuits.errors import AxiomError

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json")
_STEP = re.compile(r"(?:step|checkpoint)[-_]?(\d+)$", re.IGNORECASE)  # ours, and HF Trainer's


class SweepError(AxiomError):
    """The sweep cannot start: no checkpoint, or an engine that cannot be reached."""


class TaskKilled(RuntimeError):
    """The task's child process died by a signal: worth a retry (preemption, out of memory)."""


@dataclass(frozen=True)
class Task:
    """One suite run: a checkpoint at a suite seed. ``step`` orders the checkpoints of one training run."""

    checkpoint: str
    label: str
    seed: int
    step: int | None = None

    @property
    def name(self) -> str:
        return f"{self.label}-seed{self.seed}"


def expand_checkpoints(specs: Sequence[str]) -> list[tuple[str, str, int | None]]:
    """``(checkpoint, label, step)`` for each spec: a checkpoint folder, a folder of checkpoint folders (training
    steps ``step-N`` or ``checkpoint-N`` are ordered by N), or a hub id. Labels are unique."""
    found: list[tuple[str, str, int | None]] = []
    for spec in specs:
        path = Path(spec).resolve()
        if (path / "config.json").exists():
            found.append((str(path), path.name, trailing_step(path.name)))
        elif path.is_dir():
            children = [(str(c), c.name, trailing_step(c.name)) for c in path.iterdir() if (c / "config.json").exists()]
            if not children:
                raise SweepError(f"{spec} holds no checkpoint: neither it nor a folder inside it has a "
                                 "config.json. Fix: pass checkpoint folders, a folder of them, or hub ids.")
            found += sorted(children, key=lambda c: (c[2] is None, c[2] or 0, c[1]))
        elif Path(spec).exists() or spec.startswith((".", "/", "~")):
            raise SweepError(f"{spec} is not a checkpoint folder (no config.json)")
        else:
            found.append((spec, re.sub(r"[^A-Za-z0-9_.-]+", "_", spec), None))
    labels = [label for _, label, _ in found]
    if len(set(labels)) < len(labels):
        found = [(c, f"{i:02d}-{label}", step) for i, (c, label, step) in enumerate(found)]
    return found


def trailing_step(name: str) -> int | None:
    """The training step a checkpoint folder's name ends with (``step-0035``, ``checkpoint-500``), or None."""
    match = _STEP.search(name)
    return int(match.group(1)) if match else None


def fingerprint(checkpoint: str) -> str:
    """sha256 over a folder's weight and config files' hashes; for a hub id, the id itself (its revision is an
    input)."""
    from axiomtests.sources import sha256_file

    folder = Path(checkpoint)
    if not folder.is_dir():
        return f"hub:{checkpoint}"
    files = [f"{name}:{sha256_file(folder / name)}" for name in WEIGHT_FILES if (folder / name).exists()]
    return hashlib.sha256("\n".join(files).encode()).hexdigest()


def task_inputs(task: Task, run_args: Sequence[str]) -> dict[str, Any]:
    """What a task's report depends on: it is rerun when any of these changes."""
    from axiomtests.claims import REGISTRY_VERSION

    return {"checkpoint": task.checkpoint, "checkpoint_sha256": fingerprint(task.checkpoint), "seed": task.seed,
            "claims_registry": REGISTRY_VERSION, "run_args": list(run_args)}


def run_task(task: Task, out: str, run_args: Sequence[str], extra_env: dict[str, str] | None = None
             ) -> dict[str, Any]:
    """Run one task's suite in a child process; its outcome. Raises :class:`TaskKilled` when the child dies by a
    signal, so that the engine may retry it."""
    folder = Path(out) / task.name
    inputs = task_inputs(task, run_args)
    record = folder / "task.json"
    if (folder / "report.json").exists() and record.exists() and json.loads(record.read_text()).get("inputs") == inputs:
        return outcome(task, "skipped", report=str(folder / "report.json"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "axiomtests.cli", "run", f"--checkpoint={task.checkpoint}", f"--out={folder}",
            f"--seed={task.seed}", *run_args]
    start = time.perf_counter()
    with open(folder / "run.log", "w") as logfile:
        child = subprocess.run(argv, stdout=logfile, stderr=subprocess.STDOUT, env={**os.environ, **(extra_env or {})},
                               check=False)
    seconds = round(time.perf_counter() - start, 1)
    if child.returncode < 0:
        raise TaskKilled(f"{task.name}: the suite was killed by {signal.Signals(-child.returncode).name} "
                         f"(log: {folder / 'run.log'})")
    report = folder / "report.json"
    status = "done" if report.exists() and child.returncode in (0, 1) else "failed"
    result = outcome(task, status, returncode=child.returncode, seconds=seconds,
                     report=str(report) if report.exists() else None)
    if status == "failed":
        result["reason"] = f"exit {child.returncode}; the last lines of {folder / 'run.log'}: " + _tail(folder)
    else:
        record.write_text(json.dumps({"inputs": inputs, "seconds": seconds}, indent=2, sort_keys=True) + "\n")
    return result


def _tail(folder: Path, lines: int = 3) -> str:
    text = (folder / "run.log").read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


def outcome(task: Task, status: str, **fields: Any) -> dict[str, Any]:
    """A task's record in ``sweep.json``: the task, its status (done, skipped, failed) and what else is known."""
    return {**asdict(task), "name": task.name, "status": status, "report": None, **fields}


def failed(task: Task, reason: str) -> dict[str, Any]:
    """The outcome of a task the engine gave up on."""
    return outcome(task, "failed", reason=reason)


def run_serial(tasks: Sequence[Task], out: str, run_args: Sequence[str]) -> list[dict[str, Any]]:
    """The tasks one after the other in this process's children; a failure does not stop the others."""
    outcomes = []
    for i, task in enumerate(tasks, 1):
        log.info("task %d/%d: %s", i, len(tasks), task.name)
        try:
            outcomes.append(run_task(task, out, run_args))
        except TaskKilled as exc:
            outcomes.append(failed(task, _first_line(exc)))
        log.info("task %s: %s", task.name, outcomes[-1]["status"])
    return outcomes


def run_ray(tasks: Sequence[Task], out: str, run_args: Sequence[str], address: str | None, workers: int | None,
            retries: int) -> list[dict[str, Any]]:
    """The tasks on Ray: local (``workers`` CPUs) or the cluster at ``address``; one GPU per task where the cluster
    has GPUs (the suite then runs with ``--device=cuda``)."""
    import ray

    if address is None:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        args = [*run_args, "--device=cuda"] if gpus and not any(a.startswith("--device") for a in run_args) \
            else list(run_args)
        threads = {"OMP_NUM_THREADS": "1"} if not gpus else {}
        remote = ray.remote(run_task).options(num_cpus=1, num_gpus=1 if gpus else 0, max_retries=retries,
                                              retry_exceptions=[TaskKilled])
        refs = {remote.remote(task, out, args, threads): task for task in tasks}
        log.info("ray: %d tasks on %s", len(tasks), ray.cluster_resources())
        outcomes = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            task = refs[done[0]]
            try:
                outcomes[task] = ray.get(done[0])
            except Exception as exc:  # the task's error, or the engine's (worker lost): recorded, not raised
                outcomes[task] = failed(task, _first_line(exc))
            log.info("task %s: %s (%d left)", task.name, outcomes[task]["status"], len(pending))
        return [outcomes[task] for task in tasks]
    finally:
        ray.shutdown()


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc  # Ray wraps the task's own exception as ``cause``
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"


def engine_available() -> bool:
    """Whether Ray is installed (the ``sweep`` extra)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def sweep(checkpoints: Sequence[str], seeds: Sequence[int], out: str | Path, run_args: Sequence[str] = (),
          engine: str = "auto", address: str | None = None, workers: int | None = None, retries: int = 1
          ) -> dict[str, Any]:
    """Run every (checkpoint, seed) task and write ``OUT/sweep.json`` with each task's outcome; returns it."""
    tasks = [Task(c, label, seed, step) for c, label, step in expand_checkpoints(checkpoints) for seed in seeds]
    if not tasks:
        raise SweepError("nothing to sweep: pass at least one checkpoint and one seed")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if engine == "auto":
        engine = "ray" if engine_available() else "serial"
        if engine == "serial":
            log.warning("Ray is not installed (pip install 'axiomtests[sweep]'): running %d tasks one after the "
                        "other", len(tasks))
    elif engine == "ray" and not engine_available():
        raise SweepError("--engine ray needs Ray: pip install 'axiomtests[sweep]'")
    start = time.perf_counter()
    if engine == "ray":
        outcomes = run_ray(tasks, str(out), run_args, address, workers, retries)
    else:
        outcomes = run_serial(tasks, str(out), run_args)
    result = {"engine": engine, "tasks": outcomes, "seconds": round(time.perf_counter() - start, 1)}
    (out / "sweep.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
