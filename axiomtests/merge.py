"""One comparison of many runs: claims × checkpoints, seeds pooled, from a sweep folder or any report files.

Reports of one checkpoint (same weights) under several suite seeds are pooled as ``axiomtests stability`` pools
them: the value is the seeds' mean, its noise the larger of the seeds' spread and the runs' bootstrap SE, the
interval ±1.96 noise, and the verdict ``pass``/``fail`` when every seed agrees, else ``mixed``. One seed keeps its
run's value, interval and verdict. Checkpoints named ``step-N`` or ``checkpoint-N`` are training steps:
they are ordered by it, and ``merged-steps.png`` plots each claim's value and interval against the step. A sweep's
failed tasks stay in the table as failed cells with their reason. Nothing time-dependent is written, so the same
reports give byte-identical files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axiomtests.claims import CLAIMS, Threshold
from axiomtests.stability import Z95, claim_stability
from circuits.report import ClaimResult, Report, load_report

VERDICT_SHADE = {"pass": 1.0, "mixed": 0.5, "fail": 0.0}


@dataclass
class Column:
    """One checkpoint: its runs (one per seed) and the tasks that produced no report."""

    label: str
    checkpoint: str
    weights_sha256: str | None
    step: int | None
    runs: list[Report] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def card_ndcg(self) -> float | None:
        """Held-out nDCG@10 from the model card axiomtests builds write beside a checkpoint, if any."""
        card = Path(self.checkpoint) / "model_card.json"
        if not card.is_file():
            return None
        ndcg = json.loads(card.read_text()).get("ndcg@10")
        if isinstance(ndcg, dict) and isinstance(ndcg.get("citations"), dict):  # recipe 2: by label set
            ndcg = ndcg["citations"]
        return ndcg.get("cross_encoder") if isinstance(ndcg, dict) else ndcg


def pooled_cell(results: Sequence[ClaimResult]) -> dict[str, Any]:
    """One claim on one checkpoint over its seeds: value, interval, verdict (and each seed's)."""
    values = [r.value for r in results]
    verdicts = [r.status for r in results]
    verdict = verdicts[0] if len(set(verdicts)) == 1 else "mixed"
    if len(results) == 1:
        r = results[0]
        return {"value": r.value, "ci": list(r.ci) if r.ci else None, "verdict": verdict, "verdicts": verdicts,
                "values": values, "seeds": 1}
    cell: dict[str, Any] = {"verdict": verdict, "verdicts": verdicts, "values": values, "seeds": len(results)}
    known = [v for v in values if v is not None and math.isfinite(v)]
    cell["value"] = sum(known) / len(known) if known else None
    if results[0].id in CLAIMS and set(verdicts) <= {"pass", "fail"} and len(known) == len(values):
        stab = claim_stability(results)
        cell["ci"] = [cell["value"] - Z95 * stab.noise, cell["value"] + Z95 * stab.noise]
        cell["stable"] = stab.stable
    else:
        cell["ci"] = None
    return cell


def columns_from(reports: Sequence[tuple[str, Report]], sweep: dict[str, Any] | None = None) -> list[Column]:
    """Group reports by checkpoint (label from the sweep, else weights hash); add the sweep's failed tasks."""
    from axiomtests.sweep import trailing_step

    tasks = {t["report"]: t for t in (sweep or {}).get("tasks", []) if t.get("report")}
    columns: dict[str, Column] = {}
    for path, report in reports:
        task = tasks.get(path)
        name = report.checkpoint.get("name", "?")
        label = task["label"] if task else Path(name).name or name
        key = task["label"] if task else report.checkpoint.get("weights_sha256") or name
        step = task["step"] if task else trailing_step(Path(name).name)
        column = columns.setdefault(key, Column(label, name, report.checkpoint.get("weights_sha256"), step))
        column.runs.append(report)
    for task in (sweep or {}).get("tasks", []):
        if task["status"] == "failed":
            column = columns.setdefault(task["label"], Column(task["label"], task["checkpoint"], None, task["step"]))
            column.failed.append({"seed": task["seed"], "reason": task.get("reason", "")})
    ordered = list(columns.values())
    if ordered and all(c.step is not None for c in ordered):
        ordered.sort(key=lambda c: c.step)
    labels = [c.label for c in ordered]
    if len(set(labels)) < len(labels):
        for c in ordered:
            c.label = f"{c.label}@{(c.weights_sha256 or '?')[:8]}"
    return ordered


def merge(columns: Sequence[Column]) -> dict[str, Any]:
    """The merged comparison as data: checkpoints, and per claim one cell per checkpoint."""
    ids = sorted({c.id for col in columns for r in col.runs for c in r.claims})
    claims = []
    for claim_id in ids:
        cells = {}
        for col in columns:
            found = [(r.environment.get("seed"), c) for r in col.runs for c in r.claims if c.id == claim_id]
            if found:
                cells[col.label] = {**pooled_cell([c for _, c in found]), "seed_list": [seed for seed, _ in found]}
            else:
                cells[col.label] = {"verdict": "failed" if col.failed else "not run"}
        threshold = CLAIMS[claim_id].threshold if claim_id in CLAIMS else None
        claims.append({"id": claim_id, "threshold": str(threshold) if threshold else None, "cells": cells})
    return {"checkpoints": [{"label": c.label, "checkpoint": c.checkpoint, "weights_sha256": c.weights_sha256,
                             "step": c.step, "seeds": [r.environment.get("seed") for r in c.runs],
                             "failed": c.failed, "ndcg@10": c.card_ndcg()} for c in columns],
            "claims": claims}


def _cell_text(cell: dict[str, Any]) -> str:
    if "value" not in cell:
        return cell["verdict"]
    text = cell["verdict"]
    if cell["value"] is not None:
        text += f" {cell['value']:.3g}"
    if _interval(cell):
        text += f" [{cell['ci'][0]:.3g}, {cell['ci'][1]:.3g}]"
    if cell["seeds"] > 1:
        text += f" ({cell['verdicts'].count('pass')}/{cell['seeds']} seeds pass)"
    return text


def to_markdown(merged: dict[str, Any]) -> str:
    """The claims × checkpoints table, nDCG where known, and the failed tasks with their reasons."""
    from tabulate import tabulate

    labels = [c["label"] for c in merged["checkpoints"]]
    rows = [[c["id"], c["threshold"] or "", *(_cell_text(c["cells"][label]) for label in labels)]
            for c in merged["claims"]]
    if any(c["ndcg@10"] is not None for c in merged["checkpoints"]):
        rows.append(["held-out nDCG@10 (model card)", "",
                     *(f"{c['ndcg@10']:.3f}" if c["ndcg@10"] is not None else "" for c in merged["checkpoints"])])
    headers = ["claim", "threshold", *labels]
    lines = ["# axiomtests: claims across checkpoints", "",
             "Cells: verdict, value and 95% interval (one seed: the run's bootstrap; several: mean ± 1.96 × the "
             "larger of the seeds' spread and the runs' SE, as `axiomtests stability`).", "",
             tabulate(rows, headers=headers, tablefmt="github")]
    seeds = [f"- `{c['label']}`: {c['checkpoint']} (seeds {', '.join(map(str, c['seeds'])) or 'none'})"
             for c in merged["checkpoints"]]
    lines += ["", "## Checkpoints", "", *seeds]
    failures = [f"- `{c['label']}` seed {f['seed']}: {f['reason']}" for c in merged["checkpoints"] for f in c["failed"]]
    if failures:
        lines += ["", "## Failed tasks", "", *failures]
    return "\n".join(lines) + "\n"


def heatmap(merged: dict[str, Any], out: Path) -> Path:
    """Claims × checkpoints: colour by verdict (green pass, amber mixed seeds, red fail, grey none), value printed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [c["label"] for c in merged["checkpoints"]]
    ids = [c["id"] for c in merged["claims"]]
    shade = np.array([[VERDICT_SHADE.get(c["cells"][label]["verdict"], np.nan) for label in labels]
                      for c in merged["claims"]], dtype=float)
    fig, ax = plt.subplots(figsize=(2.0 + 1.3 * len(labels), 1.0 + 0.36 * len(ids)))
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#cccccc")
    ax.imshow(np.ma.masked_invalid(shade), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, claim in enumerate(merged["claims"]):
        for j, label in enumerate(labels):
            cell = claim["cells"][label]
            text = f"{cell['value']:.2g}" if cell.get("value") is not None else cell["verdict"]
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(ids)), ids, fontsize=8)
    ax.set_title("verdicts (colour) and values across checkpoints", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120, metadata={"Software": None})
    plt.close(fig)
    return out


def step_plot(merged: dict[str, Any], out: Path) -> Path | None:
    """Each claim's value and interval against the training step, its threshold dashed; None when the
    checkpoints are not ordered steps."""
    checkpoints = merged["checkpoints"]
    if len(checkpoints) < 2 or any(c["step"] is None for c in checkpoints):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*merged["claims"], *([None] if any(c["ndcg@10"] is not None for c in checkpoints) else [])]
    cols = 4
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    steps = [c["step"] for c in checkpoints]
    colour = {"pass": "tab:green", "fail": "tab:red", "mixed": "tab:orange"}
    for ax, claim in zip(axes.flat, panels):
        if claim is None:
            ax.plot(steps, [c["ndcg@10"] for c in checkpoints], "o-", color="k")
            ax.set_title("held-out nDCG@10", fontsize=8)
            continue
        cells = [claim["cells"][c["label"]] for c in checkpoints]
        xs = [s for s, cell in zip(steps, cells) if cell.get("value") is not None]
        ys = [cell["value"] for cell in cells if cell.get("value") is not None]
        ax.plot(xs, ys, "-", color="0.6")
        for s, cell in zip(steps, cells):
            if cell.get("value") is None:
                continue
            lo, hi = _interval(cell) or (cell["value"], cell["value"])
            ax.errorbar([s], [cell["value"]], yerr=[[cell["value"] - lo], [hi - cell["value"]]], fmt="o",
                        color=colour.get(cell["verdict"], "0.3"), capsize=2, markersize=4)
        if claim["threshold"]:
            ax.axhline(Threshold.parse(claim["threshold"]).bound, linestyle="--", color="0.4", linewidth=0.8)
        ax.set_title(claim["id"], fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.supxlabel("training step", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out


def _interval(cell: dict[str, Any]) -> tuple[float, float] | None:
    """A cell's interval when both ends are known (a degenerate bootstrap leaves them out)."""
    ci = cell.get("ci")
    return (ci[0], ci[1]) if ci and ci[0] is not None and ci[1] is not None else None


def reports_in(paths: Sequence[str | Path]) -> tuple[list[tuple[str, Report]], dict[str, Any] | None]:
    """The reports named by ``paths``: report files, or a sweep folder (its ``sweep.json`` tasks)."""
    reports: list[tuple[str, Report]] = []
    sweep = None
    for path in map(Path, paths):
        if path.is_dir() and (path / "sweep.json").exists():
            sweep = json.loads((path / "sweep.json").read_text())
            reports += [(t["report"], load_report(t["report"])) for t in sweep["tasks"]
                        if t.get("report") and t["status"] != "failed"]  # a failed task's report may be partial
        elif path.is_dir():
            reports += [(str(p), load_report(p)) for p in sorted(path.glob("*/report.json"))]
        else:
            reports.append((str(path), load_report(path)))
    return reports, sweep


def write_merged(paths: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Merge and write ``merged.json``, ``merged.md``, ``merged-heatmap.png`` (and ``merged-steps.png``) in ``out``."""
    reports, sweep = reports_in(paths)
    merged = merge(columns_from(reports, sweep))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    merged["figures"] = [heatmap(merged, out / "merged-heatmap.png").name]
    steps = step_plot(merged, out / "merged-steps.png")
    if steps is not None:
        merged["figures"].append(steps.name)
    markdown = to_markdown(merged) + "".join(f"\n![{name}]({name})\n" for name in merged["figures"])
    (out / "merged.json").write_text(json.dumps(merged, indent=2, sort_keys=True, allow_nan=False) + "\n")
    (out / "merged.md").write_text(markdown)
    return merged
