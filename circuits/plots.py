"""Figures for the report (matplotlib, Agg backend: no display needed): heatmaps of patching effects and
curves over a perturbation level (saturation, length, U0 editing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from circuits.patching import PatchResult


def plot_effects(result: PatchResult, path: str | Path, title: str | None = None) -> Path:
    """Write ``result.effect`` as a PNG: a bar chart for 1 axis, a heatmap for 2, one heatmap per leading
    index (component, or layer of ``[layer, head, pos]``) for 3. Colours are centred on 0 (red = the patch moves
    the score towards the perturbed one). Returns the path written.

    Examples:
        >>> plot_effects(path_patch(model, pairs), "path_to_logit.png")                       # doctest: +SKIP
        PosixPath('path_to_logit.png')
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    effect = np.asarray(result.effect, dtype=float)
    limit = float(np.nanmax(np.abs(effect))) if np.isfinite(effect).any() else 1.0
    limit = limit or 1.0
    heading = title or (f"{result.kind} patching ({', '.join(result.sites)}): {result.n_pairs} pairs, "
                        f"{result.n_dropped} dropped")
    if effect.ndim == 1:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * effect.size), 3.5))
        ax.bar(range(effect.size), effect, yerr=_error_bars(result), color="tab:red", capsize=3)
        ax.set_xticks(range(effect.size), [str(c) for c in result.coords[result.axes[0]]], rotation=45,
                      ha="right")
        ax.set_ylabel("effect")
        ax.set_title(heading, fontsize=9)
    else:
        planes = effect[None] if effect.ndim == 2 else effect
        fig, axes = plt.subplots(len(planes), 1, figsize=(max(5.0, 0.12 * planes.shape[-1] + 3), 2.2 + 2.4 *
                                                          len(planes)), squeeze=False)
        lead = result.axes[0] if effect.ndim == 3 else None
        for i, (ax, plane) in enumerate(zip(axes[:, 0], planes)):
            image = ax.imshow(plane, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                              interpolation="nearest")
            ax.set_ylabel(result.axes[-2])
            ax.set_xlabel(result.axes[-1])
            ax.set_yticks(range(plane.shape[0]), [str(c) for c in result.coords[result.axes[-2]]])
            if lead is not None:
                ax.set_title(f"{lead} {result.coords[lead][i]}", fontsize=9)
            fig.colorbar(image, ax=ax, label="effect")
        fig.suptitle(heading, fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _error_bars(result: PatchResult) -> np.ndarray:
    effect, low, high = (np.nan_to_num(np.asarray(a, dtype=float)) for a in
                         (result.effect, result.ci_low, result.ci_high))
    return np.stack([np.clip(effect - low, 0, None), np.clip(high - effect, 0, None)])


def plot_curves(x: Sequence[float], curves: Mapping[str, np.ndarray], path: str | Path, *, title: str,
                xlabel: str, ylabel: str) -> Path:
    """Write one line per curve as a PNG. A curve is ``[len(x)]`` values, or ``[n, len(x)]`` rows (one per
    query), drawn as the mean with a shaded 95% normal band (± 1.96 standard errors). Returns the path written.

    Examples:
        >>> plot_curves(range(4), {"appended": scores}, "tfc2.png", title="TFC2", xlabel="k",
        ...             ylabel="mean score")                                                  # doctest: +SKIP
        PosixPath('tfc2.png')
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.asarray(x, dtype=float)
    fig, ax = plt.subplots(figsize=(5.0, 3.5))
    for label, values in curves.items():
        rows = np.atleast_2d(np.asarray(values, dtype=float))
        if rows.shape[1] != xs.size:
            raise ValueError(f"curve {label!r} has {rows.shape[1]} points for {xs.size} x values")
        mean = rows.mean(0)
        line, = ax.plot(xs, mean, marker="o", label=f"{label} (n={len(rows)})" if len(rows) > 1 else label)
        if len(rows) > 1:
            half = 1.96 * rows.std(0, ddof=1) / np.sqrt(len(rows))
            ax.fill_between(xs, mean - half, mean + half, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
